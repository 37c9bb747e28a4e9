"""The first steps of a new report: receive, then classify or take the citizen's category (pure).

A category the citizen chose is trusted as the routing decision (confidence 1, actor
``citizen``); otherwise the classifier's best guess routes it, or sends it to the operators'
triage queue when its confidence is below the catalogue's threshold.

Example::

    state, effects = first_route(msg, prediction, policy)
    state.status     # -> Status.ROUTED (or Status.TRIAGE)
"""

from __future__ import annotations

from ioc.feedback.intake import ReportMessage
from ioc.feedback.lifecycle import Classified, Effect, Policy, Report, apply, receive


def first_route(
    msg: ReportMessage, predicted: tuple[str, float] | None, policy: Policy
) -> tuple[Report, list[Effect]]:
    """State and effects of a new report; ``predicted`` is (category, confidence) or None."""
    state, effects = receive(msg.report_id, msg.received_at, policy)
    if msg.service_code is not None and msg.service_code in policy.catalogue.categories:
        event = Classified(
            at=msg.received_at, category=msg.service_code, confidence=1.0, actor="citizen"
        )
    elif predicted is not None:
        event = Classified(
            at=msg.received_at, category=predicted[0], confidence=predicted[1], actor="classifier"
        )
    else:
        event = Classified(at=msg.received_at, category=None, confidence=0.0, actor="classifier")
    state, more = apply(state, event, policy)
    return state, [*effects, *more]
