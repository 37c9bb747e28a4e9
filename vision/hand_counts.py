"""Line counts against counts made by hand (``tests/vision/hand_counts.yaml``); pure.

Hand counts are per line, direction and class: ``{line: {"forward": {"car": 7}, ...}}``. A
vehicle whose class is honestly ambiguous for the detector's label set (a pickup: a light
vehicle by our convention, a "truck" by COCO's, on which the weights were trained) is
written with its admissible classes joined by ``|``: ``{"car": 7, "car|truck": 1}`` is
seven cars and one vehicle that counts as right whether it comes out as a car or a truck.

The error is the number of vehicles missed plus the number counted in excess, over every
line, direction and class: a vehicle counted under the wrong class is two errors (one
missed, one extra), a count on a line that has no hand count is all error.

Example::

    err, total = count_error(counter.report(), hand["clips"][clip]["lines"])
    assert err / total <= 0.05
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DIRECTIONS = ("forward", "backward")


def _direction_error(got: Mapping[str, int], want: Mapping[str, int]) -> int:
    exact = {c: n for c, n in want.items() if "|" not in c}
    either = {c: n for c, n in want.items() if "|" in c}
    surplus = {c: got.get(c, 0) - exact.get(c, 0) for c in set(exact) | set(got)}
    missed = sum(-d for d in surplus.values() if d < 0)
    extra = {c: d for c, d in surplus.items() if d > 0}
    for classes, n in either.items():
        for c in classes.split("|"):
            take = min(n, extra.get(c, 0))
            if take:
                extra[c] -= take
                n -= take
        missed += n
    return missed + sum(extra.values())


def count_error(found: Mapping[str, Any], hand: Mapping[str, Any]) -> tuple[int, int]:
    """(vehicles missed + counted in excess, vehicles in the hand counts)."""
    err = total = 0
    for line, dirs in hand.items():
        for direction in DIRECTIONS:
            want = dirs.get(direction) or {}
            got = found.get(line, {}).get(direction, {})
            total += sum(want.values())
            err += _direction_error(got, want)
    for line in set(found) - set(hand):
        err += sum(sum(v.values()) for v in found[line].values())
    return err, total
