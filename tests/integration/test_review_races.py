"""Reviews under concurrency: a submitted review stays as submitted, the rubric freeze holds, one
conflict declaration per assignment, and double submissions never end in a unique-key 500.

Each race runs on SQLite and PostgreSQL. Where a service would check a state and act on it a moment
later, the test widens that moment (a short sleep patched in after the check), so that without the
row lock the race is lost every time on PostgreSQL rather than now and then.
"""

import time

import pytest
import sqlalchemy as sa

from grants.accounts.models import User
from grants.audit.models import AuditEvent
from grants.errors import DomainError
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.programs import services as programs
from grants.programs.models import Criterion, Program
from grants.reviews import scoring
from grants.reviews import services as reviews
from grants.reviews.models import ReviewAssignment, ReviewerAffiliation, Score
from tests import factories
from tests.race import race


@pytest.fixture
def world(app):
    return factories.make_review_world(reviewers_per_application=2)


def _declared(world):
    reviews.declare_conflict(actor=world["reviewer"], assignment=world["assignment"], conflicted=False, reason=None)
    db.session.commit()


def _slow_after(monkeypatch, name, seconds=0.2):
    """Make ``grants.reviews.scoring.<name>`` (a check) pause after it returns, as a busy server might."""
    original = getattr(scoring, name)

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(seconds)
        return result

    monkeypatch.setattr(scoring, name, slow)


def _save(reviewer_id, assignment_id, points, then_submit=False):
    """What the scoring page does: load the assignment, save the draft, and submit when asked."""
    def attempt():
        assignment = db.session.get(ReviewAssignment, assignment_id)
        criteria = assignment.application.program.criteria
        actor = db.session.get(User, reviewer_id)
        reviews.save_review(actor=actor, assignment=assignment, points={c.id: points(c) for c in criteria},
                            comments={}, overall_comment="", recommendation="fund")
        if then_submit:
            reviews.submit_review(actor=actor, assignment_id=assignment_id)
    return attempt


def test_a_submitted_review_is_not_changed_by_saves_racing_its_submission(world, app, monkeypatch):
    """Saves of zero points racing submissions of full marks: whatever wins, the stored points are
    the ones the total was computed from, and no draft is saved after the review was submitted."""
    _declared(world)
    assignment_id, reviewer_id = world["assignment"].id, world["reviewer"].id
    _save(reviewer_id, assignment_id, lambda c: c.max_points)()
    db.session.commit()
    _slow_after(monkeypatch, "_require_scoring", 0.05)
    attempts = []
    for _i in range(12):
        attempts.append(_save(reviewer_id, assignment_id, lambda c: 0))
        attempts.append(_save(reviewer_id, assignment_id, lambda c: c.max_points, then_submit=True))
    outcomes, errors = race(app, attempts)
    assert errors == []
    assert "ok" in outcomes and "refused" in outcomes  # once submitted, the later saves are refused
    db.session.expire_all()
    assignment = db.session.get(ReviewAssignment, assignment_id)
    assert assignment.status == "submitted"
    criteria = list(world["program"].criteria)
    stored = {s.criterion_id: s.points for s in assignment.scores}
    assert stored == {c.id: c.max_points for c in criteria}
    assert assignment.total_score == pytest.approx(reviews.review_total(stored, criteria)) == pytest.approx(100)
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.in_(("review.saved", "review.submitted")))
                                 .order_by(AuditEvent.id)).all()
    assert actions.count("review.submitted") == 1
    assert actions[-1] == "review.submitted"  # no draft saved after the submission


