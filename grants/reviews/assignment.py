"""Who reviews what: reviewers' affiliations, assigning (one, several, or automatically), removing
and replacing assignments.

An affiliated reviewer (one who works for or with the applicant or a partner, by name) is never
assigned; a conflict declaration stays on record. Services lock the application before checking,
so two officers assigning at once end in one assignment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa

from grants.accounts.models import REVIEWER, User, UserRole
from grants.applications.models import Application
from grants.audit.services import record_event
from grants.db import lock_row
from grants.errors import DomainError
from grants.extensions import db
from grants.notifications.emails import notify
from grants.permissions import (
    can_manage_application,
    can_manage_assignment,
    require,
)
from grants.programs.models import Program
from grants.reviews.lifecycle import ReviewStatus
from grants.reviews.models import (
    ReviewAssignment,
    ReviewerAffiliation,
)
from grants.text import ngettext


def _norm(name: str) -> str:
    return " ".join(name.lower().split())


def _affiliation_names(application: Application) -> set[str]:
    """The applicant's and its partners' names, as a reviewer's affiliations are compared with them."""
    return {_norm(application.organization.legal_name)} | {_norm(p.name) for p in application.partners}


def reviewer_is_affiliated(reviewer_id: int, application: Application) -> bool:
    """Whether one of the reviewer's affiliations names the applicant or a partner (case and spacing
    aside). Refuses nothing: a question, not an action."""
    names = _affiliation_names(application)
    affiliations = db.session.scalars(
        sa.select(ReviewerAffiliation.organization_name).where(ReviewerAffiliation.user_id == reviewer_id)
    ).all()
    return any(_norm(a) in names for a in affiliations)


def set_affiliations(*, actor: User, reviewer: User, names: list[str]) -> None:
    """Replace the reviewer's affiliations with ``names`` (blank lines and repeats dropped).

    Locks the reviewer's row first: a second save at the same moment (a double click) waits, then
    replaces the first one's rows instead of inserting the same names again (a unique-key failure).
    Refuses nothing: any list of names is accepted (each cut to 200 characters). It does not check
    the actor: the route lets reviewers edit only their own.
    """
    reviewer = lock_row(User, reviewer.id)
    cleaned = sorted({" ".join(n.split())[:200] for n in names if n.strip()}, key=str.lower)
    before = sorted(db.session.scalars(sa.select(ReviewerAffiliation.organization_name).where(ReviewerAffiliation.user_id == reviewer.id)))
    db.session.execute(sa.delete(ReviewerAffiliation).where(ReviewerAffiliation.user_id == reviewer.id))
    for name in cleaned:
        db.session.add(ReviewerAffiliation(user_id=reviewer.id, organization_name=name))
    record_event(actor, "reviewer.affiliations_set", reviewer, {"affiliations": {"before": before, "after": cleaned}})
    db.session.flush()


def reviewers() -> Sequence[User]:
    """Active users holding the reviewer role, by name. Refuses nothing."""
    return db.session.scalars(
        sa.select(User).join(UserRole).where(UserRole.role == REVIEWER, User.active.is_(True)).order_by(User.name, User.id)
    ).all()


def assign_reviewer(*, actor: User, application: Application, reviewer: User) -> ReviewAssignment:
    """Assign one reviewer and tell them.

    Refuses with DomainError an application not under review, a user who is not an active reviewer,
    a reviewer affiliated with the applicant or a partner, and a reviewer already assigned (recused
    included); with NotPermitted (404) an actor who is not an officer or declared a conflict on it.

    Locks the application first, so an officer assigning the same reviewer at the same moment waits
    and then sees this assignment (a refusal), instead of failing on the unique constraint.
    """
    application = lock_row(Application, application.id)
    require(can_manage_application(actor, application))  # NotPermitted (404): not an officer, or conflicted on it
    return _assign_locked(actor=actor, application=application, reviewer=reviewer)


class AssignResult(NamedTuple):
    created: int
    refused: list[str]  # one message per pair that was not assigned, in the order tried


def assign_reviewers(*, actor: User, applications: list[Application], reviewers: list[User]) -> AssignResult:
    """Assign every reviewer to every application; a pair that may not be assigned is skipped.

    Each refused pair (DomainError from ``assign_reviewer``: not under review, not an active reviewer,
    affiliated, already assigned) is rolled back on its own (a savepoint) and its message returned
    in ``refused``; the others stand. Raises NotPermitted (404) when the actor may not manage one of
    the applications.

    Every application is locked, in id order, before the first assignment writes its audit event:
    the audit chain's lock is held to the commit, and taking a row lock after it could deadlock with
    a decision on that application waiting for the chain. Auto-assign (or another officer assigning
    an overlapping set) takes the same locks in the same order.
    """
    by_id = {a.id: a for a in applications}
    chosen = sorted(by_id)
    db.session.scalars(sa.select(Application.id).where(Application.id.in_(chosen)).order_by(Application.id).with_for_update()).all()
    created, refused = 0, []
    for application_id in chosen:
        for reviewer in reviewers:
            try:
                with db.session.begin_nested():
                    assign_reviewer(actor=actor, application=by_id[application_id], reviewer=reviewer)
                created += 1
            except DomainError as error:
                refused.append(error.message)
    return AssignResult(created, refused)


