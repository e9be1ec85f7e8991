"""Deciding against the ranking's open flags: the decision page shows them, and approving while
they stand needs the officer's explicit confirmation."""

import pytest
import sqlalchemy as sa

from grants.applications.models import Application
from grants.extensions import db
from grants.reviews import services as reviews
from grants.reviews.models import Decision
from tests import factories


@pytest.fixture
def world(app):
    return factories.make_review_world(reviewers_per_application=2, with_reviewer=False)


def test_officers_see_standing_flags_and_must_confirm_to_approve_against_them(world, make_client):
    """One of two reviews in: the ranking flags "Too few reviews", so does the decision page, and an
    approval is recorded only with the box ticked."""
    application = world["application"]
    factories.review(officer=world["officer"], application=application, reviewer=factories.make_user(roles={"reviewer"}),
                     points=[10, 20, 30])
    db.session.commit()
    browser = make_client(world["officer"])
    ranking = browser.get(f"/programs/{world['program'].id}/ranking").get_data(as_text=True)
    assert "Too few reviews (1 of 2)" in ranking
    page = browser.get(f"/applications/{application.id}/reviews").get_data(as_text=True)
    assert "Too few reviews (1 of 2)" in page and "I have read the open flags and decide anyway" in page
    decide = f"/applications/{application.id}/decide"
    refused = browser.post_form(decide, {"outcome": "approved", "rationale": "Strong proposal"})
    assert refused.status_code == 200
    text = refused.get_data(as_text=True)
    assert 'id="flags_read-error"' in text and "Too few reviews (1 of 2)" in text
    assert "Strong proposal" in text  # what the officer typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 0
    assert db.session.get(Application, application.id).status == "under_review"
    done = browser.post_form(decide, {"outcome": "approved", "rationale": "Strong proposal", "flags_read": "y"})
    assert done.status_code == 302
    assert db.session.get(Application, application.id).status == "approved"


def test_declining_against_standing_flags_or_approving_with_none_needs_no_confirmation(world, make_client):
    application = world["application"]
    browser = make_client(world["officer"])
    decline = browser.post_form(f"/applications/{application.id}/decide", {"outcome": "declined", "rationale": "Out of scope"})
    assert decline.status_code == 302 and db.session.get(Application, application.id).status == "declined"
    # A fully reviewed application with agreeing scores raises no flag: no box to tick.
    other = factories.make_eligible_application(program=world["program"], organization=application.organization,
                                                actor=application.submitted_by, officer=world["officer"])
    for email in ("ra@state.gov", "rb@state.gov"):
        factories.review(officer=world["officer"], application=other, reviewer=factories.make_user(email=email, roles={"reviewer"}),
                         points=[10, 20, 30])
    db.session.commit()
    page = browser.get(f"/applications/{other.id}/reviews").get_data(as_text=True)
    assert "I have read the open flags" not in page
    approve = browser.post_form(f"/applications/{other.id}/decide", {"outcome": "approved", "rationale": "Strong"})
    assert approve.status_code == 302 and db.session.get(Application, other.id).status == "approved"


def test_a_recommendation_contradicting_its_score_is_a_flag_on_the_decision_page(world, make_client):
    application = world["application"]
    for email, recommendation in (("ra@state.gov", "fund"), ("rb@state.gov", "do_not_fund")):
        factories.review(officer=world["officer"], application=application, reviewer=factories.make_user(email=email, roles={"reviewer"}),
                         points=[10, 20, 30], recommendation=recommendation)
    db.session.commit()
    assert reviews.standing_flags(application) == ["Recommendation contradicts score"]
    page = make_client(world["officer"]).get(f"/applications/{application.id}/reviews").get_data(as_text=True)
    assert "Recommendation contradicts score" in page and "Too few reviews" not in page


def test_the_decision_pages_flags_are_the_rankings_flags(world):
    """Several applications, reviewers and kinds of flag: each application's flags on its decision
    page are those of its row in the ranking."""
    program, officer, application = world["program"], world["officer"], world["application"]
    others = [factories.make_eligible_application(program=program, organization=application.organization,
                                                  actor=application.submitted_by, officer=officer) for _ in range(3)]
    ra, rb, rc = (factories.make_user(email=f"{n}@state.gov", roles={"reviewer"}) for n in ("ra", "rb", "rc"))
    plan = {application: [(ra, [10, 20, 30], "fund"), (rb, [0, 0, 0], "do_not_fund")],  # spread
            others[0]: [(ra, [1, 2, 3], "fund"), (rc, [2, 2, 2], "fund")],  # contradictions
            others[1]: [(rb, [9, 18, 27], "fund")],  # too few
            others[2]: [(ra, [8, 16, 24], "fund"), (rb, [9, 18, 27], "fund_with_conditions")]}  # none
    for target, reviews_of in plan.items():
        for reviewer, points, recommendation in reviews_of:
            factories.review(officer=officer, application=target, reviewer=reviewer, points=points, recommendation=recommendation)
    db.session.commit()
    ranked = {row.application_id: row.flags for row in reviews.ranking(program)}
    assert sorted(flag[:12] for flags in ranked.values() for flag in flags) == ["Recommendati", "Scores sprea", "Too few revi"]
    for target in plan:
        assert reviews.standing_flags(target) == ranked[target.id], target.reference
