"""Review and scoring: assignment, the conflict-of-interest gate, scoring, ranking, decisions.

Review mathematics (DESIGN.md): a review's total is Σ (points / max × weight) / Σ weight × 100.
Spreads are population standard deviations (the square root of the mean squared deviation).
A reviewer's totals are normalised to the program's scale with z-scores unless the reviewer has
fewer than three submitted reviews in the program or no spread at all.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import sqlalchemy as sa

from grants.accounts.models import REVIEWER, Organization, User, UserRole
from grants.applications import lifecycle as application_lifecycle
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import Application, Partner
from grants.audit.services import record_event
from grants.clock import format_instant
from grants.db import lock_row, utcnow
from grants.errors import DomainError
from grants.extensions import db
from grants.text import ngettext
from grants.money import format_money
from grants.notifications.services import external_url, queue_message
from grants.permissions import (
    can_decide,
    can_manage_application,
    can_manage_assignment,
    can_manage_program,
    can_score,
    conflicted_application_ids,
    require,
)
from grants.programs.models import PARTNER_TYPES, Criterion, Program
from grants.reviews.models import (
    APPROVED,
    ASSIGNED,
    COI_CONFLICTED,
    COI_NONE,
    COI_PENDING,
    DECLINED,
    IN_PROGRESS,
    OUTCOMES,
    RECOMMENDATIONS,
    RECUSED,
    SUBMITTED,
    WAITLISTED,
    Decision,
    ReviewAssignment,
    ReviewerAffiliation,
    Score,
)

MIN_REVIEWS_TO_NORMALIZE = 3
# A recommendation "contradicts" its score when a reviewer says fund below this total,
# or do-not-fund at or above the upper one.
FUND_BELOW = 50.0
DO_NOT_FUND_AT_OR_ABOVE = 70.0
DECIDABLE = application_lifecycle.DECIDABLE
# The status a decision puts its application in. A decision's outcome and an application's status
# are different things that happen to share words: map one to the other, never copy it across.
STATUS_AFTER = {
    APPROVED: ApplicationStatus.APPROVED,
    DECLINED: ApplicationStatus.DECLINED,
    WAITLISTED: ApplicationStatus.WAITLISTED,
}


def review_total(points_by_criterion: dict[int, int], criteria: list[Criterion]) -> float:
    """Σ (points / max × weight) over criteria, scaled to 0–100."""
    total_weight = sum(c.weight for c in criteria)
    if total_weight == 0:
        return 0.0
    raw = sum(points_by_criterion.get(c.id, 0) / c.max_points * c.weight for c in criteria)
    return raw / total_weight * 100


# Assignment -------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return " ".join(name.lower().split())


def _affiliation_names(application: Application) -> set[str]:
    """The applicant's and its partners' names, as a reviewer's affiliations are compared with them."""
    return {_norm(application.organization.legal_name)} | {_norm(p.name) for p in application.partners}


def reviewer_is_affiliated(reviewer_id: int, application: Application) -> bool:
    names = _affiliation_names(application)
    affiliations = db.session.scalars(
        sa.select(ReviewerAffiliation.organization_name).where(ReviewerAffiliation.user_id == reviewer_id)
    ).all()
    return any(_norm(a) in names for a in affiliations)


def set_affiliations(*, actor: User, reviewer: User, names: list[str]) -> None:
    """Replace the reviewer's affiliations with ``names`` (blank lines and repeats dropped).

    Locks the reviewer's row first: a second save at the same moment (a double click) waits, then
    replaces the first one's rows instead of inserting the same names again (a unique-key failure).
    """
    reviewer = lock_row(User, reviewer.id)
    cleaned = sorted({" ".join(n.split())[:200] for n in names if n.strip()}, key=str.lower)
    before = sorted(db.session.scalars(sa.select(ReviewerAffiliation.organization_name).where(ReviewerAffiliation.user_id == reviewer.id)))
    db.session.execute(sa.delete(ReviewerAffiliation).where(ReviewerAffiliation.user_id == reviewer.id))
    for name in cleaned:
        db.session.add(ReviewerAffiliation(user_id=reviewer.id, organization_name=name))
    record_event(actor, "reviewer.affiliations_set", reviewer, {"affiliations": {"before": before, "after": cleaned}})
    db.session.flush()


def reviewers() -> list[User]:
    return db.session.scalars(
        sa.select(User).join(UserRole).where(UserRole.role == REVIEWER, User.active.is_(True)).order_by(User.name, User.id)
    ).all()


