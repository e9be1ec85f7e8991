"""Submission rules: completeness, deadlines by server time, extensions, exactly-once submission."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from grants.accounts.models import User
from grants.applications import services
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import Application, Attachment, Partner
from grants.audit.models import AuditEvent
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from tests import factories
from tests.race import race

SUBMITTED = ApplicationStatus.SUBMITTED


@pytest.fixture
def setting(app):
    officer = factories.make_user(roles={"program_officer"})
    member = factories.make_user(email="member@example.org")
    organization = factories.make_organization(members=[member], county="Lake")
    program = factories.make_program(officer=officer, code="CRP", fiscal_year=2027)
    db.session.commit()
    return program, organization, member, officer


def test_references_follow_program_code_and_fiscal_year(setting):
    program, organization, member, _ = setting
    first = factories.make_application(program=program, organization=organization, actor=member, complete=False)
    second = factories.make_application(program=program, organization=organization, actor=member, complete=False)
    assert (first.reference, second.reference) == ("CRP-2027-0001", "CRP-2027-0002")


def test_a_complete_application_submits_once_with_a_receipt(setting):
    program, organization, member, _ = setting
    application = factories.make_application(program=program, organization=organization, actor=member)
    db.session.commit()
    assert services.completeness(application) == []
    services.submit_application(actor=member, application_id=application.id, certified=True)
    db.session.commit()
    assert application.status == SUBMITTED and application.submitted_by_id == member.id
    receipt = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == member.email)).one()
    assert application.reference in receipt.subject and application.reference in receipt.body
    with pytest.raises(services.NotAccepted, match="already submitted"):
        services.submit_application(actor=member, application_id=application.id, certified=True)
    db.session.rollback()
    submissions = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "application.submitted"))
    assert submissions == 1


def test_incomplete_application_lists_gaps_and_is_refused(setting):
    program, organization, member, _ = setting
    application = factories.make_application(program=program, organization=organization, actor=member, complete=False)
    gaps = services.completeness(application)
    assert {gap.step for gap in gaps} == {"project", "partners", "budget"}
    with pytest.raises(services.NotAccepted):
        services.submit_application(actor=member, application_id=application.id, certified=True)


@pytest.mark.parametrize("offset, accepted", [(-1, True), (0, False), (1, False)])
def test_deadline_is_judged_by_server_time(setting, offset, accepted):
    program, organization, member, _ = setting
    application = factories.make_application(program=program, organization=organization, actor=member)
    db.session.commit()
    at = program.closes_at + timedelta(seconds=offset)
    if accepted:
        services.submit_application(actor=member, application_id=application.id, certified=True, now=at)
        assert application.status == SUBMITTED
    else:
        with pytest.raises(services.NotAccepted, match="deadline passed"):
            services.submit_application(actor=member, application_id=application.id, certified=True, now=at)
        db.session.rollback()
        assert db.session.get(Application, application.id).status == "draft"


def test_extension_lets_one_application_submit_after_the_close(setting):
    program, organization, member, officer = setting
    late = factories.make_application(program=program, organization=organization, actor=member)
    other = factories.make_application(program=program, organization=organization, actor=member)
    services.grant_extension(actor=officer, application=late, until=program.closes_at + timedelta(days=2), reason="Flooded office")
    db.session.commit()
    after_close = program.closes_at + timedelta(days=1)
    services.submit_application(actor=member, application_id=late.id, certified=True, now=after_close)
    with pytest.raises(services.NotAccepted):
        services.submit_application(actor=member, application_id=other.id, certified=True, now=after_close)
    with pytest.raises(services.NotAccepted):
        services.submit_application(actor=member, application_id=late.id, certified=True, now=program.closes_at + timedelta(days=2))


def test_budget_must_fit_the_award_range_and_match(setting):
    program, organization, member, _ = setting
    application = factories.make_application(program=program, organization=organization, actor=member)
    services.save_budget(actor=member, application=application, lines=[
        {"category": "personnel", "description": "Too much", "amount_cents": program.award_ceiling_cents + 1},
    ], match_cents=0)
    problems = services.budget_problems(application)
    assert application.requested_cents == program.award_ceiling_cents + 1
    assert any("above the program's maximum" in p for p in problems)
    assert any("below the required 10%" in p for p in problems)


def test_non_members_cannot_change_or_submit(setting):
    program, organization, member, _ = setting
    application = factories.make_application(program=program, organization=organization, actor=member)
    outsider = factories.make_user()
    db.session.commit()
    with pytest.raises(services.DomainError):
        services.update_project(actor=outsider, application=application, fields={f: "x" for f in services.PROJECT_FIELDS})
    with pytest.raises(services.DomainError):
        services.submit_application(actor=outsider, application_id=application.id, certified=True)


def test_screening_notifies_and_needs_a_reason_for_ineligible(setting):
    program, organization, member, officer = setting
    application = factories.make_application(program=program, organization=organization, actor=member)
    services.submit_application(actor=member, application_id=application.id, certified=True)
    with pytest.raises(services.DomainError, match="reason"):
        services.screen_application(actor=officer, application=application, eligible=False, reason=" ")
    services.screen_application(actor=officer, application=application, eligible=False, reason="Outside the state")
    db.session.commit()
    assert application.status == "ineligible"
    notice = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.subject.contains("not eligible"))).first()
    assert "Outside the state" in notice.body


def _snapshot(application_id: int) -> dict:
    application = db.session.get(Application, application_id)
    return {
        "status": application.status,
        "title": application.title,
        "requested_cents": application.requested_cents,
        "budget": [(line.description, line.amount_cents) for line in application.budget_lines],
        "partners": [(partner.id, partner.name) for partner in application.partners],
        "attachments": sorted(attachment.id for attachment in application.attachments),
    }


def _edits(application: Application, member: User) -> dict:
    """One change per draft-editing service, each given the application as a route would load it."""
    partner_id = application.partners[0].id
    attachment_id = services.add_attachment(actor=member, application=application, kind="other", file=factories.pdf_upload("spare.pdf")).id
    fields = {"partner_type": "library", "name": "Renamed Library", "contact_name": "Pat",
              "contact_email": "pat@example.org", "role": "Hosts responders"}
    return {
        "update_project": lambda actor, a: services.update_project(
            actor=actor, application=a, fields={**{f: getattr(a, f) for f in services.PROJECT_FIELDS}, "title": "Changed after the receipt"}),
        "save_budget": lambda actor, a: services.save_budget(
            actor=actor, application=a, lines=[{"category": "personnel", "description": "Much more", "amount_cents": 9_900_000}], match_cents=1_000_000),
        "add_partner": lambda actor, a: services.add_partner(actor=actor, application=a, fields={**fields, "name": "Late Partner"}),
        "update_partner": lambda actor, a: services.update_partner(actor=actor, partner=db.session.get(Partner, partner_id), fields=fields),
        "remove_partner": lambda actor, a: services.remove_partner(actor=actor, partner=db.session.get(Partner, partner_id)),
        "add_attachment": lambda actor, a: services.add_attachment(actor=actor, application=a, kind="other", file=factories.pdf_upload("late.pdf")),
        "remove_attachment": lambda actor, a: services.remove_attachment(actor=actor, attachment=db.session.get(Attachment, attachment_id)),
    }

EDITS = ("update_project", "save_budget", "add_partner", "update_partner", "remove_partner", "add_attachment", "remove_attachment")


@pytest.mark.parametrize("edit", EDITS)
def test_a_save_racing_the_submission_never_changes_the_submitted_application(app, setting, edit):
    """The submission holds the application's row lock a moment; a save that arrives meanwhile waits for
    it and is refused. Without the lock, on PostgreSQL, the save read "draft" and wrote after the receipt."""
    import time

    program, organization, member, _ = setting
    application = factories.make_application(program=program, organization=organization, actor=member)
    change = _edits(application, member)[edit]
    db.session.commit()
    application_id, member_id = application.id, member.id
    submitted = {}

    def submit():
        services.submit_application(actor=db.session.get(User, member_id), application_id=application_id, certified=True)
        db.session.flush()
        submitted.update(_snapshot(application_id))  # what the receipt and the audit event describe
        time.sleep(0.5)  # commit late, holding the lock

    def save():
        time.sleep(0.15)  # arrive while the submission holds the lock, before it commits
        change(db.session.get(User, member_id), db.session.get(Application, application_id))

    outcomes, errors = race(app, [submit, save])
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    db.session.expire_all()
    assert _snapshot(application_id) == submitted
    assert submitted["status"] == SUBMITTED
    actions = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.entity_type == "application", AuditEvent.entity_id == str(application_id)).order_by(AuditEvent.id)).all()
    assert actions[-1] == "application.submitted"  # no change recorded after the submission


@pytest.mark.parametrize("edit", EDITS)
def test_draft_editing_services_refuse_a_submitted_application(setting, edit):
    program, organization, member, _ = setting
    application = factories.make_application(program=program, organization=organization, actor=member)
    change = _edits(application, member)[edit]
    services.submit_application(actor=member, application_id=application.id, certified=True)
    db.session.commit()
    before = _snapshot(application.id)
    with pytest.raises(services.DomainError, match="submitted and can no longer be changed"):
        change(member, application)
    db.session.rollback()
    assert _snapshot(application.id) == before


def test_an_extension_in_force_outlasts_the_program_closing(setting):
    from grants.programs import services as programs

    program, organization, member, officer = setting
    extended = factories.make_application(program=program, organization=organization, actor=member)
    expired = factories.make_application(program=program, organization=organization, actor=member)
    other = factories.make_application(program=program, organization=organization, actor=member)
    services.grant_extension(actor=officer, application=extended, until=program.closes_at + timedelta(days=5), reason="Flooded office")
    services.grant_extension(actor=officer, application=expired, until=program.closes_at + timedelta(days=1), reason="Storm")
    programs.change_program_status(actor=officer, program=program, status="closed")
    db.session.commit()
    later = program.closes_at + timedelta(days=2)
    assert services.submission_refusal(extended, later) is None
    with pytest.raises(services.NotAccepted, match="not accepting"):
        services.submit_application(actor=member, application_id=other.id, certified=True, now=later)
    with pytest.raises(services.NotAccepted, match="deadline passed"):
        services.submit_application(actor=member, application_id=expired.id, certified=True, now=later)
    services.submit_application(actor=member, application_id=extended.id, certified=True, now=later)
    assert extended.status == SUBMITTED

    # An archived program takes nothing, extension or not.
    archived_program = factories.make_program(officer=officer)
    kept = factories.make_application(program=archived_program, organization=organization, actor=member)
    services.grant_extension(actor=officer, application=kept, until=archived_program.closes_at + timedelta(days=5), reason="Flooded office")
    programs.change_program_status(actor=officer, program=archived_program, status="closed")
    programs.change_program_status(actor=officer, program=archived_program, status="archived")
    assert services.submission_refusal(kept, archived_program.closes_at + timedelta(days=1)) == "This funding opportunity is not accepting applications."


def test_a_budget_longer_than_the_limit_is_refused_by_the_service(setting):
    program, organization, member, _ = setting
    application = factories.make_application(program=program, organization=organization, actor=member)
    before = _snapshot(application.id)
    line = {"category": "personnel", "description": "Counselor", "amount_cents": 100_000}
    with pytest.raises(services.DomainError, match="at most 60 lines") as refused:
        services.save_budget(actor=member, application=application, lines=[line] * 61, match_cents=None)
    assert refused.value.field == "lines"
    assert _snapshot(application.id) == before
    services.save_budget(actor=member, application=application, lines=[line] * 60, match_cents=None)
    assert len(application.budget_lines) == 60