def _assign_locked(*, actor: User, application: Application, reviewer: User) -> ReviewAssignment:
    """``assign_reviewer`` once the caller holds the application's row lock."""
    _check_assignable(application, reviewer)
    assignment = _create_assignment(actor=actor, application=application, reviewer=reviewer)
    record_event(actor, "review.assigned", application, {"assignment": assignment.id, "reviewer": reviewer.email})
    return assignment


def _check_assignable(application: Application, reviewer: User, field: str | None = None) -> None:
    if not application.is_under_review:
        raise DomainError(f"{application.reference} is not under review; only eligible applications are assigned.")
    if not reviewer.has_role(REVIEWER) or not reviewer.active:
        raise DomainError(f"{reviewer.name} is not an active reviewer.", field)
    if reviewer_is_affiliated(reviewer.id, application):
        raise DomainError(f"{reviewer.name} is affiliated with the applicant or a partner of {application.reference}.", field)
    exists = db.session.scalar(sa.select(ReviewAssignment.id).where(
        ReviewAssignment.application_id == application.id, ReviewAssignment.reviewer_id == reviewer.id))
    if exists:
        raise DomainError(f"{reviewer.name} is already assigned to {application.reference}.", field)


def _create_assignment(*, actor: User, application: Application, reviewer: User) -> ReviewAssignment:
    """Insert the assignment and tell the reviewer; the caller has checked it and audits it."""
    assignment = ReviewAssignment(application_id=application.id, reviewer_id=reviewer.id, assigned_by_id=actor.id)
    db.session.add(assignment)
    db.session.flush()
    notify("review_assigned", to=reviewer.email, assignment=assignment)
    return assignment


@dataclass
class AutoAssignResult:
    created: int = 0
    unfilled: list[str] = field(default_factory=list)


def auto_assign(*, actor: User, program: Program) -> AutoAssignResult:
    """Fill every application under review up to the program's reviewers-per-application.

    Spreads the load: each slot goes to the eligible reviewer with the fewest assignments in the
    program so far (ties by name). Skips affiliated reviewers and those already assigned.

    Locks the applications under review in id order, then the program (the order of
    ``approve_above_line``; a single assignment or decision also locks its application first), and
    only then reads the existing assignments: a second auto-assign (a double click, another officer)
    waits and finds the first one's work done.

    Refuses with DomainError a round with no active reviewers; applications it cannot fill are
    listed in ``unfilled``, not refused. It does not check the actor: the route loads the program
    with ``load_program_for(..., "manage")``.
    """
    result = AutoAssignResult()
    pool = reviewers()
    if not pool:
        raise DomainError("There are no active reviewers to assign.")
    locked_ids = db.session.scalars(
        sa.select(Application.id).where(Application.program_id == program.id, Application.is_under_review)
        .order_by(Application.id).with_for_update()
    ).all()
    program = lock_row(Program, program.id)
    load = dict.fromkeys((r.id for r in pool), 0)
    counts = db.session.execute(
        sa.select(ReviewAssignment.reviewer_id, sa.func.count())
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(Application.program_id == program.id, ~ReviewAssignment.is_recused)
        .group_by(ReviewAssignment.reviewer_id)
    ).all()
    for reviewer_id, count in counts:
        if reviewer_id in load:
            load[reviewer_id] = count
    affiliations = defaultdict(set)
    for user_id, name in db.session.execute(sa.select(ReviewerAffiliation.user_id, ReviewerAffiliation.organization_name)):
        affiliations[user_id].add(_norm(name))
    applications = db.session.scalars(
        sa.select(Application).where(Application.id.in_(locked_ids), Application.is_under_review)
        .options(sa.orm.selectinload(Application.partners), sa.orm.joinedload(Application.organization))
        .order_by(Application.reference).execution_options(populate_existing=True)
    ).all()
    existing = defaultdict(set)
    for application_id, reviewer_id, status in db.session.execute(
        sa.select(ReviewAssignment.application_id, ReviewAssignment.reviewer_id, ReviewAssignment.status)
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(Application.program_id == program.id)
    ):
        existing[application_id].add((reviewer_id, status))
    by_id = {r.id: r for r in pool}
    for application in applications:
        taken = {reviewer_id for reviewer_id, _ in existing[application.id]}
        active = sum(1 for _, status in existing[application.id] if status != ReviewStatus.RECUSED)
        names = _affiliation_names(application)
        while active < program.reviewers_per_application:
            candidates = [rid for rid in load if rid not in taken and not (affiliations[rid] & names)]
            if not candidates:
                result.unfilled.append(application.reference)
                break
            chosen = min(candidates, key=lambda rid: (load[rid], by_id[rid].name, rid))
            _assign_locked(actor=actor, application=application, reviewer=by_id[chosen])
            taken.add(chosen)
            load[chosen] += 1
            active += 1
            result.created += 1
    record_event(actor, "review.auto_assigned", program, {"created": result.created, "unfilled": result.unfilled})
    return result