def test_concurrent_first_saves_of_a_review_store_one_score_per_criterion(world, app, monkeypatch):
    """A double click on "Save draft" for a review with no scores yet: both requests used to insert
    the score rows, and the second failed on the unique key (a 500 on PostgreSQL)."""
    _declared(world)
    assignment_id, reviewer_id = world["assignment"].id, world["reviewer"].id
    _slow_after(monkeypatch, "_require_scoring")
    outcomes, errors = race(app, [_save(reviewer_id, assignment_id, lambda c: 1), _save(reviewer_id, assignment_id, lambda c: 2)])
    assert errors == [] and outcomes == ["ok", "ok"]
    db.session.expire_all()
    rows = db.session.execute(sa.select(Score.criterion_id, Score.points).where(Score.assignment_id == assignment_id)).all()
    assert len(rows) == len(world["program"].criteria)
    assert len({points for _, points in rows}) == 1  # all from the same save: the later one


@pytest.mark.parametrize("slow", ["submission", "edit"])
def test_a_criterion_edit_racing_the_first_submission_either_counts_or_is_refused(world, app, monkeypatch, slow):
    """The first submission freezes the rubric. An edit that lands before it is what the review is
    totalled against; one that comes after is refused as frozen. Never a total against a rubric
    that then changes (a review once totalled 83.3 against a maximum changed afterwards)."""
    _declared(world)
    assignment_id, reviewer_id, officer_id = world["assignment"].id, world["reviewer"].id, world["officer"].id
    _save(reviewer_id, assignment_id, lambda c: c.max_points)()
    db.session.commit()
    criterion_id = world["program"].criteria[0].id
    if slow == "submission":  # the submission has read the rubric and is computing its total
        original = scoring.review_total
        monkeypatch.setattr(scoring, "review_total", lambda *a: (time.sleep(0.3), original(*a))[1])
    else:  # the edit has passed the freeze check and is writing its audit entry
        original = programs.changes_between
        monkeypatch.setattr(programs, "changes_between", lambda *a: (time.sleep(0.3), original(*a))[1])

    def submit():
        if slow == "edit":
            time.sleep(0.1)
        reviews.submit_review(actor=db.session.get(User, reviewer_id), assignment_id=assignment_id)

    def edit():
        if slow == "submission":
            time.sleep(0.1)
        criterion = db.session.get(Criterion, criterion_id)
        programs.update_criterion(actor=db.session.get(User, officer_id), criterion=criterion, name=criterion.name,
                                  guidance="", max_points=criterion.max_points * 4, weight=criterion.weight)

    outcomes, errors = race(app, [submit, edit])
    assert errors == []
    db.session.expire_all()
    assignment = db.session.get(ReviewAssignment, assignment_id)
    criteria = db.session.scalars(sa.select(Criterion).where(Criterion.program_id == world["program"].id)).all()
    stored = {s.criterion_id: s.points for s in assignment.scores}
    assert assignment.status == "submitted" and db.session.get(Program, world["program"].id).rubric_frozen_at is not None
    assert assignment.total_score == pytest.approx(reviews.review_total(stored, criteria))
    if slow == "submission":  # the submission came first: the edit was refused as frozen
        assert sorted(outcomes) == ["ok", "refused"] and assignment.total_score == pytest.approx(100)
    else:  # the edit came first: the review counts against the new maximum
        assert outcomes == ["ok", "ok"] and assignment.total_score < 100


def test_a_review_whose_points_exceed_a_lowered_maximum_is_not_submitted(world):
    """A criterion's maximum lowered after the draft was saved (before any submission froze the
    rubric): submitting asks for a rescore of that criterion instead of totalling more than 100."""
    _declared(world)
    _save(world["reviewer"].id, world["assignment"].id, lambda c: c.max_points)()
    criterion = world["program"].criteria[2]  # max 30, weight 3
    programs.update_criterion(actor=world["officer"], criterion=criterion, name=criterion.name, guidance="", max_points=5, weight=3)
    with pytest.raises(DomainError, match="give 0 to 5 points") as refused:
        reviews.submit_review(actor=world["reviewer"], assignment_id=world["assignment"].id)
    assert refused.value.field == f"points_{criterion.id}"
    assert world["assignment"].status == "in_progress" and world["assignment"].total_score is None


