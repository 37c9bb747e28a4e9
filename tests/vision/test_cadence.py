"""The cadence rules: which frames tick and which go into the evidence ring, from stream
times alone, so a grabber thread can pass over the rest before converting them."""

from __future__ import annotations

import random

from vision.cadence import Spacing, TickClock, frame_filter


def test_ticks_keep_their_rate_on_a_jittery_stream() -> None:
    clock = TickClock(0.2)
    assert [clock.take(t) for t in (0.0, 0.1, 0.2, 0.25, 0.4)] == [True, False, True, False, True]
    jittery = [round(i * 0.04 + (0.012 if i % 3 == 1 else 0.0), 3) for i in range(250)]  # 10 s
    clock = TickClock(0.2)
    ticks = [t for t in jittery if clock.take(t)]
    assert len(ticks) == 50  # 5 a second, not fewer: the next tick is due from the last due time


def test_a_stream_that_jumps_ahead_ticks_once_then_resumes() -> None:
    clock = TickClock(0.2)
    assert clock.take(0.0) and clock.take(0.2)
    assert clock.take(3.0)  # a 2.8 s gap (stall, reconnection): one tick, no burst after it
    assert not clock.take(3.1) and clock.take(3.2)


def test_spacing_takes_at_most_one_frame_per_interval() -> None:
    ring = Spacing(0.1)
    taken = [t for t in (0.0, 0.04, 0.08, 0.1, 0.13, 0.2, 0.31, 0.4, 0.41) if ring.take(t)]
    assert taken == [0.0, 0.1, 0.2, 0.31, 0.41]


def test_filter_wants_exactly_the_ticks_and_the_ring_frames() -> None:
    rng = random.Random(7)
    times, t = [], 0.0
    for _ in range(600):  # a variable frame rate with repeated frames, like the sample clips
        t += rng.choice([0.0333, 0.04, 0.05, 0.001, 0.08])
        times.append(round(t, 4))
    want = frame_filter(0.2, 10.0)
    wanted = [t for t in times if want(t, 0)]
    clock, ring = TickClock(0.2), Spacing(0.1)  # what the pipeline decides on what arrives
    used = []
    for t in wanted:
        tick, kept = clock.take(t), ring.take(t)
        if tick or kept:
            used.append(t)
    assert used == wanted  # nothing wanted goes unused
    clock, ring = TickClock(0.2), Spacing(0.1)  # ... and nothing passed over would be used
    everything = [t for t in times if clock.take(t) | ring.take(t)]
    assert everything == wanted and len(wanted) < 0.6 * len(times)


def test_after_a_break_the_first_frame_ticks_and_the_filter_agrees() -> None:
    clock = TickClock(0.2)
    assert [clock.take(t) for t in (0.0, 0.2, 0.3)] == [True, True, False]
    clock.restart()  # a looping file wrapped: its next pass starts like a new stream
    assert [clock.take(t) for t in (0.33, 0.4, 0.53)] == [True, False, True]
    want = frame_filter(0.2, 1.0)
    assert [want(t, 0) for t in (0.0, 0.1, 0.2, 0.3)] == [True, False, True, False]
    assert [want(t, 1) for t in (0.33, 0.4, 0.53)] == [True, False, True]  # segment 1
