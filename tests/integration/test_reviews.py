"""Reviewing through the web pages: the conflict gate, scoring, locking, ranking, decisions."""

import re
import time

import pytest
import sqlalchemy as sa

from grants.accounts.models import User
from grants.applications.models import Application
from grants.audit.models import AuditEvent
from grants.db import lock_row
from grants.errors import DomainError
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.programs.models import Program
from grants.reviews import services as reviews
from grants.reviews.models import Decision, ReviewAssignment
from tests import factories
from tests.race import race


@pytest.fixture
def world(app):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    member = factories.make_user(email="member@example.org")
    organization = factories.make_organization(members=[member], legal_name="Lakeside Responders")
    program = factories.make_program(officer=officer, reviewers_per_application=2, share_reviewer_comments=True)
    application = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer)
    r1 = factories.make_user(email="r1@state.gov", name="Rita One", roles={"reviewer"})
    r2 = factories.make_user(email="r2@state.gov", name="Raj Two", roles={"reviewer"})
    r3 = factories.make_user(email="r3@state.gov", name="Ros Three", roles={"reviewer"})
    db.session.commit()
    return {"officer": officer, "member": member, "program": program, "application": application, "reviewers": (r1, r2, r3)}


def _assign(world, reviewer):
    assignment = reviews.assign_reviewer(actor=world["officer"], application=world["application"], reviewer=reviewer)
    db.session.commit()
    return assignment


def test_reviewer_declares_no_conflict_scores_and_submits(world, make_client):
    r1 = world["reviewers"][0]
    assignment = _assign(world, r1)
    browser = make_client(r1)
    gate = browser.get(f"/reviews/{assignment.id}").data.decode()
    assert "Lakeside Responders" in gate and "Library Partner" in gate
    assert "Library and transit crisis partnership" not in gate  # no content before the declaration
    assert browser.post_form(f"/reviews/{assignment.id}/declare", {"declaration": "none"}).status_code == 302
    page = browser.get(f"/reviews/{assignment.id}").data.decode()
    assert "Library and transit crisis partnership" in page
    criteria = world["program"].criteria
    form = {f"points_{c.id}": str(c.max_points) for c in criteria}
    form.update({f"comment_{c.id}": "Strong" for c in criteria})
    form.update({"overall_comment": "Fund it", "recommendation": "fund", "action": "submit"})
    assert browser.post_form(f"/reviews/{assignment.id}", form).status_code == 302
    db.session.refresh(assignment)
    assert assignment.status == "submitted" and assignment.total_score == pytest.approx(100)
    # Locked: a later post changes nothing.
    browser.post_form(f"/reviews/{assignment.id}", {**form, f"points_{criteria[0].id}": "0", "action": "submit"})
    db.session.refresh(assignment)
    assert assignment.total_score == pytest.approx(100)
    db.session.refresh(world["program"])
    assert world["program"].rubric_frozen_at is not None


def test_points_out_of_range_or_not_whole_are_refused(world, make_client):
    r1 = world["reviewers"][0]
    assignment = _assign(world, r1)
    browser = make_client(r1)
    browser.post_form(f"/reviews/{assignment.id}/declare", {"declaration": "none"})
    c = world["program"].criteria[0]
    for bad in (str(c.max_points + 1), "-1", "2.5", "ten"):
        response = browser.post_form(f"/reviews/{assignment.id}", {f"points_{c.id}": bad, "action": "save"})
        assert response.status_code == 200, bad
        assert b"usa-error-message" in response.data, bad
    assert not db.session.scalars(sa.select(ReviewAssignment)).one().scores


def test_submitting_needs_every_criterion_and_a_recommendation(world, make_client):
    r1 = world["reviewers"][0]
    assignment = _assign(world, r1)
    browser = make_client(r1)
    browser.post_form(f"/reviews/{assignment.id}/declare", {"declaration": "none"})
    c = world["program"].criteria[0]
    response = browser.post_form(f"/reviews/{assignment.id}", {f"points_{c.id}": "1", "action": "submit"})
    assert b"Score every criterion" in response.data
    db.session.refresh(assignment)
    assert assignment.status == "in_progress"