def assign_reviewer(*, actor: User, application: Application, reviewer: User) -> ReviewAssignment:
    """Assign one reviewer; refused (DomainError) for a non-reviewer, an affiliated reviewer or a duplicate.

    Locks the application first, so an officer assigning the same reviewer at the same moment waits
    and then sees this assignment (a refusal), instead of failing on the unique constraint.
    """
    application = lock_row(Application, application.id)
    require(can_manage_application(actor, application))  # NotPermitted (404): not an officer, or conflicted on it
    return _assign_locked(actor=actor, application=application, reviewer=reviewer)


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
    program = application.program
    deadline = f" by {format_instant(program.review_deadline)}" if program.review_deadline else ""
    queue_message(
        to=reviewer.email,
        subject=f"Review assigned: {application.reference}",
        body=(f"You have been asked to review application {application.reference} for {program.name}{deadline}.\n"
              f"First declare whether you have a conflict of interest:\n"
              f"{external_url('reviews.assignment', assignment_id=assignment.id)}"),
    )
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
    waits and finds the first one's work done. Raises DomainError when there are no reviewers.
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
        .where(Application.program_id == program.id, ReviewAssignment.status != RECUSED)
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
        active = sum(1 for _, status in existing[application.id] if status != RECUSED)
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
    queue_message(
        to=reviewer.email,
        subject=f"Review no longer needed: {application.reference}",
        body=(f"You no longer need to review application {application.reference} for {application.program.name}; "
              "the program officer has taken it off your list. Any scores you had saved for it were discarded."),
    )


def _check_removable(assignment: ReviewAssignment) -> None:
    if assignment.status == SUBMITTED:
        raise DomainError("A submitted review cannot be removed; reopen it instead if it must change.")
    if assignment.coi_status == COI_CONFLICTED:
        raise DomainError(f"{assignment.reviewer.name} declared a conflict of interest with this application; the "
                          "declaration stays on record, so the assignment cannot be removed. Assign another reviewer instead.")


