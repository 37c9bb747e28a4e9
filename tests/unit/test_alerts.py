"""The alert state machine: hysteresis (no storm at a threshold), clearing, escalation and
de-escalation, de-duplication of repeated and old readings, deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ioc.domain.alerts import AlertEvent, AlertState, step
from ioc.domain.catalogue import Quantity, load_catalogue

CAT = load_catalogue()
PM25 = CAT["pm25"]  # poor 50, bad 80, very_bad 150, hazardous 250; hysteresis 5
NOISE = CAT["noise"]  # noisy 70, very_noisy 85; hysteresis 3
T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def run(
    values: list[float], quantity: Quantity = PM25, state: AlertState | None = None, start: int = 0
) -> tuple[AlertState | None, list[AlertEvent]]:
    events: list[AlertEvent] = []
    for i, value in enumerate(values, start=start):
        state, fired = step(state, "hp-aq-1", T0 + timedelta(minutes=i), value, quantity)
        events += fired
    return state, events


def kinds(events: list[AlertEvent]) -> list[tuple[str, str]]:
    return [(e.kind, e.level) for e in events]


def test_below_every_level_nothing_happens_but_time_is_remembered() -> None:
    state, events = run([10, 20, 49.9])
    assert events == [] and state is not None
    assert state.alert_id is None and state.last_time == T0 + timedelta(minutes=2)


def test_hovering_at_a_threshold_gives_one_alert_not_a_storm() -> None:
    state, events = run([49, 50, 49, 51, 48.5, 50.5, 46, 52, 45])
    assert kinds(events) == [("raised", "poor")]
    assert state is not None and state.alert_id == events[0].alert_id
    assert state.peak == 52


def test_it_clears_only_below_threshold_minus_hysteresis() -> None:
    state, events = run([55, 45, 44.9])
    assert kinds(events) == [("raised", "poor"), ("cleared", "poor")]
    cleared = events[1]
    assert cleared.alert_id == events[0].alert_id and cleared.value == 44.9
    assert cleared.peak == 55 and cleared.raised_at == T0
    assert state is not None and state.alert_id is None


def test_escalation_and_de_escalation_are_level_changes_with_hysteresis() -> None:
    # 78/76 stay bad (band 75), 146 stays very_bad (band 145), 60 drops straight to poor
    _state, events = run([60, 85, 78, 76, 74.9, 155, 146, 60, 30])
    assert kinds(events) == [
        ("raised", "poor"),
        ("level_changed", "bad"),
        ("level_changed", "poor"),
        ("level_changed", "very_bad"),
        ("level_changed", "poor"),
        ("cleared", "poor"),
    ]
    assert {e.alert_id for e in events} == {events[0].alert_id}
    assert [e.severity for e in events][:2] == [2, 3]
    assert events[-1].peak == 155


def test_falling_more_than_one_level_lands_inside_the_right_band() -> None:
    _, events = run([160, 77])  # 77 is within bad's band (80 - 5), not poor
    assert kinds(events) == [("raised", "very_bad"), ("level_changed", "bad")]


def test_a_value_far_above_raises_the_highest_level_directly() -> None:
    _, events = run([300], quantity=PM25)
    assert kinds(events) == [("raised", "hazardous")] and events[0].severity == 5


def test_noise_levels() -> None:
    _, events = run([60, 72, 86, 83, 84, 81, 68, 66], quantity=NOISE)
    assert kinds(events) == [
        ("raised", "noisy"),
        ("level_changed", "very_noisy"),
        ("level_changed", "noisy"),
        ("cleared", "noisy"),
    ]


def test_duplicates_and_older_readings_are_ignored() -> None:
    state, _events = run([60])
    again, fired = step(state, "hp-aq-1", T0, 10, PM25)  # same time: a duplicate
    assert fired == [] and again == state
    older, fired = step(state, "hp-aq-1", T0 - timedelta(hours=1), 10, PM25)
    assert fired == [] and older == state


def test_replaying_the_same_readings_gives_the_same_ids() -> None:
    _, first = run([60, 90, 20])
    _, second = run([60, 90, 20])
    assert [(e.alert_id, e.event_id) for e in first] == [(e.alert_id, e.event_id) for e in second]
    assert len({e.event_id for e in first}) == 3


def test_a_new_alert_after_a_clear_has_a_new_id() -> None:
    _, events = run([60, 10, 60])
    raised = [e for e in events if e.kind == "raised"]
    assert len(raised) == 2 and raised[0].alert_id != raised[1].alert_id


def test_quantities_without_levels_never_alert() -> None:
    state, events = step(None, "hp-aq-1", T0, 3999, CAT["so2"])
    assert (state, events) == (None, [])


def test_a_restored_active_state_continues_the_same_alert() -> None:
    state, events = run([90])
    assert state is not None
    restored = AlertState(
        last_time=state.last_time,
        alert_id=state.alert_id,
        level=state.level,
        raised_at=state.raised_at,
        peak=state.peak,
    )
    _, later = run([40], state=restored, start=5)
    assert kinds(later) == [("cleared", "bad")] and later[0].alert_id == events[0].alert_id