def test_conflicted_and_unassigned_reviewers_never_see_content(world, make_client):
    r1, r2, r3 = world["reviewers"]
    application = world["application"]
    attachment = application.attachments[0]
    conflicted = _assign(world, r1)
    pending = _assign(world, r3)
    browser = make_client(r1)
    assert browser.post_form(f"/reviews/{conflicted.id}/declare", {"declaration": "conflict", "reason": ""}).status_code == 200
    browser.post_form(f"/reviews/{conflicted.id}/declare", {"declaration": "conflict", "reason": "I sit on its board"})
    db.session.refresh(conflicted)
    assert conflicted.status == "recused"
    notice = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "po@state.gov", OutboxMessage.subject.contains("Conflict"))).one()
    assert "I sit on its board" in notice.body
    recused_page = browser.get(f"/reviews/{conflicted.id}").data.decode()
    assert "recused" in recused_page and "Library and transit crisis partnership" not in recused_page
    for who in (r1, r2, r3):  # conflicted, unassigned, assigned but not yet declared
        client = make_client(who)
        for url in (f"/applications/{application.id}", f"/attachments/{attachment.id}", f"/applications/{application.id}/reviews"):
            assert client.get(url).status_code == 404, (who.email, url)
    assert make_client(r2).get(f"/reviews/{pending.id}").status_code == 404  # someone else's assignment


def test_reviewers_do_not_see_each_others_scores(world, make_client):
    r1, r2, _ = world["reviewers"]
    factories.review(officer=world["officer"], application=world["application"], reviewer=r1, points=[7, 13, 21])
    second = _assign(world, r2)
    db.session.commit()
    browser = make_client(r2)
    browser.post_form(f"/reviews/{second.id}/declare", {"declaration": "none"})
    page = browser.get(f"/reviews/{second.id}").data.decode()
    assert "Rita One" not in page and 'value="21"' not in page


def test_auto_assign_fills_evenly_and_skips_affiliated_reviewers(world, make_client):
    officer, program = world["officer"], world["program"]
    r1, r2, r3 = world["reviewers"]
    reviews.set_affiliations(actor=r1, reviewer=r1, names=["lakeside responders"])
    member = world["member"]
    for i in range(3):
        organization = factories.make_organization(members=[member], legal_name=f"Other Org {i}")
        factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer)
    db.session.commit()
    assert make_client(officer).post_form(f"/programs/{program.id}/reviews/auto-assign").status_code == 302
    rows = db.session.execute(sa.select(ReviewAssignment.application_id, ReviewAssignment.reviewer_id)).all()
    per_application = {}
    for application_id, reviewer_id in rows:
        per_application.setdefault(application_id, set()).add(reviewer_id)
    assert all(len(reviewers) == 2 for reviewers in per_application.values())
    assert r1.id not in per_application[world["application"].id]
    load = [sum(1 for _, rid in rows if rid == r.id) for r in (r1, r2, r3)]
    assert max(load) - min(load) <= 1 and sum(load) == 8


def test_officer_reopens_a_review_with_a_reason(world, make_client):
    r1 = world["reviewers"][0]
    assignment = factories.review(officer=world["officer"], application=world["application"], reviewer=r1, points=[5, 5, 5])
    db.session.commit()
    officer = make_client(world["officer"])
    assert b"Give a reason." in officer.post_form(f"/reviews/{assignment.id}/reopen", {"reason": ""}).data
    officer.post_form(f"/reviews/{assignment.id}/reopen", {"reason": "Scored the wrong application"})
    db.session.refresh(assignment)
    assert assignment.status == "in_progress" and assignment.total_score is None
    assert reviews.ranking(world["program"])[0].reviews == 0


