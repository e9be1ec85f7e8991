"""A program's lifecycle: draft → published → closed → archived (or back one step).

The one place that knows a program's statuses and the moves between them. ``transition`` is the
only way a program's status changes: it locks the row, checks the move against ``TRANSITIONS``,
sets it and writes the audit event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grants.audit.services import record_event
from grants.db import Status, lock_row
from grants.errors import DomainError
from grants.extensions import db

if TYPE_CHECKING:
    from grants.accounts.models import User
    from grants.programs.models import Program


class ProgramStatus(Status):
    """Stored as its value, so ``ProgramStatus.DRAFT == "draft"``."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    ARCHIVED = "archived"


LABELS: dict[str, str] = {status: status.label for status in ProgramStatus}

# Allowed moves between program statuses.
TRANSITIONS: dict[ProgramStatus, frozenset[ProgramStatus]] = {
    ProgramStatus.DRAFT: frozenset({ProgramStatus.PUBLISHED}),
    ProgramStatus.PUBLISHED: frozenset({ProgramStatus.CLOSED, ProgramStatus.DRAFT}),
    ProgramStatus.CLOSED: frozenset({ProgramStatus.ARCHIVED, ProgramStatus.PUBLISHED}),
    ProgramStatus.ARCHIVED: frozenset(),
}

# Statuses the public may read about (a closed program's page stays up).
PUBLIC = frozenset({ProgramStatus.PUBLISHED, ProgramStatus.CLOSED})
# Statuses in which a draft application may be given a deadline extension.
EXTENDABLE = PUBLIC

# How a move reads in a refusal: "A closed program cannot be archived."
_VERBS = {
    ProgramStatus.DRAFT: "returned to draft",
    ProgramStatus.PUBLISHED: "published",
    ProgramStatus.CLOSED: "closed",
    ProgramStatus.ARCHIVED: "archived",
}


def allowed_moves(status: str) -> frozenset[ProgramStatus]:
    """The statuses a program in ``status`` may move to (none for an unknown status). Refuses nothing."""
    try:
        return TRANSITIONS[ProgramStatus(status)]
    except ValueError:
        return frozenset()


def refusal(current: str, to: str) -> str | None:
    """Why a program in ``current`` cannot move to ``to``, or None when the table allows it. Refuses nothing
    itself: ``transition`` raises the message as a DomainError.
    """
    try:
        target = ProgramStatus(to)
    except ValueError:
        return "Choose one of the program statuses."
    if target in allowed_moves(current):
        return None
    now = ProgramStatus(current)
    if now == target:
        return f"The program is already {now.label.lower()}."
    again = " again" if target == ProgramStatus.PUBLISHED and now != ProgramStatus.DRAFT else ""
    article = "An" if now.label[0] in "AEIOU" else "A"
    return f"{article} {now.label.lower()} program cannot be {_VERBS[target]}{again}."


def transition(program: Program, to: str, *, actor: User) -> Program:
    """Move ``program`` to status ``to``; return the locked program.

    Locks the row before checking, so two officers moving one program end in one valid status.
    Raises DomainError (nothing changes) when the table does not allow the move
    ("An archived program cannot be published again.") or when publishing a program without
    rubric criteria.
    """
    program = lock_row(type(program), program.id)
    message = refusal(program.status, to)
    if message:
        raise DomainError(message)
    target = ProgramStatus(to)
    if target == ProgramStatus.PUBLISHED and not program.criteria:
        raise DomainError("Add at least one rubric criterion before publishing.")
    before = program.status
    program.status = target.value
    record_event(actor, "program.status_changed", program, {"status": {"before": before, "after": target.value}})
    db.session.flush()
    return program
