"""The review assignment's lifecycle: its statuses, the moves between them, and the one function
that makes a move.

    status:      assigned → in_progress → submitted      (submitted → in_progress: reopened)
                 assigned → submitted                     (saved and submitted at once)
                 assigned → recused                       (a conflict declared)
    coi_status:  pending → none | conflicted              (the reviewer's declaration, once)

Services say which move they make (``transition``); templates and queries read the model's
predicates (``assignment.is_submitted``, ``ReviewAssignment.is_open`` in SQL), never the strings.
The stored values are the enums' values, which a CHECK constraint holds the database to.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from grants.audit.services import record_event
from grants.db import Status, lock_row
from grants.errors import DomainError
from grants.extensions import db

if TYPE_CHECKING:
    from grants.accounts.models import User
    from grants.reviews.models import ReviewAssignment


class ReviewStatus(Status):
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    RECUSED = "recused"


class ConflictStatus(Status):
    PENDING = "pending"
    NONE = "none"
    CONFLICTED = "conflicted"

    @property
    def label(self) -> str:
        return {"pending": "Declaration needed", "none": "No conflict", "conflicted": "Conflict declared"}[self.value]


class DecisionOutcome(StrEnum):
    """A program officer's decision on an application. A decision is recorded once and never moves
    (a new decision is a new row), so it has no transitions; ``decisions.STATUS_AFTER`` maps it to the
    application status it leads to."""

    APPROVED = "approved"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"


TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    ReviewStatus.ASSIGNED: frozenset({ReviewStatus.IN_PROGRESS, ReviewStatus.SUBMITTED, ReviewStatus.RECUSED}),
    ReviewStatus.IN_PROGRESS: frozenset({ReviewStatus.SUBMITTED}),
    ReviewStatus.SUBMITTED: frozenset({ReviewStatus.IN_PROGRESS}),
    ReviewStatus.RECUSED: frozenset(),
}
CONFLICT_TRANSITIONS: dict[ConflictStatus, frozenset[ConflictStatus]] = {
    ConflictStatus.PENDING: frozenset({ConflictStatus.NONE, ConflictStatus.CONFLICTED}),
    ConflictStatus.NONE: frozenset(),
    ConflictStatus.CONFLICTED: frozenset(),
}
OPEN = (ReviewStatus.ASSIGNED, ReviewStatus.IN_PROGRESS)  # still to be done by the reviewer

# The wording of a refused move: what the review is now.
_NOW = {
    ReviewStatus.ASSIGNED: "has not been started",
    ReviewStatus.IN_PROGRESS: "is in progress",
    ReviewStatus.SUBMITTED: "has been submitted",
    ReviewStatus.RECUSED: "is recused (a conflict of interest was declared)",
}


def transition(assignment: ReviewAssignment, to: ReviewStatus | ConflictStatus, *, actor: User, event: str | None,
               details: dict[str, Any] | None = None, then_notify: Callable[[ReviewAssignment], None] | None = None,
               ) -> ReviewAssignment:
    """Move ``assignment`` to ``to`` (a review status, or a conflict-of-interest status).

    Locks the row and reads it afresh, then checks the move against ``TRANSITIONS`` (or
    ``CONFLICT_TRANSITIONS``): a move the table does not allow raises DomainError and changes
    nothing. Then sets the status, records ``event`` on the application (``{"assignment": id,
    **details}``; no event when ``event`` is None, for a move that is part of another one's event)
    and calls ``then_notify`` to queue the notification. Returns the locked assignment.
    """
    db.session.flush()  # the lock reads the row afresh: what the caller set before the move must not be lost
    locked = lock_row(type(assignment), assignment.id)
    if locked is None:
        raise DomainError("This assignment no longer exists.")
    if isinstance(to, ConflictStatus):
        current_coi = ConflictStatus(locked.coi_status)
        if to not in CONFLICT_TRANSITIONS[current_coi]:
            raise DomainError("You have already made your declaration for this application.")
        locked.coi_status = to.value
    else:
        current = ReviewStatus(locked.status)
        if to not in TRANSITIONS[current]:
            raise DomainError(f"This review {_NOW[current]}, so it cannot become {to.label.lower()}.")
        locked.status = to.value
    if event is not None:
        record_event(actor, event, locked.application, {"assignment": locked.id, **(details or {})})
    if then_notify is not None:
        then_notify(locked)
    return locked
