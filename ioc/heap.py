"""Garbage-collector settings for the long-running processes.

CPython's cyclic collector runs a generation-0 pass every 700 net allocations and, from time to
time, a pass over everything older. A stream worker allocates a few objects per Kafka record
(message, event, observation, row) at tens of thousands of records per second, on top of a heap
of hundreds of thousands of long-lived objects from start-up (Faust, aiokafka, psycopg,
pydantic, uvicorn and their modules). Most of the collector's time then goes to walking that
start-up heap again and again, although none of it is ever garbage.

:func:`settle` therefore, once start-up is done, collects once, moves every surviving object to
the permanent generation (:func:`gc.freeze`, which the collector skips) and raises the
generation-0 threshold so that passes are rarer and each finds mostly short-lived garbage.
Reference counting still frees acyclic objects at once, so memory use hardly changes; cycles
live a little longer. Measured on the ingest worker (``bench/ingest.py``, single-reading
messages): see the README's benchmark section.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)

# Generations 1 and 2: passes of the younger generation before the older one is collected.
OLDER_THRESHOLDS = (50, 100)


def settle(gen0_threshold: int) -> None:
    """Freeze the start-up heap and set the generation-0 threshold; 0 changes nothing."""
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0_threshold, *OLDER_THRESHOLDS)
    logger.debug(
        "gc: %d start-up objects frozen, thresholds %s", gc.get_freeze_count(), gc.get_threshold()
    )
