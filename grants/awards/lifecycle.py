"""The lifecycles of the post-award aggregates: awards, payments (disbursements) and progress reports.

Each section holds the status enum (a ``StrEnum``: the stored values are the strings the database
has always held), the moves the table allows, and the refusal a user reads for a move it does not.
``transition`` is the one function that changes a status: it locks the row, checks the move
against the table, sets it, writes the audit event and queues the notification.

This is the only module that spells these statuses; everything else reads the enums or the
model predicates (``award.is_open``, ``disbursement.is_pending``, ``report.is_outstanding``…).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from grants.accounts.models import User
from grants.audit.services import record_event
from grants.db import Status, lock_row
from grants.errors import DomainError


class AwardStatus(Status):
    PENDING_AGREEMENT = "pending_agreement"
    ACTIVE = "active"
    CLOSED = "closed"
    TERMINATED = "terminated"


class DisbursementStatus(Status):
    REQUESTED = "requested"
    APPROVED = "approved"
    PAID = "paid"
    VOID = "void"


class ReportStatus(Status):
    DUE = "due"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REVISION_REQUESTED = "revision_requested"




# Awards: pending_agreement → active → (closed | terminated); a pending award may be terminated too.

OPEN_AWARD = (AwardStatus.PENDING_AGREEMENT, AwardStatus.ACTIVE)

AWARD_TRANSITIONS: dict[AwardStatus, frozenset[AwardStatus]] = {
    AwardStatus.PENDING_AGREEMENT: frozenset({AwardStatus.ACTIVE, AwardStatus.TERMINATED}),
    AwardStatus.ACTIVE: frozenset({AwardStatus.CLOSED, AwardStatus.TERMINATED}),
    AwardStatus.CLOSED: frozenset(),
    AwardStatus.TERMINATED: frozenset(),
}

_AWARD_EVENTS = {AwardStatus.ACTIVE: "award.activated", AwardStatus.CLOSED: "award.closed", AwardStatus.TERMINATED: "award.terminated"}

_AWARD_REFUSALS = {
    AwardStatus.ACTIVE: "Award {n} is {status}; only an award pending agreement can be activated.",
    AwardStatus.CLOSED: "Award {n} is {status}; only an active award can be closed out.",
    AwardStatus.TERMINATED: "Award {n} is already {status}.",
}


# Payments: requested → approved → paid, or void (a paid payment of an open award can still be voided).

PENDING_PAYMENT = (DisbursementStatus.REQUESTED, DisbursementStatus.APPROVED)
NON_VOID = (DisbursementStatus.REQUESTED, DisbursementStatus.APPROVED, DisbursementStatus.PAID)

DISBURSEMENT_TRANSITIONS: dict[DisbursementStatus, frozenset[DisbursementStatus]] = {
    DisbursementStatus.REQUESTED: frozenset({DisbursementStatus.APPROVED, DisbursementStatus.VOID}),
    DisbursementStatus.APPROVED: frozenset({DisbursementStatus.PAID, DisbursementStatus.VOID}),
    DisbursementStatus.PAID: frozenset({DisbursementStatus.VOID}),
    DisbursementStatus.VOID: frozenset(),
}

_DISBURSEMENT_EVENTS = {DisbursementStatus.APPROVED: "payment.approved", DisbursementStatus.PAID: "payment.paid",
                        DisbursementStatus.VOID: "payment.voided"}

_DISBURSEMENT_REFUSALS = {
    DisbursementStatus.APPROVED: "This payment is {status}; only a requested payment can be approved.",
    DisbursementStatus.PAID: "This payment is {status}; only an approved payment can be marked paid.",
    DisbursementStatus.VOID: "This payment is already void.",
}


# Progress reports: due → submitted → (accepted | revision_requested); a revised report is submitted again.

OUTSTANDING_REPORT = (ReportStatus.DUE, ReportStatus.REVISION_REQUESTED)

REPORT_TRANSITIONS: dict[ReportStatus, frozenset[ReportStatus]] = {
    ReportStatus.DUE: frozenset({ReportStatus.SUBMITTED}),
    ReportStatus.SUBMITTED: frozenset({ReportStatus.ACCEPTED, ReportStatus.REVISION_REQUESTED}),
    ReportStatus.REVISION_REQUESTED: frozenset({ReportStatus.SUBMITTED}),
    ReportStatus.ACCEPTED: frozenset(),
}

_REPORT_EVENTS = {ReportStatus.SUBMITTED: "report.submitted", ReportStatus.ACCEPTED: "report.accepted",
                  ReportStatus.REVISION_REQUESTED: "report.revision_requested"}

_REPORT_REFUSALS = {
    ReportStatus.SUBMITTED: "This report is {status} and cannot be changed.",
    ReportStatus.ACCEPTED: "This report is {status}; only a submitted report can be reviewed.",
    ReportStatus.REVISION_REQUESTED: "This report is {status}; only a submitted report can be reviewed.",
}


# The one way to change a status ---------------------------------------------------------------

_TABLES: dict[type[Status], tuple[Mapping, Mapping, Mapping]] = {
    AwardStatus: (AWARD_TRANSITIONS, _AWARD_EVENTS, _AWARD_REFUSALS),
    DisbursementStatus: (DISBURSEMENT_TRANSITIONS, _DISBURSEMENT_EVENTS, _DISBURSEMENT_REFUSALS),
    ReportStatus: (REPORT_TRANSITIONS, _REPORT_EVENTS, _REPORT_REFUSALS),
}


def allowed(obj: Any, to: Status) -> bool:
    """Whether the table allows moving ``obj`` (an award, payment or report) to ``to`` from where it is.
    Refuses nothing: a question, not an action.
    """
    transitions, _, _ = _TABLES[type(to)]
    return to in transitions[type(to)(obj.status)]


def check_transition(obj: Any, to: Status) -> None:
    """Refuse a move the table does not allow with the message a user reads (DomainError); changes nothing.

    Call it with the row locked; ``transition`` calls it again after locking.
    """
    if not allowed(obj, to):
        _, _, refusals = _TABLES[type(to)]
        status = type(to)(obj.status)
        raise DomainError(refusals[to].format(n=getattr(obj, "award_number", ""), status=status.label.lower()))


def transition(
    obj: Any, to: Status, *, actor: User, subject: Any = None, details: dict[str, Any] | None = None,
    notify: Callable[[], None] | None = None,
) -> Status:
    """Move an award, payment or report to ``to`` and return the status it had.

    Locks the row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite writers are serialized by
    ``BEGIN IMMEDIATE``), so of two racing requests the second sees the first one's result.
    Refuses a move the table does not allow with DomainError, changing nothing. Then sets the
    status, writes the audit event (on ``subject``, the object itself unless given; ``details``
    joined by the status before and after) and calls ``notify`` to queue the notification.
    """
    lock_row(type(obj), obj.id)
    check_transition(obj, to)
    _, events, _ = _TABLES[type(to)]
    before = type(to)(obj.status)
    obj.status = to
    record_event(actor, events[to], subject if subject is not None else obj,
                 {**(details or {}), "status": {"before": before, "after": to}})
    if notify is not None:
        notify()
    return before
