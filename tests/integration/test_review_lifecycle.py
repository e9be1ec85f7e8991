"""The review assignment's lifecycle: one table of moves, refused moves change nothing, and the
database refuses a status it does not know (on SQLite and PostgreSQL alike)."""

import pytest
import sqlalchemy as sa

from grants.audit.models import AuditEvent
from grants.errors import DomainError
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.reviews import services as reviews
from grants.reviews.lifecycle import TRANSITIONS, ConflictStatus, ReviewStatus, transition
from grants.reviews.models import ReviewAssignment
from tests import factories


@pytest.fixture
def world(app):
    return factories.make_review_world(reviewers_per_application=1)


def _events():
    return db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))


def test_stored_values_are_unchanged():
    assert [s.value for s in ReviewStatus] == ["assigned", "in_progress", "submitted", "recused"]
    assert [s.value for s in ConflictStatus] == ["pending", "none", "conflicted"]
    assert TRANSITIONS[ReviewStatus.RECUSED] == frozenset()


def test_a_move_the_table_does_not_allow_is_refused_and_changes_nothing(world):
    assignment, reviewer = world["assignment"], world["reviewer"]
    with pytest.raises(DomainError, match="This review has not been started, so it cannot become assigned"):
        transition(assignment, ReviewStatus.ASSIGNED, actor=reviewer, event="review.saved")
    db.session.rollback()
    reviews.declare_conflict(actor=reviewer, assignment=assignment, conflicted=True, reason="My sister runs it")
    db.session.commit()
    before = _events()
    with pytest.raises(DomainError) as refused:
        transition(assignment, ReviewStatus.IN_PROGRESS, actor=reviewer, event="review.saved")
    assert str(refused.value) == "This review is recused (a conflict of interest was declared), so it cannot become in progress."
    with pytest.raises(DomainError, match="already made your declaration"):
        transition(assignment, ConflictStatus.NONE, actor=reviewer, event="review.no_conflict_declared")
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(ReviewAssignment, assignment.id)
    assert (stored.status, stored.coi_status) == ("recused", "conflicted")
    assert stored.is_recused and stored.is_conflicted and not stored.is_editable
    assert _events() == before


def test_reopening_a_review_that_is_not_submitted_is_refused(world):
    assignment = world["assignment"]
    before = (_events(), db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))))
    with pytest.raises(DomainError, match="Only a submitted review can be reopened"):
        reviews.reopen_review(actor=world["officer"], assignment=assignment, reason="Check the budget score")
    db.session.rollback()
    assert (_events(), db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)))) == before
    assert db.session.get(ReviewAssignment, assignment.id).is_not_started


def test_the_moves_write_their_events_and_notifications(world):
    assignment, reviewer, officer = world["assignment"], world["reviewer"], world["officer"]
    factories_points = [c.max_points for c in world["application"].program.criteria]
    reviews.declare_conflict(actor=reviewer, assignment=assignment, conflicted=False, reason=None)
    reviews.save_review(actor=reviewer, assignment=assignment, points=dict(zip([c.id for c in world["application"].program.criteria], factories_points, strict=False)),
                        comments={}, overall_comment="", recommendation="fund")
    assert assignment.is_in_progress
    reviews.submit_review(actor=reviewer, assignment_id=assignment.id)
    assert assignment.is_submitted and not assignment.is_open
    reviews.reopen_review(actor=officer, assignment=assignment, reason="Check the budget score")
    db.session.commit()
    assert assignment.is_in_progress and assignment.total_score is None
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("review.%")).order_by(AuditEvent.id)).all()
    assert actions[-4:] == ["review.no_conflict_declared", "review.saved", "review.submitted", "review.reopened"]
    assert db.session.scalar(sa.select(OutboxMessage.subject).order_by(OutboxMessage.id.desc()).limit(1)).startswith("Review reopened")
    # SQL reads the same predicates
    assert db.session.scalar(sa.select(sa.func.count()).where(ReviewAssignment.is_open)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).where(ReviewAssignment.is_submitted)) == 0


@pytest.mark.parametrize("column", ["status", "coi_status"])
def test_the_database_refuses_an_unknown_status(world, column):
    assignment_id = world["assignment"].id
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(ReviewAssignment).where(ReviewAssignment.id == assignment_id).values({column: "archived"}))
        db.session.flush()
    db.session.rollback()
    assert db.session.get(ReviewAssignment, assignment_id).status == "assigned"


def test_assign_reviewers_keeps_the_good_pairs_and_reports_the_refused(world):
    """The assign page's loop, locks and savepoints are one service: a refused pair does not undo the others."""
    officer, application = world["officer"], world["application"]
    ok = factories.make_user(email="r2@state.gov", name="Raj Two", roles={"reviewer"})
    affiliated = factories.make_user(email="r3@state.gov", name="Ros Three", roles={"reviewer"})
    reviews.set_affiliations(actor=officer, reviewer=affiliated, names=["Lakeside Responders"])
    db.session.commit()
    result = reviews.assign_reviewers(actor=officer, applications=[application], reviewers=[world["reviewer"], ok, affiliated])
    db.session.commit()
    assert result.created == 1
    assert result.refused == [f"Rita One is already assigned to {application.reference}.",
                              f"Ros Three is affiliated with the applicant or a partner of {application.reference}."]
    assigned = db.session.scalars(sa.select(ReviewAssignment.reviewer_id).where(ReviewAssignment.application_id == application.id)).all()
    assert sorted(assigned) == sorted([world["reviewer"].id, ok.id])