def test_ranking_and_summary_pages_show_the_numbers(world, make_client):
    r1, r2, _ = world["reviewers"]
    factories.review(officer=world["officer"], application=world["application"], reviewer=r1, points=[10, 20, 30])
    factories.review(officer=world["officer"], application=world["application"], reviewer=r2, points=[0, 0, 0], recommendation="do_not_fund")
    db.session.commit()
    officer = make_client(world["officer"])
    ranking = officer.get(f"/programs/{world['program'].id}/ranking").data.decode()
    assert world["application"].reference in ranking and "50.0" in ranking and "Scores spread 100.0 points" in ranking
    assert officer.get(f"/programs/{world['program'].id}/ranking?order=normalized").status_code == 200
    summary = officer.get(f"/applications/{world['application'].id}/reviews").data.decode()
    assert "Rita One" in summary and "Raj Two" in summary and "100.0" in summary and "0.0" in summary


def test_decision_is_audited_notified_and_shown_to_the_applicant_without_reviewer_names(world, make_client):
    r1 = world["reviewers"][0]
    factories.review(officer=world["officer"], application=world["application"], reviewer=r1, points=[10, 20, 30])
    db.session.commit()
    application = world["application"]
    officer = make_client(world["officer"])
    too_much = officer.post_form(f"/applications/{application.id}/decide", {"outcome": "approved", "approved_amount": str(application.requested_cents), "rationale": "Strong"})
    assert b"at most the requested" in too_much.data
    response = officer.post_form(f"/applications/{application.id}/decide", {"outcome": "approved", "approved_amount": "40,000", "rationale": "Strong partnership",
                                                                                 "flags_read": "y"})  # 1 of 2 reviews in
    assert response.status_code == 302
    db.session.refresh(application)
    assert application.status == "approved" and application.approved_cents == 4_000_000
    notice = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "member@example.org", OutboxMessage.subject.contains("Decision"))).one()
    assert "$40,000.00" in notice.body
    page = make_client(world["member"]).get(f"/applications/{application.id}").data.decode()
    assert "Approved" in page and "Comment on Criterion 1" in page and "Reviewer 1" in page
    assert "Rita One" not in page and "r1@state.gov" not in page


def test_a_second_reviewer_reads_the_proposal_but_not_the_decision_or_the_other_comments(world, make_client):
    r1, r2, _ = world["reviewers"]
    application = world["application"]
    factories.review(officer=world["officer"], application=application, reviewer=r1, points=[10, 20, 30])
    second = _assign(world, r2)
    reviews.declare_conflict(actor=r2, assignment=second, conflicted=False, reason=None)
    reviews.decide(actor=world["officer"], application_id=application.id, outcome="waitlisted", approved_cents=None,
                   rationale="Waiting on the county's match letter")
    db.session.commit()
    page = make_client(r2).get(f"/applications/{application.id}").data.decode()
    assert application.title in page
    assert "Waiting on the county" not in page and "Comment on Criterion 1" not in page and "Reviewers' comments" not in page
    assert "Waitlisted" not in page  # not even the status
    applicant_page = make_client(world["member"]).get(f"/applications/{application.id}").data.decode()
    assert "Waiting on the county" in applicant_page and "Comment on Criterion 1" in applicant_page


def test_a_conflict_declaration_stays_on_record_and_the_reviewer_is_not_assigned_again(world, make_client):
    r1 = world["reviewers"][0]
    conflicted = factories.review(officer=world["officer"], application=world["application"], reviewer=r1, points=None, conflicted=True)
    db.session.commit()
    officer = make_client(world["officer"])
    page = officer.post_form(f"/reviews/{conflicted.id}/remove", follow_redirects=True).data.decode()
    assert "declared a conflict of interest" in page
    officer.post_form(f"/programs/{world['program'].id}/reviews/auto-assign")
    mine = db.session.scalars(sa.select(ReviewAssignment).where(ReviewAssignment.reviewer_id == r1.id)).all()
    assert [(a.id, a.coi_status) for a in mine] == [(conflicted.id, "conflicted")]


