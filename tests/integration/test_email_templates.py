"""Every e-mail template renders from real objects into a plain-text message a person can read:
money and dates formatted, nothing left unrendered, no "None"; a language without its own text
falls back to English (issue 14, notification texts; issue 18 adds the Spanish texts)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from jinja2 import ChoiceLoader, DictLoader, UndefinedError

from grants.accounts import services as accounts
from grants.applications import services as applications
from grants.awards import services as awards
from grants.clock import agency_today
from grants.extensions import db
from grants.notifications import emails
from grants.notifications.emails import notify, render_email
from grants.notifications.models import OutboxMessage
from grants.reviews.models import Decision
from tests import factories

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
MONEY = re.compile(r"\$\d{1,3}(?:,\d{3})*\.\d{2}")
MONTH = re.compile(r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
                   r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}\b")


def template_events() -> set[str]:
    return {path.stem for path in TEMPLATES.glob("*.txt")}


@pytest.fixture
def objects(app):
    """One of each object a message is about, made through the services as the app makes them."""
    app.config["PUBLIC_BASE_URL"] = "https://grants.example.gov"
    officer = factories.make_user(email="po@state.gov", name="Olive Officer", roles={"program_officer"})
    finance = factories.make_user(email="finance@state.gov", name="Fay Finance", roles={"finance"})
    reviewer = factories.make_user(email="rev@state.gov", name="Rita Reviewer", roles={"reviewer"})
    member = factories.make_user(email="member@example.org", name="Mia Member")
    organization = factories.make_organization(members=[member], legal_name="Lakeside Responders")
    program = factories.make_program(officer=officer, review_deadline=datetime(2027, 3, 1, 17, tzinfo=UTC))

    draft = factories.make_application(program=program, organization=organization, actor=member)
    applications.grant_extension(actor=officer, application=draft, until=program.closes_at + timedelta(days=3), reason="Storm")
    ineligible = factories.make_application(program=program, organization=organization, actor=member)
    applications.submit_application(actor=member, application_id=ineligible.id, certified=True)
    applications.screen_application(actor=officer, application=ineligible, eligible=False, reason="Outside the state")
    award = factories.make_award(officer=officer, program=program, member=member, organization=organization)
    award.conditions = "Quarterly site visits"
    application = award.application
    assignment = factories.review(officer=officer, application=factories.make_eligible_application(
        program=program, organization=organization, actor=member, officer=officer), reviewer=reviewer, points=None, conflicted=True)
    payment = awards.request_payment(actor=member, award_id=award.id, amount_cents=100_000, period_start=None, period_end=None,
                                     description="Posters")
    awards.approve_payment(actor=finance, disbursement_id=payment.id, comment="Receipts checked")
    awards.mark_paid(actor=finance, disbursement_id=payment.id, paid_on=agency_today(), payment_reference="V-77")
    report = award.reports[0]
    metrics = {"people_served": 10, "calls_answered": 20, "referrals": 3, "awareness_events": 1, "partner_meetings": 2}
    awards.submit_report(actor=member, report_id=report.id, metrics=metrics, narrative="First quarter")
    awards.review_report(actor=officer, report_id=report.id, accept=False, comment="Add calls from transit stations.")
    award.termination_reason = "The partner library closed."
    decision = db.session.scalars(sa.select(Decision).where(Decision.application_id == application.id)).one()
    db.session.flush()
    return {"officer": officer, "member": member, "organization": organization, "draft": draft, "ineligible": ineligible,
            "application": application, "decision": decision, "award": award, "assignment": assignment,
            "payment": payment, "report": report}


def contexts(o) -> dict[str, dict]:
    """What each service passes to ``notify`` for its event (the grantee's application is added by notify_grantee)."""
    award = {"application": o["application"], "award": o["award"]}
    return {
        "registration_attempted": {"user": o["member"]},
        "account_ready": {"user": o["member"]},
        "staff_account_created": {"user": o["officer"], "token": "t0ken"},
        "password_reset": {"user": o["member"], "token": "t0ken"},
        "member_invited": {"actor": o["member"], "organization": o["organization"], "token": "t0ken"},
        "application_received": {"application": o["ineligible"], "actor": o["member"]},
        "application_eligible": {"application": o["application"]},
        "application_ineligible": {"application": o["ineligible"]},
        "extension_granted": {"application": o["draft"]},
        "review_assigned": {"assignment": o["assignment"]},
        "review_unassigned": {"application": o["application"]},
        "conflict_declared": {"assignment": o["assignment"]},
        "review_reopened": {"assignment": o["assignment"], "reason": "Check criterion 2"},
        "application_approved": {"application": o["application"], "decision": o["decision"]},
        "application_declined": {"application": o["application"], "decision": o["decision"]},
        "application_waitlisted": {"application": o["application"], "decision": o["decision"]},
        "award_made": award,
        "award_terminated": award,
        "award_closed": {**award, "paid_cents": 100_000},
        "payment_approved": {**award, "disbursement": o["payment"]},
        "payment_rejected": {**award, "disbursement": o["payment"]},
        "payment_made": {**award, "disbursement": o["payment"]},
        "report_revision_requested": {**award, "report": o["report"]},
        "report_due_soon": {**award, "report": o["report"]},
        "report_overdue": {**award, "report": o["report"]},
    }


def test_every_template_renders_a_readable_message_from_real_objects(objects):
    cases = contexts(objects)
    assert set(cases) == template_events(), "give each template in templates/email a context here"
    for event, context in sorted(cases.items()):
        source = (TEMPLATES / f"{event}.txt").read_text()
        message = render_email(event, **context)
        text = f"{message.subject}\n{message.body}"
        assert message.subject and message.body, event
        assert "\n" not in message.subject and message.subject == message.subject.strip(), (event, message.subject)
        assert message.body == message.body.strip(), event
        for leftover in ("{{", "}}", "{%", "%}", "{#", "None", "Undefined"):
            assert leftover not in text, (event, leftover, text)
        if "|money" in source:
            assert MONEY.search(text), (event, text)
            assert not re.search(r"\b\d{5,}\b", text.replace("V-77", "")), (event, "unformatted cents", text)
        if "|day" in source or "|instant" in source:
            assert MONTH.search(text), (event, text)
        if "external_url" in source:
            assert "https://grants.example.gov/" in message.body, (event, message.body)
    award = objects["award"]
    made = render_email("award_made", **cases["award_made"])
    assert "of $50,000.00 to Lakeside Responders" in made.body and "for January 1, 2027 to December 31, 2027." in made.body
    assert "\n\nConditions: Quarterly site visits\n\nThe program officer" in made.body
    assert made.body.endswith(f"https://grants.example.gov/awards/{award.id}")
    paid = render_email("payment_made", **cases["payment_made"])
    assert paid.body.startswith(f"$1,000.00 was paid on {agency_today():%B %-d, %Y} (reference V-77).")
    assert render_email("report_due_soon", **cases["report_due_soon"]).subject == f"Due April 30: Quarterly report 1 for award {award.award_number}"
    revision = render_email("report_revision_requested", **cases["report_revision_requested"])
    assert "changes to quarterly report 1 (Jan 1 to Mar 31, 2027)." in revision.body


def test_a_message_is_plain_text_and_a_typed_line_break_stays_out_of_its_subject(objects):
    organization, member = objects["organization"], objects["member"]
    organization.legal_name = 'Fish & "Chips" <Responders>\r\nBcc: victim@example.org'
    accounts.invite_member(actor=member, organization=organization, email="friend@example.org")
    message = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "friend@example.org")).one()
    assert message.subject == 'Invitation to join Fish & "Chips" <Responders> Bcc: victim@example.org on the grants system'
    assert 'invited you to join Fish & "Chips" <Responders>' in message.body  # not &amp; or &#34;: a .txt is not escaped


