"""Every event a person must act on or know about queues an outbox message with a clear subject and
an absolute link, driven through the services as the pages and the CLI drive them."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from grants.accounts.models import Membership
from grants.applications import services as applications
from grants.awards import services as awards
from grants.clock import agency_today
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.reviews import services as reviews
from tests import factories

LINK = re.compile(r"http://localhost(/\S+)")


@pytest.fixture
def world(app):
    # Links in messages queued outside a request (services, CLI) are built from PUBLIC_BASE_URL.
    app.config["PUBLIC_BASE_URL"] = "http://localhost"
    officer = factories.make_user(email="po@state.gov", name="Olive Officer", roles={"program_officer"})
    other_officer = factories.make_user(email="po2@state.gov", name="Otis Officer", roles={"program_officer"})
    finance = factories.make_user(email="finance@state.gov", roles={"finance"})
    reviewer = factories.make_user(email="rev@state.gov", name="Rita Reviewer", roles={"reviewer"})
    member = factories.make_user(email="member@example.org", name="Mia Member")
    colleague = factories.make_user(email="colleague@example.org", name="Cal Colleague")
    organization = factories.make_organization(members=[member, colleague], legal_name="Lakeside Responders",
                                               contact_email="office@lakeside.example.org")
    program = factories.make_program(officer=officer, code="CRP", fiscal_year=2027)
    db.session.commit()
    return {"officer": officer, "other_officer": other_officer, "finance": finance, "reviewer": reviewer,
            "member": member, "colleague": colleague, "organization": organization, "program": program}


def messages_since(mark: int) -> list[OutboxMessage]:
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id > mark).order_by(OutboxMessage.to_address, OutboxMessage.id)).all()


def last_id() -> int:
    return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboxMessage.id), 0)))


def assert_messages(queued, *, to: set[str], subject: str, path: str, body_has: tuple[str, ...] = ()) -> None:
    """One message per recipient, the subject exactly, and the body ends with an absolute link to ``path``."""
    assert {m.to_address for m in queued} == to, [m.to_address for m in queued]
    assert len(queued) == len(to)
    for message in queued:
        assert message.subject == subject
        assert LINK.search(message.body), message.body
        assert path in LINK.findall(message.body), (path, message.body)
        for text in body_has:
            assert text in message.body, (text, message.body)


GRANTEE = {"member@example.org", "colleague@example.org", "office@lakeside.example.org"}


def _submitted(world):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    mark = last_id()
    applications.submit_application(actor=world["member"], application_id=application.id, certified=True)
    return application, messages_since(mark)


def test_submission_sends_a_receipt_to_every_member_and_the_organization_contact(world):
    application, queued = _submitted(world)
    assert_messages(queued, to=GRANTEE, subject=f"Application {application.reference} received",
                    path=f"/applications/{application.id}", body_has=("Keep this e-mail as your receipt", "Requested: $50,000.00"))


def test_screening_ineligible_tells_the_grantee_why(world):
    application, _ = _submitted(world)
    mark = last_id()
    applications.screen_application(actor=world["officer"], application=application, eligible=False, reason="Outside the state")
    assert_messages(messages_since(mark), to=GRANTEE, subject=f"Application {application.reference} is not eligible",
                    path=f"/applications/{application.id}", body_has=("screened as ineligible", "Reason: Outside the state"))


def test_review_assignment_tells_the_reviewer_to_declare_first(world):
    program = world["program"]
    application = factories.make_eligible_application(program=program, organization=world["organization"], actor=world["member"],
                                                      officer=world["officer"])
    mark = last_id()
    assignment = reviews.assign_reviewer(actor=world["officer"], application=application, reviewer=world["reviewer"])
    assert_messages(messages_since(mark), to={"rev@state.gov"}, subject=f"Review assigned: {application.reference}",
                    path=f"/reviews/{assignment.id}", body_has=("declare whether you have a conflict of interest",))


def test_conflict_declared_tells_every_program_officer(world):
    application = factories.make_eligible_application(program=world["program"], organization=world["organization"], actor=world["member"],
                                                      officer=world["officer"])
    assignment = reviews.assign_reviewer(actor=world["officer"], application=application, reviewer=world["reviewer"])
    mark = last_id()
    reviews.declare_conflict(actor=world["reviewer"], assignment=assignment, conflicted=True, reason="Sits on their board")
    assert_messages(messages_since(mark), to={"po@state.gov", "po2@state.gov"},
                    subject=f"Conflict of interest declared on {application.reference}",
                    path=f"/programs/{world['program'].id}/reviews", body_has=("Rita Reviewer", "Reason: Sits on their board"))
    # Declaring no conflict tells no one.
    other = factories.make_eligible_application(program=world["program"], organization=world["organization"], actor=world["member"],
                                                officer=world["officer"])
    clean = reviews.assign_reviewer(actor=world["officer"], application=other, reviewer=world["reviewer"])
    mark = last_id()
    reviews.declare_conflict(actor=world["reviewer"], assignment=clean, conflicted=False, reason=None)
    assert messages_since(mark) == []


@pytest.mark.parametrize("outcome,wording", [
    ("approved", "has been approved for $50,000.00"),
    ("declined", "was not selected for funding"),
    ("waitlisted", "placed on the waiting list"),
])
def test_decision_tells_the_grantee_the_outcome(world, outcome, wording):
    application = factories.make_eligible_application(program=world["program"], organization=world["organization"], actor=world["member"],
                                                      officer=world["officer"])
    mark = last_id()
    reviews.decide(actor=world["officer"], application_id=application.id, outcome=outcome, approved_cents=None, rationale="Panel view",
                   flags_read=True)
    assert_messages(messages_since(mark), to=GRANTEE, subject=f"Decision on application {application.reference}",
                    path=f"/applications/{application.id}", body_has=(wording,))


def _award(world, **kwargs):
    return factories.make_award(officer=world["officer"], program=world["program"], member=world["member"],
                                organization=world["organization"], **kwargs)


def test_award_made_tells_the_grantee(world):
    mark = last_id()
    award = _award(world, active=False)
    made = [m for m in messages_since(mark) if m.subject.startswith("Award ")]
    assert_messages(made, to=GRANTEE, subject=f"Award {award.award_number} made", path=f"/awards/{award.id}",
                    body_has=("$50,000.00", "award agreement"))


def test_payment_approved_and_paid_tell_the_grantee(world):
    award = _award(world)
    payment = awards.request_payment(actor=world["member"], award_id=award.id, amount_cents=1_000_000, period_start=None,
                                     period_end=None, description="Salaries")
    mark = last_id()
    awards.approve_payment(actor=world["finance"], disbursement_id=payment.id)
    assert_messages(messages_since(mark), to=GRANTEE, subject=f"Payment approved on award {award.award_number}",
                    path=f"/awards/{award.id}", body_has=("$10,000.00 has been approved",))
    mark = last_id()
    awards.mark_paid(actor=world["finance"], disbursement_id=payment.id, paid_on=agency_today(), payment_reference="V-77")
    assert_messages(messages_since(mark), to=GRANTEE, subject=f"Payment made on award {award.award_number}",
                    path=f"/awards/{award.id}", body_has=("$10,000.00 was paid", "reference V-77"))


def test_a_payment_finance_records_by_hand_tells_the_grantee(world, make_client):
    award = _award(world)
    db.session.commit()
    mark = last_id()
    response = make_client(world["finance"]).post_form(f"/awards/{award.id}/payments/record", {
        "amount": "2,500", "paid_on": "2026-08-03", "payment_reference": "CHK-1042"})
    assert response.status_code == 302
    assert_messages(messages_since(mark), to=GRANTEE, subject=f"Payment made on award {award.award_number}",
                    path=f"/awards/{award.id}", body_has=("$2,500.00 was paid on August 3, 2026", "reference CHK-1042"))


def test_report_reminders_due_soon_and_overdue_once_each(world):
    today = date(2027, 5, 1)
    award = _award(world, start_date=date(2027, 1, 1), end_date=date(2027, 12, 31))
    first, second = award.reports[0], award.reports[1]  # due April 30 (overdue) and July 30
    mark = last_id()
    assert awards.queue_report_reminders(today) == 3  # the two members and the organization's contact address
    assert_messages(messages_since(mark), to=GRANTEE,
                    subject=f"Overdue: Quarterly report 1 for award {award.award_number}", path=f"/reports/{first.id}",
                    body_has=("was due on April 30, 2027",))
    assert awards.queue_report_reminders(today) == 0  # running twice queues nothing new
    mark = last_id()
    awards.queue_report_reminders(second.due_on - timedelta(days=10))
    soon = [m for m in messages_since(mark) if "Quarterly report 2" in m.subject]
    assert_messages(soon, to=GRANTEE,
                    subject=f"Due July 30: Quarterly report 2 for award {award.award_number}", path=f"/reports/{second.id}",
                    body_has=("is due on July 30, 2027",))


def test_reports_of_an_award_pending_agreement_are_reminded_as_the_overdue_page_lists_them(world, make_client, monkeypatch):
    award = _award(world, active=False, start_date=date(2027, 1, 1), end_date=date(2027, 12, 31))
    assert award.status == "pending_agreement"
    first = award.reports[0]  # due April 30
    db.session.commit()
    mark = last_id()
    assert awards.queue_report_reminders(date(2027, 5, 1)) == 3
    assert_messages(messages_since(mark), to=GRANTEE,
                    subject=f"Overdue: Quarterly report 1 for award {award.award_number}", path=f"/reports/{first.id}")
    db.session.commit()
    import grants.awards.routes as award_routes

    monkeypatch.setattr(award_routes, "agency_today", lambda: date(2027, 5, 1))
    page = make_client(world["officer"]).get(f"/programs/{world['program'].id}/reports").get_data(as_text=True)
    assert award.award_number in page  # the same report, on the page officers chase overdue reports from


def test_report_reminders_reach_addresses_of_any_legal_length_once(world):
    # Two addresses of 254 characters (the most an address may have) that share their first 200.
    domain = "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".org"
    long_addresses = {"a" * 63 + "1@" + domain, "a" * 63 + "2@" + domain}
    assert all(len(address) == 254 for address in long_addresses)
    for address in sorted(long_addresses):
        user = factories.make_user(email=address)
        db.session.add(Membership(user=user, organization=world["organization"]))
    award = _award(world, start_date=date(2027, 1, 1), end_date=date(2027, 12, 31))
    db.session.commit()
    mark = last_id()
    assert awards.queue_report_reminders(date(2027, 5, 1)) == 5
    db.session.commit()  # PostgreSQL checked the keys' length at the flush: nothing was refused
    queued = messages_since(mark)
    assert {m.to_address for m in queued} == GRANTEE | long_addresses
    assert all(m.subject == f"Overdue: Quarterly report 1 for award {award.award_number}" for m in queued)
    assert all(len(m.dedupe_key) <= 120 for m in queued) and len({m.dedupe_key for m in queued}) == 5
    report = award.reports[0]
    assert f"report:{report.id}:overdue:member@example.org" in {m.dedupe_key for m in queued}  # short keys as before
    assert awards.queue_report_reminders(date(2027, 5, 1)) == 0  # still once per address and stage


def test_revision_requested_tells_the_grantee_what_to_change(world):
    award = _award(world)
    report = award.reports[0]
    metrics = {"people_served": 10, "calls_answered": 20, "referrals": 3, "awareness_events": 1, "partner_meetings": 2}
    awards.submit_report(actor=world["member"], report_id=report.id, metrics=metrics, narrative="First quarter")
    mark = last_id()
    awards.review_report(actor=world["officer"], report_id=report.id, accept=False, comment="Add calls from transit stations.")
    assert_messages(messages_since(mark), to=GRANTEE,
                    subject=f"Revision requested: Quarterly report 1 for award {award.award_number}",
                    path=f"/awards/{award.id}", body_has=("Add calls from transit stations.",))


def test_links_queued_during_a_request_use_the_address_the_user_came_from(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    mark = last_id()
    response = make_client(world["member"]).post_form(f"/applications/{application.id}/submit", {"certify": "y"})
    assert response.status_code == 302
    assert_messages(messages_since(mark), to=GRANTEE, subject=f"Application {application.reference} received",
                    path=f"/applications/{application.id}")


def test_in_development_a_message_queued_by_a_request_is_written_to_the_log(app, world, make_client, caplog):
    """Without MAIL_SERVER, delivery after the request writes the e-mail to the log (what `make run` prints)."""
    app.config.update(OUTBOX_SEND_AFTER_REQUEST=True, MAIL_SERVER=None)
    application = factories.make_eligible_application(program=world["program"], organization=world["organization"], actor=world["member"],
                                                      officer=world["officer"])
    assignment = reviews.assign_reviewer(actor=world["officer"], application=application, reviewer=world["reviewer"])
    db.session.commit()
    mark = last_id()
    caplog.set_level(logging.INFO, logger="grants.outbox")
    response = make_client(world["reviewer"]).post_form(f"/reviews/{assignment.id}/declare", {"declaration": "conflict", "reason": "Board member"})
    assert response.status_code == 302
    queued = messages_since(mark)
    assert {m.to_address for m in queued} == {"po@state.gov", "po2@state.gov"}
    assert all(m.sent_at is not None and m.attempts == 1 for m in queued)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "grants.outbox")
    assert "E-mail to po@state.gov" in logged and f"Subject: Conflict of interest declared on {application.reference}" in logged
    assert f"http://localhost/programs/{world['program'].id}/reviews" in logged


def test_admin_outbox_lists_messages_and_send_now_delivers_them(world, make_client, caplog):
    _submitted(world)
    admin = factories.make_user(email="admin@state.gov", roles={"admin"})
    db.session.commit()
    browser = make_client(admin)
    page = browser.get("/admin/outbox/").get_data(as_text=True)
    assert "office@lakeside.example.org" in page and "received" in page and "Waiting" in page
    caplog.set_level(logging.INFO, logger="grants.outbox")
    assert browser.post_form("/admin/outbox/send").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.sent_at.is_(None))) == 0
    assert "E-mail to office@lakeside.example.org" in caplog.text
