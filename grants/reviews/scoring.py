"""The reviewer's side: the conflict-of-interest declaration, saving and submitting scores, and an
officer reopening a submitted review. Status moves go through ``grants.reviews.lifecycle``.

Review mathematics (DESIGN.md): a review's total is Σ (points / max × weight) / Σ weight × 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa

from grants.accounts.models import PROGRAM_OFFICER, User, UserRole
from grants.applications.models import (
    Application,
)
from grants.audit.services import record_event
from grants.db import lock_row, utcnow
from grants.errors import DomainError
from grants.extensions import db
from grants.notifications.emails import notify
from grants.permissions import (
    can_manage_assignment,
    can_score,
    require,
)
from grants.programs.models import Criterion, Program
from grants.reviews.lifecycle import ConflictStatus, ReviewStatus, transition
from grants.reviews.models import (
    RECOMMENDATIONS,
    ReviewAssignment,
    Score,
)


class Weighted(Protocol):
    """What ``review_total`` reads of a criterion: a Criterion, or the scale demo's stand-in."""

    @property
    def id(self) -> int: ...
    @property
    def max_points(self) -> int: ...
    @property
    def weight(self) -> int: ...


def review_total(points_by_criterion: dict[int, int], criteria: Sequence[Weighted]) -> float:
    """Σ (points / max × weight) over criteria, scaled to 0–100 (0 for a rubric with no weight).
    Refuses nothing: points are checked by ``save_review`` and ``submit_review``."""
    total_weight = sum(c.weight for c in criteria)
    if total_weight == 0:
        return 0.0
    raw = sum(points_by_criterion.get(c.id, 0) / c.max_points * c.weight for c in criteria)
    return raw / total_weight * 100


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

    Refuses with DomainError: an assignment removed meanwhile, someone else's assignment, a second
    declaration (``ALREADY_DECLARED``), and a conflict without a reason (field ``reason``).
    """
    assignment = _lock_assignment(assignment.id)
    _own(actor, assignment)
    if not assignment.is_declaration_pending:
        raise DomainError(ALREADY_DECLARED)
    if conflicted and not (reason or "").strip():
        raise DomainError("Describe the conflict.", "reason")
    assignment.coi_declared_at = utcnow()
    if conflicted:
        assignment.coi_reason = (reason or "").strip()
        transition(assignment, ReviewStatus.RECUSED, actor=actor, event=None)
        transition(assignment, ConflictStatus.CONFLICTED, actor=actor, event="review.conflict_declared",
                   details={"reason": assignment.coi_reason}, then_notify=lambda a: _tell_officers_of_conflict(actor, a))
    else:
        transition(assignment, ConflictStatus.NONE, actor=actor, event="review.no_conflict_declared")
    db.session.flush()


def _tell_officers_of_conflict(actor: User, assignment: ReviewAssignment) -> None:
    notify("conflict_declared", to=[officer.email for officer in _program_officers()], assignment=assignment)


def _program_officers() -> Sequence[User]:
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
    if assignment.is_submitted:
        raise DomainError("This review has been submitted and is locked.")
    raise DomainError("This review cannot be scored.")


def save_review(
    *, actor: User, assignment: ReviewAssignment, points: dict[int, int | None], comments: dict[int, str],
    overall_comment: str, recommendation: str | None,
) -> None:
    """Save scores as a draft. Points must be whole numbers from 0 to each criterion's maximum.

    Locks the program and the assignment first (``_lock_for_scoring``): a save that waited for a
    submission is refused (DomainError), and two first saves do not both insert the score rows.

    Refuses with DomainError: an assignment removed meanwhile, someone else's, one with no "no
    conflict" declaration, recused or submitted; a criterion no longer in the rubric; points outside
    0 to the maximum (field ``points_<criterion id>``); an unknown recommendation (``recommendation``).
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
    saved = {"points": {str(k): v for k, v in sorted(points.items())}, "recommendation": recommendation}
    if assignment.is_not_started:
        transition(assignment, ReviewStatus.IN_PROGRESS, actor=actor, event="review.saved", details=saved)
    else:
        record_event(actor, "review.saved", assignment.application, {"assignment": assignment.id, **saved})
    db.session.flush()


def submit_review(*, actor: User, assignment_id: int) -> ReviewAssignment:
    """Lock a complete review, compute its total and freeze the program's rubric.

    Holds the program's lock (``_lock_for_scoring``), so the rubric it totals against cannot change
    before the freeze is committed. Refuses with DomainError what ``save_review`` refuses about the
    assignment (removed, someone else's, not declared, recused, already submitted), a missing score
    or recommendation (field ``recommendation``), and points above a maximum lowered since the draft
    was saved (field ``points_<criterion id>``).
    """
    assignment, criteria = _lock_for_scoring(assignment_id)
    _require_scoring(actor, assignment)
    points = {s.criterion_id: s.points for s in assignment.scores if s.points is not None}
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
    assignment.submitted_at = utcnow()
    program = assignment.application.program
    if program.rubric_frozen_at is None:
        program.rubric_frozen_at = assignment.submitted_at
        record_event(actor, "rubric.frozen", program, {"reason": "first review submitted"})
    transition(assignment, ReviewStatus.SUBMITTED, actor=actor, event="review.submitted", details={
        "total_score": round(assignment.total_score, 4), "recommendation": assignment.recommendation,
    })
    db.session.flush()
    return assignment


def reopen_review(*, actor: User, assignment: ReviewAssignment, reason: str) -> None:
    """Unlock a submitted review for its reviewer, with the reason, and tell them.

    Refuses with NotPermitted (404) an actor who is not an officer or declared a conflict on the
    application; with DomainError an assignment removed meanwhile, one that is not submitted, and a
    blank reason (field ``reason``)."""
    require(can_manage_assignment(actor, assignment))
    assignment = _lock_assignment(assignment.id)
    if not assignment.is_submitted:
        raise DomainError("Only a submitted review can be reopened.")
    if not reason.strip():
        raise DomainError("Give the reason for reopening.", "reason")
    previous = assignment.total_score
    assignment.total_score = None
    assignment.submitted_at = None
    transition(assignment, ReviewStatus.IN_PROGRESS, actor=actor, event="review.reopened",
               details={"reason": reason.strip(), "previous_total": previous},
               then_notify=lambda a: _tell_reopened(a, reason.strip()))
    db.session.flush()


def _tell_reopened(assignment: ReviewAssignment, reason: str) -> None:
    notify("review_reopened", to=assignment.reviewer.email, assignment=assignment, reason=reason)