def remove_assignment(*, actor: User, assignment: ReviewAssignment) -> None:
    """Delete an assignment with no submitted review (and its draft scores).

    Raises DomainError for a submitted review, or for a conflict declaration, which stays on record;
    NotPermitted (404) for an actor who is not an officer or declared a conflict on the application.
    """
    application = lock_row(Application, assignment.application_id)  # as assigning does: no race with a replacement
    require(can_manage_assignment(actor, assignment))
    assignment = lock_row(ReviewAssignment, assignment.id)  # its reviewer may have just submitted
    if assignment is None:
        raise DomainError("This assignment no longer exists.")
    _check_removable(assignment)
    reviewer = assignment.reviewer
    record_event(actor, "review.unassigned", application, {"assignment": assignment.id, "reviewer": reviewer.email})
    db.session.delete(assignment)
    db.session.flush()
    _tell_unassigned(reviewer, application)


def _tell_unassigned(reviewer: User, application: Application) -> None:
    notify("review_unassigned", to=reviewer.email, application=application)


def _check_removable(assignment: ReviewAssignment) -> None:
    if assignment.is_submitted:
        raise DomainError("A submitted review cannot be removed; reopen it instead if it must change.")
    if assignment.is_conflicted:
        raise DomainError(f"{assignment.reviewer.name} declared a conflict of interest with this application; the "
                          "declaration stays on record, so the assignment cannot be removed. Assign another reviewer instead.")


def replacement_reviewers(application: Application) -> list[User]:
    """Active reviewers who could take over a review of ``application``: not affiliated with the
    applicant or its partners and not assigned to it in any way (recused reviewers included).
    Refuses nothing."""
    assigned = set(db.session.scalars(sa.select(ReviewAssignment.reviewer_id).where(ReviewAssignment.application_id == application.id)))
    names = _affiliation_names(application)
    affiliated = {user_id for user_id, name in db.session.execute(
        sa.select(ReviewerAffiliation.user_id, ReviewerAffiliation.organization_name)) if _norm(name) in names}
    return [r for r in reviewers() if r.id not in assigned and r.id not in affiliated]


def replace_assignment(*, actor: User, assignment_id: int, reviewer: User) -> ReviewAssignment:
    """Hand a review that has not been submitted to another reviewer, in one audited step.

    The outgoing assignment is removed with any draft scores, except a conflict declaration, which
    stays on record (the reviewer is recused): then the new reviewer is assigned beside it. The new
    reviewer is told, as for any assignment. Locks the application, then reads the assignment again
    (its reviewer may have just submitted). Refuses with DomainError an assignment removed
    meanwhile, a submitted review, a reviewer who may not take it (field ``reviewer_id``: the same
    reviewer, not a reviewer, affiliated, or already assigned), and a replacement beside a recused
    reviewer when the application already has its reviewers; with NotPermitted (404) an actor who
    is not an officer or declared a conflict on the application.
    """
    current = db.session.get(ReviewAssignment, assignment_id)
    if current is None:
        raise DomainError("This assignment no longer exists.")
    application = lock_row(Application, current.application_id)
    require(can_manage_assignment(actor, current))  # NotPermitted (404), as remove_assignment
    assignment = lock_row(ReviewAssignment, assignment_id)
    if assignment is None:
        raise DomainError("This assignment no longer exists.")
    if assignment.is_submitted:
        raise DomainError(f"{assignment.reviewer.name} has submitted this review, so it cannot be handed to someone else; "
                          "reopen it instead if it must change.")
    if reviewer.id == assignment.reviewer_id:
        raise DomainError(f"{reviewer.name} already has this review; choose another reviewer.", "reviewer_id")
    _check_assignable(application, reviewer, "reviewer_id")
    outgoing, previous_status = assignment.reviewer, assignment.status
    kept = assignment.is_conflicted
    if kept:
        active = db.session.execute(sa.select(sa.func.count(ReviewAssignment.id)).where(
            ReviewAssignment.application_id == application.id, ~ReviewAssignment.is_recused)).scalar_one()
        wanted = application.program.reviewers_per_application
        if active >= wanted:
            raise DomainError(ngettext(
                "%(reference)s already has %(num)d reviewer besides the recused one, as the program asks for "
                "%(wanted)d; replace or remove that reviewer instead.",
                "%(reference)s already has %(num)d reviewers besides the recused one, as the program asks for "
                "%(wanted)d; replace or remove one of them instead.",
                active, reference=application.reference, wanted=wanted))
    if not kept:
        db.session.delete(assignment)
        db.session.flush()
        _tell_unassigned(outgoing, application)
    replacement = _create_assignment(actor=actor, application=application, reviewer=reviewer)
    record_event(actor, "review.replaced", application, {
        "assignment": {"before": assignment_id, "after": replacement.id},
        "reviewer": {"before": outgoing.email, "after": reviewer.email},
        "previous_kept": kept, "previous_status": previous_status,
    })
    return replacement