def test_removing_an_assignment_tells_the_reviewer_and_refuses_a_submitted_review(world, make_client):
    r1, r2, _ = world["reviewers"]
    pending = _assign(world, r1)
    submitted = factories.review(officer=world["officer"], application=world["application"], reviewer=r2, points=[10, 20, 30])
    db.session.commit()
    pending_id = pending.id
    officer = make_client(world["officer"])
    page = officer.post_form(f"/reviews/{pending_id}/remove", follow_redirects=True).get_data(as_text=True)
    assert "Assignment removed." in page
    assert db.session.get(ReviewAssignment, pending_id) is None
    told = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "r1@state.gov",
                                                            OutboxMessage.subject.contains("no longer needed"))).one()
    assert world["application"].reference in told.subject
    refused = officer.post_form(f"/reviews/{submitted.id}/remove", follow_redirects=True).get_data(as_text=True)
    assert "A submitted review cannot be removed" in refused
    assert db.session.get(ReviewAssignment, submitted.id) is not None


def test_officer_replaces_a_reviewer_who_has_not_submitted_and_assigns_another_beside_a_recused_one(world, make_client):
    officer, program, application = world["officer"], world["program"], world["application"]
    r1, r2, r3 = world["reviewers"]
    r4 = factories.make_user(email="r4@state.gov", name="Rui Four", roles={"reviewer"})
    reviews.set_affiliations(actor=r4, reviewer=r4, names=["Lakeside Responders"])
    drafting = _assign(world, r1)
    reviews.declare_conflict(actor=r1, assignment=drafting, conflicted=False, reason=None)
    reviews.save_review(actor=r1, assignment=drafting, points={program.criteria[0].id: 3}, comments={}, overall_comment="", recommendation=None)
    recused = factories.review(officer=officer, application=application, reviewer=r2, points=None, conflicted=True)
    db.session.commit()
    drafting_id = drafting.id  # the row goes away
    browser = make_client(officer)

    manage = browser.get(f"/programs/{program.id}/reviews").get_data(as_text=True)
    assert f'href="/reviews/{drafting_id}/replace">Replace' in manage
    assert f'href="/reviews/{recused.id}/replace">Assign another reviewer' in manage
    assert f"/reviews/{recused.id}/remove" not in manage

    # Only eligible reviewers are offered: not the one leaving, not the recused one, not the affiliated one.
    page = browser.get(f"/reviews/{drafting_id}/replace").get_data(as_text=True)
    assert "Replace Rita One on" in page and f'<option value="{r3.id}">Ros Three</option>' in page
    assert all(f'value="{r.id}"' not in page for r in (r1, r2, r4))
    forged = browser.post_form(f"/reviews/{drafting_id}/replace", {"reviewer_id": str(r4.id)})
    assert forged.status_code == 200 and b"usa-error-message" in forged.data and b"Not a valid choice" in forged.data
    assert browser.post_form(f"/reviews/{drafting_id}/replace", {}).status_code == 200

    done = browser.post_form(f"/reviews/{drafting_id}/replace", {"reviewer_id": str(r3.id)}, follow_redirects=True).get_data(as_text=True)
    assert "Ros Three now reviews" in done and "in place of Rita One" in done
    rows = db.session.execute(sa.select(ReviewAssignment.reviewer_id, ReviewAssignment.status, ReviewAssignment.coi_status)
                              .where(ReviewAssignment.application_id == application.id).order_by(ReviewAssignment.id)).all()
    assert [tuple(row) for row in rows] == [(r2.id, "recused", "conflicted"), (r3.id, "assigned", "pending")]
    assert db.session.get(ReviewAssignment, drafting_id) is None  # with its draft scores
    assert make_client(r1).get(f"/reviews/{drafting_id}").status_code == 404
    notice = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "r3@state.gov")).one()
    assert application.reference in notice.subject
    told = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "r1@state.gov",
                                                            OutboxMessage.subject.contains("no longer needed"))).one()
    assert application.reference in told.subject and "scores you had saved" in told.body
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "review.replaced")).one()
    assert event.changes["reviewer"] == {"before": "r1@state.gov", "after": "r3@state.gov"}
    assert event.changes["previous_kept"] is False and event.changes["previous_status"] == "in_progress"

    # The recused reviewer's declaration stays on record; another reviewer is assigned beside it.
    page = browser.get(f"/reviews/{recused.id}/replace").get_data(as_text=True)
    assert "Assign another reviewer to" in page and "declaration stays on record" in page
    assert f'value="{r1.id}"' in page and f'value="{r3.id}"' not in page
    browser.post_form(f"/reviews/{recused.id}/replace", {"reviewer_id": str(r1.id)})
    rows = db.session.execute(sa.select(ReviewAssignment.reviewer_id, ReviewAssignment.status)
                              .where(ReviewAssignment.application_id == application.id).order_by(ReviewAssignment.id)).all()
    assert [tuple(row) for row in rows] == [(r2.id, "recused"), (r3.id, "assigned"), (r1.id, "assigned")]
    assert db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "review.replaced").order_by(AuditEvent.id)).all()[-1].changes["previous_kept"] is True