def replacement_reviewers(application: Application) -> list[User]:
    """Active reviewers who could take over a review of ``application``: not affiliated with the
    applicant or its partners and not assigned to it in any way (recused reviewers included)."""
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
    (its reviewer may have just submitted). Raises DomainError for a submitted review or a reviewer
    who may not take it (field ``reviewer_id``): not a reviewer, affiliated, or already assigned.
    """
    current = db.session.get(ReviewAssignment, assignment_id)
    if current is None:
        raise DomainError("This assignment no longer exists.")
    application = lock_row(Application, current.application_id)
    require(can_manage_assignment(actor, current))  # NotPermitted (404), as remove_assignment
    assignment = lock_row(ReviewAssignment, assignment_id)
    if assignment is None:
        raise DomainError("This assignment no longer exists.")
    if assignment.status == SUBMITTED:
        raise DomainError(f"{assignment.reviewer.name} has submitted this review, so it cannot be handed to someone else; "
                          "reopen it instead if it must change.")
    if reviewer.id == assignment.reviewer_id:
        raise DomainError(f"{reviewer.name} already has this review; choose another reviewer.", "reviewer_id")
    _check_assignable(application, reviewer, "reviewer_id")
    outgoing, previous_status = assignment.reviewer, assignment.status
    kept = assignment.coi_status == COI_CONFLICTED
    if kept:
        active = db.session.scalar(sa.select(sa.func.count(ReviewAssignment.id)).where(
            ReviewAssignment.application_id == application.id, ReviewAssignment.status != RECUSED))
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


# The reviewer's side ------------------------------------------------------------------------------


ALREADY_DECLARED = "You have already made your declaration for this application."


def _own(actor: User, assignment: ReviewAssignment) -> None:
    if assignment.reviewer_id != actor.id:
        raise DomainError("This review is assigned to someone else.")


def _lock_assignment(assignment_id: int) -> ReviewAssignment:
    """The assignment locked for update and read afresh with its scores, which a save that held
    the lock before us may have just written. Raises DomainError when it has been removed."""
    assignment = db.session.scalars(
        sa.select(ReviewAssignment).where(ReviewAssignment.id == assignment_id).with_for_update()
        .options(sa.orm.selectinload(ReviewAssignment.scores)).execution_options(populate_existing=True)
    ).one_or_none()
    if assignment is None:
        raise DomainError("This assignment no longer exists.")
    return assignment


def _lock_for_scoring(assignment_id: int) -> tuple[ReviewAssignment, list[Criterion]]:
    """Lock the program, then the assignment, and read the rubric afresh.

    The program's row is what rubric edits lock (programs.services) before checking the freeze,
    so a first submission and a criterion edit never overlap: the edit lands first and the review
    totals against it, or it waits and finds the rubric frozen. Saving takes the same locks in the
    same order, because the scoring page saves and submits in one transaction.
    """
    program_id = db.session.scalar(
        sa.select(Application.program_id).join(ReviewAssignment, ReviewAssignment.application_id == Application.id)
        .where(ReviewAssignment.id == assignment_id))
    if program_id is None:
        raise DomainError("This assignment no longer exists.")
    lock_row(Program, program_id)
    criteria = db.session.scalars(
        sa.select(Criterion).where(Criterion.program_id == program_id).order_by(Criterion.position, Criterion.id)
        .execution_options(populate_existing=True)
    ).all()
    return _lock_assignment(assignment_id), list(criteria)


def declare_conflict(*, actor: User, assignment: ReviewAssignment, conflicted: bool, reason: str | None) -> None:
    """Record the reviewer's declaration; a conflict recuses them at once and tells the officers.

    Locks the assignment before checking it: the first declaration stands, and any other (another
    tab, a double click) is refused with ``ALREADY_DECLARED`` and records and sends nothing.
    """
    assignment = _lock_assignment(assignment.id)
    _own(actor, assignment)
    if assignment.coi_status != COI_PENDING:
        raise DomainError(ALREADY_DECLARED)
    if conflicted and not (reason or "").strip():
        raise DomainError("Describe the conflict.", "reason")
    assignment.coi_declared_at = utcnow()
    application = assignment.application
    if conflicted:
        assignment.coi_status = COI_CONFLICTED
        assignment.coi_reason = reason.strip()
        assignment.status = RECUSED
        record_event(actor, "review.conflict_declared", application, {"assignment": assignment.id, "reason": assignment.coi_reason})
        for officer in _program_officers():
            queue_message(
                to=officer.email,
                subject=f"Conflict of interest declared on {application.reference}",
                body=(f"{actor.name} declared a conflict of interest on {application.reference} and is recused.\n"
                      f"Reason: {assignment.coi_reason}\n\nAssign another reviewer:\n"
                      f"{external_url('reviews.manage', program_id=application.program_id)}"),
            )
    else:
        assignment.coi_status = COI_NONE
        record_event(actor, "review.no_conflict_declared", application, {"assignment": assignment.id})
    db.session.flush()


def _program_officers() -> list[User]:
    from grants.accounts.models import PROGRAM_OFFICER

    return db.session.scalars(
        sa.select(User).join(UserRole).where(UserRole.role == PROGRAM_OFFICER, User.active.is_(True)).order_by(User.id)
    ).all()


def _require_scoring(actor: User, assignment: ReviewAssignment) -> None:
    """``can_score``, with the reason when it says no."""
    if can_score(actor, assignment):
        return
    _own(actor, assignment)
    if not assignment.may_see_content:
        raise DomainError("Declare that you have no conflict of interest before scoring.")
    if assignment.status == SUBMITTED:
        raise DomainError("This review has been submitted and is locked.")
    raise DomainError("This review cannot be scored.")


def save_review(
    *, actor: User, assignment: ReviewAssignment, points: dict[int, int | None], comments: dict[int, str],
    overall_comment: str, recommendation: str | None,
) -> None:
    """Save scores as a draft. Points must be whole numbers from 0 to each criterion's maximum.

    Locks the program and the assignment first (``_lock_for_scoring``): a save that waited for a
    submission is refused (DomainError), and two first saves do not both insert the score rows.
    """
    assignment, rubric = _lock_for_scoring(assignment.id)
    _require_scoring(actor, assignment)
    criteria = {c.id: c for c in rubric}
    for criterion_id, value in points.items():
        criterion = criteria.get(criterion_id)
        if criterion is None:
            raise DomainError("The rubric changed while you were scoring: check the criteria below and save again.")
        if value is not None and not 0 <= value <= criterion.max_points:
            raise DomainError(f"{criterion.name}: give 0 to {criterion.max_points} points.", f"points_{criterion_id}")
    if recommendation is not None and recommendation not in RECOMMENDATIONS:
        raise DomainError("Choose a recommendation.", "recommendation")
    existing = {score.criterion_id: score for score in assignment.scores}
    for criterion_id in criteria:
        score = existing.get(criterion_id)
        if score is None:
            score = Score(criterion_id=criterion_id)
            assignment.scores.append(score)
        score.points = points.get(criterion_id)
        score.comment = comments.get(criterion_id, "") or ""
    assignment.overall_comment = overall_comment or ""
    assignment.recommendation = recommendation
    if assignment.status == ASSIGNED:
        assignment.status = IN_PROGRESS
    record_event(actor, "review.saved", assignment.application, {
        "assignment": assignment.id, "points": {str(k): v for k, v in sorted(points.items())}, "recommendation": recommendation,
    })
    db.session.flush()


def submit_review(*, actor: User, assignment_id: int) -> ReviewAssignment:
    """Lock a complete review, compute its total and freeze the program's rubric.

    Holds the program's lock (``_lock_for_scoring``), so the rubric it totals against cannot change
    before the freeze is committed. Raises DomainError for a missing score or recommendation, and
    for points above a maximum lowered since the draft was saved (field ``points_<criterion id>``).
    """
    assignment, criteria = _lock_for_scoring(assignment_id)
    _require_scoring(actor, assignment)
    points = {s.criterion_id: s.points for s in assignment.scores}
    missing = [c.name for c in criteria if points.get(c.id) is None]
    if missing:
        raise DomainError(f"Score every criterion before submitting (missing: {', '.join(missing)}).")
    for criterion in criteria:
        if points[criterion.id] > criterion.max_points:
            raise DomainError(f"{criterion.name}: give 0 to {criterion.max_points} points (its maximum changed after "
                              "you saved this score).", f"points_{criterion.id}")
    if assignment.recommendation is None:
        raise DomainError("Choose a recommendation before submitting.", "recommendation")
    assignment.total_score = review_total(points, criteria)
    assignment.status = SUBMITTED
    assignment.submitted_at = utcnow()
    program = assignment.application.program
    if program.rubric_frozen_at is None:
        program.rubric_frozen_at = assignment.submitted_at
        record_event(actor, "rubric.frozen", program, {"reason": "first review submitted"})
    record_event(actor, "review.submitted", assignment.application, {
        "assignment": assignment.id, "total_score": round(assignment.total_score, 4), "recommendation": assignment.recommendation,
    })
    db.session.flush()
    return assignment


def reopen_review(*, actor: User, assignment: ReviewAssignment, reason: str) -> None:
    """Unlock a submitted review for its reviewer; NotPermitted (404) as ``remove_assignment``,
    DomainError unless it is submitted."""
    require(can_manage_assignment(actor, assignment))
    assignment = _lock_assignment(assignment.id)
    if assignment.status != SUBMITTED:
        raise DomainError("Only a submitted review can be reopened.")
    if not reason.strip():
        raise DomainError("Give the reason for reopening.", "reason")
    assignment.status = IN_PROGRESS
    previous = assignment.total_score
    assignment.total_score = None
    assignment.submitted_at = None
    record_event(actor, "review.reopened", assignment.application, {"assignment": assignment.id, "reason": reason.strip(), "previous_total": previous})
    queue_message(
        to=assignment.reviewer.email,
        subject=f"Review reopened: {assignment.application.reference}",
        body=(f"The program officer reopened your review of {assignment.application.reference}.\nReason: {reason.strip()}\n\n"
              f"{external_url('reviews.assignment', assignment_id=assignment.id)}"),
    )
    db.session.flush()


# Ranking ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class RankedApplication:
    application_id: int
    reference: str
    title: str
    organization: str
    county: str
    requested_cents: int
    status: str
    approved_cents: int | None
    reviews: int
    raw_mean: float | None
    normalized_mean: float | None
    median: float | None
    stdev: float | None
    minimum: float | None
    maximum: float | None
    contradictions: int
    flags: list[str] = field(default_factory=list)
    partner_types: list[str] = field(default_factory=list)

    @property
    def spread(self) -> float | None:
        return None if self.minimum is None else self.maximum - self.minimum




def _submitted_reviews(program_id: int):
    return (
        sa.select(ReviewAssignment.application_id, ReviewAssignment.reviewer_id, ReviewAssignment.total_score.label("x"), ReviewAssignment.recommendation)
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(Application.program_id == program_id, Application.was_eligible,
               ReviewAssignment.status == SUBMITTED)
    )


def _plain_rows(stmt) -> list:
    """Rows straight from the connection: the ranking reads thousands, and the ORM's per-row
    processing of column queries cost more than the SQL itself."""
    return db.session.connection().execute(stmt).all()


def _review_statistics(program: Program, only_application_id: int | None = None):
    """Per application: count, mean, normalized mean, mean square, min, max, contradictions, median.

    One grouped subquery; normalisation and medians are window functions over the submitted reviews.
    With ``only_application_id`` only that application's reviews are read: its own figures and
    flags are exact, but the normalized mean is not (it needs the reviewers' other reviews).
    """
    reviews = _submitted_reviews(program.id)
    if only_application_id is not None:
        reviews = reviews.where(ReviewAssignment.application_id == only_application_id)
    reviews = reviews.subquery("r")
    x = reviews.c.x
    windowed = sa.select(
        reviews.c.application_id, x, reviews.c.recommendation,
        sa.func.count().over(partition_by=reviews.c.reviewer_id).label("rn"),
        sa.func.avg(x).over(partition_by=reviews.c.reviewer_id).label("rmean"),
        sa.func.avg(x * x).over(partition_by=reviews.c.reviewer_id).label("rsq"),
        sa.func.avg(x).over().label("pmean"),
        sa.func.avg(x * x).over().label("psq"),
        sa.func.row_number().over(partition_by=reviews.c.application_id, order_by=x).label("pos"),
        sa.func.count().over(partition_by=reviews.c.application_id).label("an"),
    ).subquery("w")
    r_var = windowed.c.rsq - windowed.c.rmean * windowed.c.rmean
    p_var = windowed.c.psq - windowed.c.pmean * windowed.c.pmean
    # z-score against the reviewer, mapped back onto the program's scale (population SDs).
    normalized = sa.case(
        (sa.and_(windowed.c.rn >= MIN_REVIEWS_TO_NORMALIZE, r_var > 1e-9),
         windowed.c.pmean + (windowed.c.x - windowed.c.rmean) * sa.func.sqrt(sa.case((p_var > 0, p_var), else_=0.0) / r_var)),
        else_=windowed.c.x,
    )
    contradiction = sa.case(
        (sa.or_(sa.and_(windowed.c.recommendation == "fund", windowed.c.x < FUND_BELOW),
                sa.and_(windowed.c.recommendation == "do_not_fund", windowed.c.x >= DO_NOT_FUND_AT_OR_ABOVE)), 1),
        else_=0,
    )
    # The median: the middle review, or the mean of the two middle ones (avg skips the NULLs).
    middle = sa.case(
        (sa.or_(windowed.c.pos == (windowed.c.an + 1) // 2, windowed.c.pos == (windowed.c.an + 2) // 2), windowed.c.x),
        else_=None,
    )
    return sa.select(
        windowed.c.application_id,
        sa.func.count().label("n"),
        sa.func.avg(windowed.c.x).label("mean"),
        sa.func.avg(normalized).label("nmean"),
        sa.func.avg(windowed.c.x * windowed.c.x).label("sq"),
        sa.func.min(windowed.c.x).label("lo"),
        sa.func.max(windowed.c.x).label("hi"),
        sa.func.sum(contradiction).label("contradictions"),
        sa.func.avg(middle).label("median"),
    ).group_by(windowed.c.application_id).subquery("stats")


def _ranked_rows(program: Program, order: str, *, limit: int | None = None, offset: int = 0,
                 hidden: frozenset[int] = frozenset(), only_application_id: int | None = None):
    """Applications with their statistics in ranking order (best first), optionally one page of them,
    or one application without its normalized mean (see ``_review_statistics``).

    ``hidden`` applications (the viewer declared a conflict on them) are left out of the rows; their
    reviews still count in everyone else's normalized means, as for any other viewer."""
    stats = _review_statistics(program, only_application_id)
    key = stats.c.nmean if order == "normalized" else stats.c.mean
    stmt = (
        sa.select(Application.id, Application.reference, Application.title, Application.requested_cents, Application.status,
                  Application.approved_cents, Organization.legal_name, Organization.county,
                  stats.c.n, stats.c.mean, stats.c.nmean, stats.c.sq, stats.c.lo, stats.c.hi, stats.c.contradictions,
                  stats.c.median, sa.func.count().over().label("total"))
        .join(Organization, Organization.id == Application.organization_id)
        .outerjoin(stats, stats.c.application_id == Application.id)
        .where(Application.program_id == program.id, Application.was_eligible)
        .order_by(key.is_(None), key.desc(), Application.reference)
    )
    if hidden:
        stmt = stmt.where(Application.id.not_in(sorted(hidden)))
    if only_application_id is not None:
        stmt = stmt.where(Application.id == only_application_id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return _plain_rows(stmt)


def _ranked(program: Program, rows, *, page: bool) -> list[RankedApplication]:
    partner_types = defaultdict(set)
    stmt = (sa.select(Partner.application_id, Partner.partner_type).join(Application)
            .where(Application.program_id == program.id, Application.was_eligible))
    if page:
        stmt = stmt.where(Partner.application_id.in_([row[0] for row in rows]))
    if rows:
        for application_id, partner_type in _plain_rows(stmt):
            partner_types[application_id].add(partner_type)
    expected, threshold = program.reviewers_per_application, program.score_spread_threshold
    ranked = []
    # Rows are unpacked as tuples: with thousands of applications, named access was a third of the time.
    for (app_id, reference, title, requested, status, approved, organization, county,
         n, mean, nmean, sq, lo, hi, contradictions, median, _total) in rows:
        if n is None:
            n, stdev, contradictions = 0, None, 0
        else:
            mean, nmean, median, lo, hi = float(mean), float(nmean), float(median), float(lo), float(hi)
            contradictions = int(contradictions)
            stdev = math.sqrt(max(float(sq) - mean * mean, 0.0))
        item = RankedApplication(
            app_id, reference, title, organization, county, requested, status, approved, n, mean, nmean,
            median, stdev, lo, hi, contradictions, [], sorted(partner_types[app_id]),
        )
        if n < expected:
            item.flags.append(f"Too few reviews ({n} of {expected})")
        if lo is not None and hi - lo > threshold:
            item.flags.append(f"Scores spread {hi - lo:.1f} points")
        if contradictions:
            item.flags.append("Recommendation contradicts score")
        ranked.append(item)
    return ranked


def ranking(program: Program, order: str = "raw") -> list[RankedApplication]:
    """Every application under review or decided, with its review statistics, best first.

    Two SQL queries whatever the size of the round: the applications joined to their statistics
    (normalisation and medians done by window functions), sorted; and their partner types.
    """
    return _ranked(program, _ranked_rows(program, order), page=False)


def ranking_page(program: Program, order: str, page: int, per_page: int,
                 hidden: frozenset[int] = frozenset()) -> tuple[list[RankedApplication], int]:
    """One page of ``ranking`` and the number of ranked applications: sorted and cut in SQL, so a
    page costs the same whatever the size of the round beyond the grouped statistics. ``hidden``
    applications are left out of both (see ``_ranked_rows``)."""
    rows = _ranked_rows(program, order, limit=per_page, offset=(page - 1) * per_page, hidden=hidden)
    if rows:
        return _ranked(program, rows, page=True), rows[0][-1]
    stmt = sa.select(sa.func.count()).select_from(Application).where(
        Application.program_id == program.id, Application.was_eligible)
    if hidden:
        stmt = stmt.where(Application.id.not_in(sorted(hidden)))
    return [], db.session.scalar(stmt)


def hidden_from_ranking(program: Program, hidden: set[int]) -> int:
    """How many of the program's ranked applications ``hidden`` (a viewer's conflicts) leaves out."""
    if not hidden:
        return 0
    return db.session.scalar(sa.select(sa.func.count()).select_from(Application).where(
        Application.program_id == program.id, Application.was_eligible, Application.id.in_(sorted(hidden))))


def standing_flags(application: Application) -> list[str]:
    """The ranking's flags on one application (too few reviews, a wide spread, a recommendation
    contradicting its score), computed as the ranking computes them from this application's reviews
    alone (the program's other reviews only matter to the normalized mean, which flags do not use)."""
    rows = _ranked_rows(application.program, "raw", only_application_id=application.id)
    return _ranked(application.program, rows, page=True)[0].flags if rows else []


@dataclass
class ReviewerCalibration:
    reviewer_id: int
    name: str
    reviews: int
    mean: float
    stdev: float


def calibration(program: Program, hidden: frozenset[int] = frozenset()) -> tuple[list[ReviewerCalibration], ReviewerCalibration | None]:
    """Each reviewer's count, mean and spread of submitted totals, and the program's own.

    Reviews of ``hidden`` applications (the viewer declared a conflict on them) are left out: a
    reviewer who reviewed only one of them would otherwise show its score as their mean."""
    reviews = _submitted_reviews(program.id)
    if hidden:
        reviews = reviews.where(ReviewAssignment.application_id.not_in(sorted(hidden)))
    reviews = reviews.subquery("r")
    rows = db.session.execute(
        sa.select(User.id, User.name, sa.func.count(), sa.func.avg(reviews.c.x), sa.func.avg(reviews.c.x * reviews.c.x))
        .join(User, User.id == reviews.c.reviewer_id)
        .group_by(User.id, User.name)
        .order_by(User.name, User.id)
    ).all()
    per_reviewer = [
        ReviewerCalibration(rid, name, n, float(mean), math.sqrt(max(float(sq) - float(mean) ** 2, 0.0)))
        for rid, name, n, mean, sq in rows
    ]
    total = db.session.execute(sa.select(sa.func.count(), sa.func.avg(reviews.c.x), sa.func.avg(reviews.c.x * reviews.c.x))).one()
    overall = None
    if total[0]:
        overall = ReviewerCalibration(0, "All reviewers", total[0], float(total[1]), math.sqrt(max(float(total[2]) - float(total[1]) ** 2, 0.0)))
    return per_reviewer, overall


# Funding line -----------------------------------------------------------------------------------


FUNDED_BY_RANK, FUNDED_BY_RESERVE = "rank", "reserve"


@dataclass
class FundingRow:
    ranked: RankedApplication
    funded: bool
    reason: str
    cumulative_cents: int
    funded_by: str | None = None  # FUNDED_BY_RESERVE or FUNDED_BY_RANK; None below the line


@dataclass
class FundingLine:
    available_cents: int
    committed_cents: int
    rows: list[FundingRow]
    above_line: int  # how many rows, from the top of the ranking, are above the line (all of them funded)
    # Rows left out for a viewer who declared a conflict on them (``without``); still part of the line.
    hidden_rows: list[FundingRow] = field(default_factory=list)

    @property
    def funded_rows(self) -> list[FundingRow]:
        return [row for row in self.rows if row.funded]

    @property
    def funded_cents(self) -> int:
        return sum(row.ranked.requested_cents for row in self.funded_rows)

    @property
    def digest(self) -> str:
        """What approving this line would approve (applications and amounts), as a short fingerprint:
        the confirmation form carries it, so a line that changed after the preview approves nothing."""
        funded = sorted((row.ranked.application_id, row.ranked.requested_cents)
                        for row in [*self.rows, *self.hidden_rows] if row.funded)
        return hashlib.sha256(repr(funded).encode()).hexdigest()[:32]

    def without(self, application_ids: set[int]) -> FundingLine:
        """The line as shown to someone who declared a conflict on some of its applications: those rows
        left out, and their amounts out of the cumulative column, so neither their place nor their
        scores show. The line itself is unchanged: the same rows funded, the same ``digest``."""
        if not any(row.ranked.application_id in application_ids for row in self.rows):
            return self
        visible, hidden, above, cumulative = [], [], 0, self.committed_cents
        for index, row in enumerate(self.rows):
            if row.ranked.application_id in application_ids:
                hidden.append(row)
                continue
            above += index < self.above_line
            cumulative += row.ranked.requested_cents if row.funded else 0
            visible.append(replace(row, cumulative_cents=cumulative))
        return FundingLine(self.available_cents, self.committed_cents, visible, above, hidden)


def committed_cents(program: Program) -> int:
    """Money already promised by the program: awards and approvals not yet awarded."""
    from grants.awards.services import committed_cents as program_commitments

    return program_commitments(program.id)


def funding_line(program: Program, *, order: str = "raw", reserve_partner_types: bool = False) -> FundingLine:
    """Walk the ranking and fund while the budget allows; change nothing.

    With ``reserve_partner_types``, first each eligible partner type not yet covered gets its
    best-ranked application that fits the budget left (when the best of a type is too large, the
    next of that type is tried): those rows are funded by reserve, wherever they rank. Then the rest
    are funded in rank order until the first application that does not fit: the line falls there.
    Every row above the line is funded (by rank or by reserve); below it, only reserved rows are.
    """
    committed = committed_cents(program)
    available = program.total_budget_cents - committed
    candidates = [r for r in ranking(program, order) if r.status in DECIDABLE and r.reviews > 0]
    remaining = available
    reserved: dict[int, str] = {}  # application id -> the partner type it was reserved for
    if reserve_partner_types:
        for partner_type in program.eligible_partner_types:
            if any(partner_type in r.partner_types for r in candidates if r.application_id in reserved):
                continue
            best = next((r for r in candidates if partner_type in r.partner_types and r.application_id not in reserved
                         and r.requested_cents <= remaining), None)
            if best is not None:
                reserved[best.application_id] = partner_type
                remaining -= best.requested_cents
    above_line = len(candidates)
    for index, r in enumerate(candidates):
        if r.application_id in reserved:
            continue
        if r.requested_cents > remaining:
            above_line = index
            break
        remaining -= r.requested_cents
    rows, cumulative = [], committed
    for index, r in enumerate(candidates):
        if r.application_id in reserved:
            funded_by = FUNDED_BY_RESERVE
            reason = f"Reserved: best-ranked with a partner of type {PARTNER_TYPES[reserved[r.application_id]]} that fits the budget"
        elif index < above_line:
            funded_by, reason = FUNDED_BY_RANK, "Within budget in rank order"
        else:
            funded_by, reason = None, "Below the line"
        if funded_by:
            cumulative += r.requested_cents
        rows.append(FundingRow(r, funded_by is not None, reason, cumulative, funded_by))
    return FundingLine(available_cents=available, committed_cents=committed, rows=rows, above_line=above_line)


# Decisions --------------------------------------------------------------------------------------


def decide(*, actor: User, application_id: int, outcome: str, approved_cents: int | None, rationale: str,
           flags_read: bool = False) -> Decision:
    """Approve (up to the requested amount), decline or waitlist, with a rationale; notify the applicant.

    Raises DomainError (with the field) for a refused decision; NotPermitted (404) for an actor who is
    not a program officer or declared a conflict of interest on the application. Approving while the
    ranking flags the application (``standing_flags``) needs ``flags_read``, the officer's confirmation
    that they read the flags: without it DomainError (field ``flags_read``) naming them. The flags
    decided against are kept in the audit event. An application that is not under review or
    waitlisted (a draft, a withdrawn or approved one…) is refused with DomainError ("… only
    applications under review or waitlisted can be decided.") and nothing changes.
    """
    application = lock_row(Application, application_id)
    require(application is not None and can_decide(actor, application))
    if outcome not in OUTCOMES:
        raise DomainError("Choose approve, decline or waitlist.", "outcome")
    if not application.is_decidable:
        raise DomainError(application_lifecycle.refusal(application, STATUS_AFTER[outcome]))
    if not rationale.strip():
        raise DomainError("Give the rationale for the decision.", "rationale")
    if outcome == APPROVED:
        if approved_cents is None:
            approved_cents = application.requested_cents
        if not 0 < approved_cents <= application.requested_cents:
            raise DomainError(f"The approved amount must be more than $0 and at most the requested {format_money(application.requested_cents)}.", "approved_amount")
        program = lock_row(Program, application.program_id)
        remaining = program.total_budget_cents - committed_cents(program)
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

    def notify(application: Application) -> None:
        wording = {
            APPROVED: f"has been approved for {format_money(approved_cents or 0)}. The program officer will contact you about the award agreement.",
            DECLINED: "was not selected for funding.",
            WAITLISTED: "has been placed on the waiting list. If funds become available it may still be approved.",
        }[outcome]
        notify_grantee(application, subject=f"Decision on application {application.reference}",
                       body=(f"Application {application.reference}, \"{application.title}\", {wording}\n\n"
                             f"{external_url('applications.view', application_id=application.id)}"))

    application_lifecycle.transition(application, STATUS_AFTER[outcome], actor=actor, event="application.decided", details={
        "approved_cents": approved_cents, "rationale": decision.rationale, **({"open_flags": flags} if flags else {}),
    }, notify=notify)
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
    return db.session.scalars(
        sa.select(Decision).where(Decision.application_id == application.id).order_by(Decision.id.desc()).limit(1)
    ).first()


def shared_comments(application: Application) -> list[dict]:
    """Submitted reviewers' comments for the applicant, without names, when the program shares them."""
    if not application.program.share_reviewer_comments or not application.is_decided:
        return []
    assignments = db.session.scalars(
        sa.select(ReviewAssignment).where(ReviewAssignment.application_id == application.id, ReviewAssignment.status == SUBMITTED)
        .options(sa.orm.selectinload(ReviewAssignment.scores).joinedload(Score.criterion))
        .order_by(ReviewAssignment.id)
    ).all()
    return [
        {"label": f"Reviewer {index}", "overall": a.overall_comment,
         "criteria": [(s.criterion.name, s.comment) for s in sorted(a.scores, key=lambda s: s.criterion.position) if s.comment]}
        for index, a in enumerate(assignments, start=1)
    ]

