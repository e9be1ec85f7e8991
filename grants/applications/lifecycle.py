"""An application's lifecycle.

    draft → submitted → ineligible
                      → under_review → approved → awarded
                                     → declined
                                     → waitlisted → approved | declined | waitlisted
    submitted, under_review → withdrawn (by the applicant, until a decision)

The one place that knows an application's statuses and the moves between them. ``transition`` is
the only way an application's status changes: it locks the row, checks the move against
``TRANSITIONS``, sets it, writes the audit event and queues the notification its caller gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grants.audit.services import record_event
from grants.db import Status, lock_row
from grants.errors import DomainError
from grants.extensions import db

if TYPE_CHECKING:
    from grants.accounts.models import User
    from grants.applications.models import Application


class ApplicationStatus(Status):
    """Stored as its value, so ``ApplicationStatus.DRAFT == "draft"``."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    INELIGIBLE = "ineligible"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"
    AWARDED = "awarded"
    WITHDRAWN = "withdrawn"


S = ApplicationStatus
LABELS: dict[str, str] = {status: status.label for status in S}  # str keys: a row's plain status looks up too

# Allowed moves between application statuses.
TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTED}),
    S.SUBMITTED: frozenset({S.UNDER_REVIEW, S.INELIGIBLE, S.WITHDRAWN}),
    S.UNDER_REVIEW: frozenset({S.APPROVED, S.DECLINED, S.WAITLISTED, S.WITHDRAWN}),
    # A waiting list is not final: funds freed later let the officer approve (or decline) it.
    S.WAITLISTED: frozenset({S.APPROVED, S.DECLINED, S.WAITLISTED}),
    S.APPROVED: frozenset({S.AWARDED}),
    S.INELIGIBLE: frozenset(),
    S.DECLINED: frozenset(),
    S.AWARDED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

# Groups the pages, queries and exports ask about.
DECISIONS = frozenset({S.APPROVED, S.DECLINED, S.WAITLISTED})
DECIDABLE = frozenset(status for status, moves in TRANSITIONS.items() if moves >= DECISIONS)
WITHDRAWABLE = frozenset(status for status, moves in TRANSITIONS.items() if S.WITHDRAWN in moves)
# Eligible applications: in review or past it (ranked, scored, counted in the review statistics).
REVIEWED = frozenset({S.UNDER_REVIEW, *DECISIONS, S.AWARDED})
# A decision was recorded (the waiting list included) or the award made.
DECIDED = frozenset({*DECISIONS, S.AWARDED})
# Still waiting on the agency: screening, review or the waiting list.
IN_PROGRESS = frozenset({S.SUBMITTED, S.UNDER_REVIEW, S.WAITLISTED})
# Sent to the agency: everything but drafts and withdrawals.
REQUESTING = frozenset(set(S) - {S.DRAFT, S.WITHDRAWN})


def _refusal(application: Application, to: ApplicationStatus) -> str:
    """The message for a move the table does not allow, in the words each action used before."""
    now = application.status_label.lower()
    if to == S.SUBMITTED:
        return f"This application is {now}; nothing was changed."
    if to == S.WITHDRAWN:
        article = "An" if now[0] in "aeiou" else "A"
        return f"{article} {now} application cannot be withdrawn."
    if to in (S.UNDER_REVIEW, S.INELIGIBLE):
        return f"Only submitted applications can be screened; this one is {now}."
    if to in DECISIONS:
        return f"{application.reference} is {now}; only applications under review or waitlisted can be decided."
    if to == S.AWARDED:
        return f"Only an approved application can be awarded; {application.reference} is {now}."
    return f"A {now} application cannot become {to.label.lower()}."


def refusal(application: Application, to: str) -> str | None:
    """Why ``application`` cannot move to ``to`` now, or None when the table allows it. Refuses nothing
    itself: ``transition`` raises the message as a DomainError.
    """
    target = ApplicationStatus(to)
    if target in TRANSITIONS[ApplicationStatus(application.status)]:
        return None
    return _refusal(application, target)


def transition(application: Application, to: str, *, actor: User, event: str,
               details: dict[str, Any] | None = None, then_notify: Callable[[Application], None] | None = None,
               error: type[DomainError] = DomainError) -> Application:
    """Move ``application`` to ``to``; return the locked application.

    Locks the row before checking (a caller that locked it already keeps its lock), so two
    requests racing on one application end in one valid status. Raises ``error`` (DomainError by
    default) with the refusal message, changing nothing, when ``TRANSITIONS`` does not allow the
    move ("A declined application cannot be withdrawn."). Then sets the status, writes ``event``
    to the audit log with the before and after statuses and ``details``, and calls ``then_notify``
    with the application to queue its e-mail.
    """
    application = lock_row(type(application), application.id)
    target = ApplicationStatus(to)
    message = refusal(application, target)
    if message:
        raise error(message)
    before = application.status
    application.status = target.value
    db.session.flush()
    record_event(actor, event, application, {"status": {"before": before, "after": target.value}, **(details or {})})
    if then_notify is not None:
        then_notify(application)
    return application