def test_a_submitted_review_cannot_be_replaced(world, make_client):
    officer, application = world["officer"], world["application"]
    r1, _, r3 = world["reviewers"]
    submitted = factories.review(officer=officer, application=application, reviewer=r1, points=[5, 10, 15])
    db.session.commit()
    browser = make_client(officer)
    assert f"/reviews/{submitted.id}/replace" not in browser.get(f"/programs/{world['program'].id}/reviews").get_data(as_text=True)
    page = browser.get(f"/reviews/{submitted.id}/replace", follow_redirects=True).get_data(as_text=True)
    assert "Rita One has submitted this review; reopen it instead" in page
    page = browser.post_form(f"/reviews/{submitted.id}/replace", {"reviewer_id": str(r3.id)}, follow_redirects=True).get_data(as_text=True)
    assert "reopen it instead" in page
    # The service refuses too (a reviewer who submits while the officer has the page open).
    with pytest.raises(DomainError, match="cannot be handed to someone else"):
        reviews.replace_assignment(actor=officer, assignment_id=submitted.id, reviewer=r3)
    assert db.session.scalars(sa.select(ReviewAssignment.reviewer_id)).all() == [r1.id]


def test_approve_all_above_the_line_needs_confirmation(world, make_client):
    r1 = world["reviewers"][0]
    factories.review(officer=world["officer"], application=world["application"], reviewer=r1, points=[10, 20, 30])
    db.session.commit()
    officer = make_client(world["officer"])
    page = officer.get(f"/programs/{world['program'].id}/funding-line?reserve=y").data.decode()
    assert "Funding line" in page and world["application"].reference in page
    previewed = _previewed_line(page)
    officer.post_form(f"/programs/{world['program'].id}/funding-line/approve", {"order": "raw", "reserve": "y", "line": previewed})
    db.session.refresh(world["application"])
    assert world["application"].status == "under_review"
    officer.post_form(f"/programs/{world['program'].id}/funding-line/approve", {"order": "raw", "reserve": "y", "line": previewed, "confirm": "y"})
    db.session.refresh(world["application"])
    assert world["application"].status == "approved"
    assert world["application"].approved_cents == world["application"].requested_cents


def _previewed_line(page: str) -> str:
    return re.search(r'<input type="hidden" name="line" value="([0-9a-f]+)">', page).group(1)


