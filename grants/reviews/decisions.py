"""Decisions on applications: one at a time (``decide``) or the whole funding line
(``approve_above_line``), and what the applicant may read of them afterwards."""

from __future__ import annotations

from typing import NamedTuple, cast

import sqlalchemy as sa

from grants.accounts.models import User
from grants.applications import lifecycle as application_lifecycle
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import Application
from grants.audit.services import record_event
from grants.db import lock_row
from grants.errors import DomainError
from grants.extensions import db
from grants.money import format_money
from grants.permissions import (
    can_decide,
    can_manage_program,
    conflicted_application_ids,
    require,
)
from grants.programs import budget
from grants.programs.models import Program
from grants.reviews.lifecycle import DecisionOutcome
from grants.reviews.models import (
    APPROVED,
    DECLINED,
    OUTCOMES,
    WAITLISTED,
    Decision,
    ReviewAssignment,
    Score,
)
from grants.reviews.ranking import funding_line, standing_flags

# The status a decision puts its application in. A decision's outcome and an application's status
# are different things that happen to share words: map one to the other, never copy it across.
STATUS_AFTER: dict[str, ApplicationStatus] = {
    APPROVED: ApplicationStatus.APPROVED,
    DECLINED: ApplicationStatus.DECLINED,
    WAITLISTED: ApplicationStatus.WAITLISTED,
}


def decide(*, actor: User, application_id: int, outcome: str, approved_cents: int | None, rationale: str,
           flags_read: bool = False) -> Decision:
    """Approve (up to the requested amount), decline or waitlist, with a rationale; notify the applicant.

    Refuses with NotPermitted (404) a missing application, and an actor who is not a program officer
    or declared a conflict of interest on it; with DomainError an unknown outcome (field ``outcome``),
    an application that is not under review or waitlisted, a blank rationale (``rationale``), an
    approved amount outside $0–requested or over the budget left (``approved_amount``, the budget
    rule of ``grants.programs.budget``). Approving while the
    ranking flags the application (``standing_flags``) needs ``flags_read``, the officer's confirmation
    that they read the flags: without it DomainError (field ``flags_read``) naming them. The flags
    decided against are kept in the audit event.
    """
    application = lock_row(Application, application_id)
    require(application is not None and can_decide(actor, application))
    if outcome not in OUTCOMES:
        raise DomainError("Choose approve, decline or waitlist.", "outcome")
    if not application.is_decidable:
        # Not decidable, so the table refuses the move and gives its message.
        raise DomainError(cast(str, application_lifecycle.refusal(application, STATUS_AFTER[outcome])))
    if not rationale.strip():
        raise DomainError("Give the rationale for the decision.", "rationale")
    if outcome == APPROVED:
        if approved_cents is None:
            approved_cents = application.requested_cents
        if not 0 < approved_cents <= application.requested_cents:
            raise DomainError(f"The approved amount must be more than $0 and at most the requested {format_money(application.requested_cents)}.", "approved_amount")
        program = lock_row(Program, application.program_id)
        remaining = budget.remaining_cents(program)
        if approved_cents > remaining:
            raise DomainError(
                f"Approving {format_money(approved_cents)} would exceed the program budget: "
                f"{format_money(remaining)} of {format_money(program.total_budget_cents)} remains.", "approved_amount")
    else:
        approved_cents = None
    flags = standing_flags(application)
    if outcome == APPROVED and flags and not flags_read:
        raise DomainError(f"The ranking flags this application: {'; '.join(flags)}. Tick the box to confirm you have read "
                          "the flags and approve it anyway.", "flags_read")
    decision = Decision(application_id=application.id, outcome=outcome, approved_cents=approved_cents,
                        rationale=rationale.strip(), decided_by_id=actor.id)
    db.session.add(decision)
    application.approved_cents = approved_cents
    from grants.applications.services import notify_grantee

    application_lifecycle.transition(application, STATUS_AFTER[outcome], actor=actor, event="application.decided", details={
        "approved_cents": approved_cents, "rationale": decision.rationale, **({"open_flags": flags} if flags else {}),
    }, then_notify=lambda application: notify_grantee(application, {
        APPROVED: "application_approved", DECLINED: "application_declined", WAITLISTED: "application_waitlisted",
    }[DecisionOutcome(outcome)], decision=decision))
    return decision


