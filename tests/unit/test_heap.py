"""ioc.heap.settle: the collector settings of the long-running processes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ioc.heap import OLDER_THRESHOLDS, settle
from ioc.settings import Settings


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restore_gc")
def test_settle_freezes_the_start_up_heap_and_raises_generation_0() -> None:
    gc.unfreeze()
    survivor = [object() for _ in range(10)]  # a container the collector tracks
    assert any(o is survivor for o in gc.get_objects())
    settle(20_000)
    assert gc.get_threshold() == (20_000, *OLDER_THRESHOLDS)
    # frozen: in the permanent generation, which collections (and get_objects) skip
    assert gc.get_freeze_count() > 0
    assert not any(o is survivor for o in gc.get_objects())


@pytest.mark.usefixtures("restore_gc")
def test_settle_zero_keeps_the_interpreter_defaults() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    settle(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_default_is_on_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().gc_gen0_threshold == 20_000
    monkeypatch.setenv("IOC_GC_GEN0_THRESHOLD", "0")
    assert Settings().gc_gen0_threshold == 0
    monkeypatch.setenv("IOC_GC_GEN0_THRESHOLD", "-1")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Settings()