def test_approving_a_line_that_changed_since_the_preview_approves_nothing_and_shows_the_new_line(world, make_client):
    officer, program, application = world["officer"], world["program"], world["application"]
    r1, r2, _ = world["reviewers"]
    factories.review(officer=officer, application=application, reviewer=r1, points=[5, 10, 15])
    later = factories.make_eligible_application(program=program, organization=application.organization, actor=world["member"], officer=officer)
    pending = factories.review(officer=officer, application=later, reviewer=r2, points=None)
    db.session.commit()
    browser = make_client(officer)
    preview = browser.get(f"/programs/{program.id}/funding-line").get_data(as_text=True)
    assert "Approve 1 application</button>" in preview and later.reference not in preview

    # Between the preview and the confirmation a review comes in: the later application, scored
    # higher, now ranks first and is funded too.
    criteria = program.criteria
    reviews.save_review(actor=r2, assignment=pending, points={c.id: c.max_points for c in criteria}, comments={},
                        overall_comment="", recommendation="fund")
    reviews.submit_review(actor=r2, assignment_id=pending.id)
    db.session.commit()
    page = browser.post_form(f"/programs/{program.id}/funding-line/approve",
                             {"order": "raw", "line": _previewed_line(preview), "confirm": "y"}, follow_redirects=True).get_data(as_text=True)
    assert "Nothing was approved: the funding line has changed since you previewed it" in page
    assert later.reference in page and "Approve 2 applications</button>" in page  # the line as it stands now
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 0
    db.session.refresh(application)
    assert application.status == "under_review"

    # Confirming the line now shown approves both.
    browser.post_form(f"/programs/{program.id}/funding-line/approve", {"order": "raw", "line": _previewed_line(page), "confirm": "y"})
    statuses = db.session.scalars(sa.select(Application.status).where(Application.id.in_([application.id, later.id]))).all()
    assert statuses == ["approved", "approved"]


def test_approving_above_the_line_while_officers_decide_single_applications_neither_deadlocks_nor_double_approves(world, app):
    """Funding-line approval locks many applications; single decisions lock one, then the program.

    Taken in different orders those locks deadlock on PostgreSQL; every outcome here must be an
    approval or a refusal the officer can read, and each application is decided once.
    """
    officer, program, r1 = world["officer"], world["program"], world["reviewers"][0]
    ids = [world["application"].id]
    for _ in range(7):
        application = factories.make_eligible_application(program=program, organization=world["application"].organization,
                                                          actor=world["member"], officer=officer)
        ids.append(application.id)
    for application_id in ids:
        factories.review(officer=officer, application=db.session.get(Application, application_id), reviewer=r1, points=[10, 20, 30])
    db.session.commit()
    officer_id, program_id = officer.id, program.id

    def above_line():
        program = db.session.get(Program, program_id)
        reviews.approve_above_line(actor=db.session.get(User, officer_id), program=program, order="raw", reserve_partner_types=False,
                                   previewed=reviews.funding_line(program, order="raw").digest)

    def single(application_id):
        def attempt():
            # An officer's decision holds its application and is a moment slow to reach the program.
            lock_row(Application, application_id)
            time.sleep(0.3)
            reviews.decide(actor=db.session.get(User, officer_id), application_id=application_id,
                           outcome="approved", approved_cents=None, rationale="Strong proposal", flags_read=True)
        return attempt

    outcomes, errors = race(app, [above_line] + [single(i) for i in reversed(ids[4:])] + [above_line])
    assert errors == []
    assert "ok" in outcomes
    db.session.expire_all()
    decisions = db.session.execute(
        sa.select(Decision.application_id, sa.func.count()).where(Decision.application_id.in_(ids)).group_by(Decision.application_id)
    ).all()
    assert all(count == 1 for _, count in decisions)
    approved = db.session.scalars(sa.select(Application.id).where(Application.id.in_(ids), Application.status == "approved")).all()
    assert {application_id for application_id, _ in decisions} == set(approved)