def test_concurrent_conflict_declarations_record_only_the_first(world, app, monkeypatch):
    """Several tabs declaring at once: one declaration stands, the others are refused, and the
    officers are told of a conflict only when the declaration that stands is one."""
    assignment_id, reviewer_id = world["assignment"].id, world["reviewer"].id
    _slow_after(monkeypatch, "_own")

    def declare(conflicted):
        def attempt():
            reviews.declare_conflict(actor=db.session.get(User, reviewer_id), assignment=db.session.get(ReviewAssignment, assignment_id),
                                     conflicted=conflicted, reason="Board member" if conflicted else None)
        return attempt

    outcomes, errors = race(app, [declare(i % 2 == 0) for i in range(6)])
    assert errors == []
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5
    db.session.expire_all()
    assignment = db.session.get(ReviewAssignment, assignment_id)
    declarations = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.action.in_(("review.conflict_declared", "review.no_conflict_declared")))).all()
    assert len(declarations) == 1
    told = db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.subject.like("Conflict of interest declared%")))
    if assignment.coi_status == "conflicted":
        assert assignment.status == "recused" and declarations == ["review.conflict_declared"] and told == 1
    else:
        assert assignment.status != "recused" and declarations == ["review.no_conflict_declared"] and told == 0


def test_a_second_declaration_from_a_stale_page_is_answered_without_an_error(world, make_client):
    browser = make_client(world["reviewer"])
    url = f"/reviews/{world['assignment'].id}/declare"
    assert browser.post_form(url, {"declaration": "none"}).status_code == 302
    again = browser.post_form(url, {"declaration": "conflict", "reason": "Board"}, follow_redirects=True)
    assert again.status_code == 200 and "already made your declaration" in again.get_data(as_text=True)
    db.session.refresh(world["assignment"])
    assert world["assignment"].coi_status == "none" and world["assignment"].status != "recused"


def test_concurrent_affiliation_saves_both_succeed_with_one_row_per_name(world, app):
    """A double click on "Save" for affiliations: both requests used to insert the same names and
    the second failed on the unique key (a 500 on PostgreSQL)."""
    reviewer_id = world["reviewer"].id

    def save(names):
        def attempt():
            reviewer = db.session.get(User, reviewer_id)
            reviews.set_affiliations(actor=reviewer, reviewer=reviewer, names=names)
        return attempt

    outcomes, errors = race(app, [save(["Acme Ambulance", "County Board"]), save(["Acme Ambulance", "County Board"]),
                                  save(["Acme Ambulance", "County Board"])])
    assert errors == [] and outcomes == ["ok", "ok", "ok"]
    db.session.expire_all()
    names = db.session.scalars(sa.select(ReviewerAffiliation.organization_name).where(ReviewerAffiliation.user_id == reviewer_id)
                               .order_by(ReviewerAffiliation.organization_name)).all()
    assert names == ["Acme Ambulance", "County Board"]


def test_two_tabs_declaring_at_once_both_land_on_the_review_with_one_declaration(world, app, make_client, monkeypatch):
    """The tab whose declaration came second is told it was already made and taken to the review,
    not shown the declaration form again."""
    _slow_after(monkeypatch, "_own")
    url = f"/reviews/{world['assignment'].id}/declare"
    browsers = [make_client(world["reviewer"]), make_client(world["reviewer"])]
    landed = []

    def declare(browser, form):
        def attempt():
            response = browser.post_form(url, form)
            landed.append((response.status_code, response.headers.get("Location")))
        return attempt

    outcomes, errors = race(app, [declare(browsers[0], {"declaration": "none"}),
                                  declare(browsers[1], {"declaration": "conflict", "reason": "Board member"})])
    assert errors == [] and outcomes == ["ok", "ok"]
    assert [status for status, _ in landed] == [302, 302]
    db.session.expire_all()
    declarations = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.action.in_(("review.conflict_declared", "review.no_conflict_declared")))).all()
    assert len(declarations) == 1