def test_a_template_given_too_little_refuses_instead_of_leaving_a_gap(objects):
    with pytest.raises(UndefinedError):
        render_email("award_made", application=objects["application"])


def test_a_language_without_its_own_text_falls_back_to_english(app, objects, monkeypatch):
    spanish = {"email/es/password_reset.txt": "{% block subject %}Restablezca su contraseña{% endblock %}"
                                              "{% block body %}Hola {{ user.name }}{% endblock %}"}
    environment = emails._environment()
    monkeypatch.setitem(app.extensions, "grants.email_environment",
                        environment.overlay(loader=ChoiceLoader([DictLoader(spanish), environment.loader])))
    member = objects["member"]
    assert render_email("password_reset", locale="es", user=member, token="t") == emails.RenderedEmail(
        "Restablezca su contraseña", "Hola Mia Member")
    english = render_email("account_ready", locale="es", user=member)
    assert english == render_email("account_ready", user=member)
    assert english.subject == "Your State Office of Community Response grants account is ready"
    queued = notify("account_ready", to="mia@example.org", locale="es", user=member)
    assert [m.subject for m in queued] == [english.subject]


def test_notify_queues_one_message_per_address_and_a_dedupe_key_once(objects):
    member = objects["member"]
    assert len(notify("account_ready", to=["a@example.org", "b@example.org"], user=member)) == 2
    assert len(notify("account_ready", to="a@example.org", dedupe_key="welcome:a", user=member)) == 1
    assert notify("account_ready", to="a@example.org", dedupe_key="welcome:a", user=member) == []
    with pytest.raises(ValueError):
        notify("account_ready", to=["a@example.org", "b@example.org"], dedupe_key="welcome:ab", user=member)