def test_concurrent_assignments_neither_fail_nor_duplicate(world, app):
    """Two officers auto-assigning at once (or a double click), and one assigning by hand meanwhile.

    Without locks each saw no assignments and inserted the same (application, reviewer) pair: the
    unique constraint failed with a 500 on PostgreSQL. The second must see the first's assignments.
    """
    officer, program, member = world["officer"], world["program"], world["member"]
    r1, r2, _ = world["reviewers"]
    for _ in range(5):
        factories.make_eligible_application(program=program, organization=factories.make_organization(members=[member]),
                                            actor=member, officer=officer)
    db.session.commit()
    officer_id, program_id, application_id, r1_id = officer.id, program.id, world["application"].id, r1.id

    def auto():
        reviews.auto_assign(actor=db.session.get(User, officer_id), program=db.session.get(Program, program_id))

    def by_hand():
        reviews.assign_reviewer(actor=db.session.get(User, officer_id), application=db.session.get(Application, application_id),
                                reviewer=db.session.get(User, r1_id))

    outcomes, errors = race(app, [auto, auto, by_hand, by_hand])
    assert errors == []
    assert len(outcomes) == 4 and "refused" in outcomes  # the auto-assigns succeed; at most one hand assignment does
    db.session.expire_all()
    pairs = db.session.execute(sa.select(ReviewAssignment.application_id, ReviewAssignment.reviewer_id)).all()
    assert len(pairs) == len(set(pairs))
    assert (application_id, r1_id) in pairs
    per_application = {}
    for assigned_to, _ in pairs:
        per_application[assigned_to] = per_application.get(assigned_to, 0) + 1
    # Every application filled to two reviewers and no further: the second auto-assign found the
    # first's work done. (The hand assignment may add a third reviewer to its application.)
    assert per_application.pop(application_id) in (2, 3)
    assert sorted(per_application.values()) == [2] * 5


def test_officers_assigning_overlapping_applications_by_hand_at_once_do_not_deadlock(world, app, make_client):
    """Each assignment locks its application; two officers choosing the same applications, listed in
    opposite orders, would each hold one the other waits for (a deadlock, a 500 on PostgreSQL)."""
    officer, program, member = world["officer"], world["program"], world["member"]
    second_officer = factories.make_user(email="po2@state.gov", roles={"program_officer"})
    ids = [world["application"].id]
    for _ in range(5):
        ids.append(factories.make_eligible_application(program=program, organization=factories.make_organization(members=[member]),
                                                       actor=member, officer=officer).id)
    db.session.commit()
    reviewer_ids = [str(r.id) for r in world["reviewers"]]
    expected = sorted((i, int(r)) for i in ids for r in reviewer_ids)
    browsers = [make_client(officer), make_client(second_officer)]
    url = f"/programs/{program.id}/reviews/assign"  # no test object is touched from the threads

    def assign(browser, order):
        def attempt():
            response = browser.post_form(url,
                                         {"application_ids": [str(i) for i in order], "reviewer_ids": reviewer_ids})
            assert response.status_code == 302, response.status_code
        return attempt

    outcomes, errors = race(app, [assign(browsers[0], ids), assign(browsers[1], list(reversed(ids)))])
    assert errors == [] and outcomes == ["ok", "ok"]
    db.session.expire_all()
    pairs = db.session.execute(sa.select(ReviewAssignment.application_id, ReviewAssignment.reviewer_id)).all()
    assert sorted(pairs) == expected



def test_assigning_by_hand_while_an_officer_decides_one_of_the_applications_does_not_deadlock(world, app, make_client):
    """Each assignment writes an audit event, and the audit chain's lock is held to the commit; a
    decision holds its application and then waits for that chain. The hand assignment must lock
    every chosen application before its first event, or the two wait on each other (PostgreSQL)."""
    officer, program, member = world["officer"], world["program"], world["member"]
    first = world["application"]
    second = factories.make_eligible_application(program=program, organization=first.organization, actor=member, officer=officer)
    factories.review(officer=officer, application=second, reviewer=world["reviewers"][2], points=[10, 20, 30])
    db.session.commit()
    officer_id, first_id, second_id = officer.id, first.id, second.id  # no test object is touched from the threads
    browser = make_client(officer)
    url = f"/programs/{program.id}/reviews/assign"
    reviewer_ids = [str(world["reviewers"][0].id)]

    def assign():
        response = browser.post_form(url, {"application_ids": [str(first_id), str(second_id)], "reviewer_ids": reviewer_ids})
        assert response.status_code == 302, response.status_code

    def decide():
        lock_row(Application, second_id)  # the decision holds its application a moment before writing
        time.sleep(0.4)
        reviews.decide(actor=db.session.get(User, officer_id), application_id=second_id, outcome="waitlisted",
                       approved_cents=None, rationale="Waiting on the county")

    outcomes, errors = race(app, [assign, decide])
    assert errors == [] and outcomes.count("ok") >= 1, (outcomes, errors)