class LineApproval(NamedTuple):
    approved: int  # applications approved
    withheld: int  # funded applications left undecided: the officer declared a conflict on them


def approve_above_line(*, actor: User, program: Program, order: str, reserve_partner_types: bool, previewed: str) -> LineApproval:
    """Approve every funded application of the funding line at its requested amount.

    ``previewed`` is the ``digest`` of the line the officer confirmed. When the line drawn now differs
    (a review submitted, a decision or an award made meanwhile) nothing is approved: DomainError
    (field ``line``), so the officer looks at the new line before confirming it.

    A funded application the actor declared a conflict of interest on is not decided through them:
    it stays under review, with its place in the budget, for a colleague to decide (``withheld``).
    Raises NotPermitted (404) for an actor who is not a program officer.
    """
    require(can_manage_program(actor, program))
    line = funding_line(program, order=order, reserve_partner_types=reserve_partner_types)
    if line.digest != previewed:
        raise DomainError("the funding line has changed since you previewed it (a review, decision or award came in "
                          "meanwhile). Check the line as it stands now, below, and confirm again.", "line")
    conflicted = conflicted_application_ids(actor)
    to_decide = [row for row in line.funded_rows if row.ranked.application_id not in conflicted]
    # Lock every funded application in id order before decide() locks the program: a single
    # decision locks its application and then the program, so taking the program first (or the
    # applications in rank order) could deadlock with an officer deciding one of them meanwhile.
    funded_ids = sorted(row.ranked.application_id for row in to_decide)
    db.session.scalars(sa.select(Application.id).where(Application.id.in_(funded_ids)).order_by(Application.id).with_for_update()).all()
    count = 0
    for row in to_decide:
        # The line's own confirmation stands for its rows (the flags are kept in each decision's audit event).
        decide(actor=actor, application_id=row.ranked.application_id, outcome=APPROVED, flags_read=True,
               approved_cents=row.ranked.requested_cents, rationale=f"Funding line ({row.reason[0].lower()}{row.reason[1:]}).")
        count += 1
    withheld = len(line.funded_rows) - len(to_decide)
    record_event(actor, "program.approved_above_line", program, {
        "approved": count, "withheld_for_conflict": withheld, "order": order, "reserve_partner_types": reserve_partner_types,
        "line": line.digest,
    })
    return LineApproval(count, withheld)


def current_decision(application: Application) -> Decision | None:
    """The decision in force (the latest), or None. Refuses nothing: the caller decides who sees it."""
    return db.session.scalars(
        sa.select(Decision).where(Decision.application_id == application.id).order_by(Decision.id.desc()).limit(1)
    ).first()


def shared_comments(application: Application) -> list[dict]:
    """Submitted reviewers' comments for the applicant, without names, when the program shares them
    and the application is decided. Refuses nothing: the caller decides who sees them."""
    if not application.program.share_reviewer_comments or not application.is_decided:
        return []
    assignments = db.session.scalars(
        sa.select(ReviewAssignment).where(ReviewAssignment.application_id == application.id, ReviewAssignment.is_submitted)
        .options(sa.orm.selectinload(ReviewAssignment.scores).joinedload(Score.criterion))
        .order_by(ReviewAssignment.id)
    ).all()
    return [
        {"label": f"Reviewer {index}", "overall": a.overall_comment,
         "criteria": [(s.criterion.name, s.comment) for s in sorted(a.scores, key=lambda s: s.criterion.position) if s.comment]}
        for index, a in enumerate(assignments, start=1)
    ]