def test_a_declared_conflict_outweighs_every_other_role(world, make_client):
    """An officer or admin who is also a reviewer and declared a conflict reads neither the content nor the scores."""
    officer_reviewer = factories.make_user(email="po-rev@state.gov", roles={"program_officer", "reviewer", "admin"})
    application = world["application"]
    factories.review(officer=world["officer"], application=application, reviewer=world["reviewers"][0], points=[10, 20, 30])
    db.session.commit()
    browser = make_client(officer_reviewer)
    assert browser.get(f"/applications/{application.id}").status_code == 200
    factories.review(officer=world["officer"], application=application, reviewer=officer_reviewer, points=None, conflicted=True)
    db.session.commit()
    for url in (f"/applications/{application.id}", f"/applications/{application.id}/reviews",
                f"/attachments/{application.attachments[0].id}"):
        assert browser.get(url).status_code == 404, url


def test_another_reviewer_beside_a_recused_one_only_up_to_the_programs_number(world, make_client):
    r1, r2, r3 = world["reviewers"]  # the program asks for 2 reviewers per application
    recused = factories.review(officer=world["officer"], application=world["application"], reviewer=r1, points=None, conflicted=True)
    _assign(world, r2)
    db.session.commit()
    officer = make_client(world["officer"])
    manage = officer.get(f"/programs/{world['program'].id}/reviews").get_data(as_text=True)
    assert f'href="/reviews/{recused.id}/replace">Assign another reviewer' in manage
    officer.post_form(f"/reviews/{recused.id}/replace", {"reviewer_id": str(r3.id)})
    manage = officer.get(f"/programs/{world['program'].id}/reviews").get_data(as_text=True)
    assert f'href="/reviews/{recused.id}/replace"' not in manage
    r4 = factories.make_user(email="r4@state.gov", name="Rui Four", roles={"reviewer"})
    db.session.commit()
    refused = officer.post_form(f"/reviews/{recused.id}/replace", {"reviewer_id": str(r4.id)}, follow_redirects=True).get_data(as_text=True)
    assert "already has 2 reviewers besides the recused one" in refused
    active = db.session.scalar(sa.select(sa.func.count(ReviewAssignment.id)).where(
        ReviewAssignment.application_id == world["application"].id, ReviewAssignment.status != "recused"))
    assert active == 2


def test_assignment_counts_read_as_english_one_and_many(world, make_client):
    """"1 assignment made.", not "1 assignment(s) made."."""
    officer, program = world["officer"], world["program"]
    r1, r2, _ = world["reviewers"]
    browser = make_client(officer)
    url = f"/programs/{program.id}/reviews/assign"
    page = browser.post_form(url, {"application_ids": [str(world["application"].id)], "reviewer_ids": [str(r1.id)]},
                             follow_redirects=True).get_data(as_text=True)
    assert "1 assignment made." in page and "(s)" not in page
    other = factories.make_eligible_application(program=program, organization=world["application"].organization,
                                                actor=world["member"], officer=officer)
    db.session.commit()
    page = browser.post_form(url, {"application_ids": [str(other.id)], "reviewer_ids": [str(r1.id), str(r2.id)]},
                             follow_redirects=True).get_data(as_text=True)
    assert "2 assignments made." in page
    page = browser.post_form(f"/programs/{program.id}/reviews/auto-assign", follow_redirects=True).get_data(as_text=True)
    assert "Auto-assign made 1 assignment." in page
