"""Program and application lifecycles: the transition tables, their refusals, the database's
CHECK constraints, and transitions racing on one row.

Every test runs on SQLite and PostgreSQL (the ``app`` fixture). A refused transition changes
nothing: no status, no audit event, no e-mail, no decision row.
"""

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from grants.applications import lifecycle as application_lifecycle
from grants.applications import services as applications
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import Application
from grants.audit.models import AuditEvent
from grants.errors import DomainError
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.programs import lifecycle as program_lifecycle
from grants.programs import services as programs
from grants.programs.lifecycle import ProgramStatus
from grants.programs.models import Program
from grants.reviews import services as reviews
from grants.reviews.models import Decision
from tests import factories
from tests.race import race


@pytest.fixture
def world(app):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    member = factories.make_user(email="member@example.org")
    organization = factories.make_organization(members=[member], legal_name="Lakeside Responders")
    program = factories.make_program(officer=officer)
    application = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer)
    db.session.commit()
    return {"officer": officer, "member": member, "organization": organization, "program": program, "application": application}


def _counts():
    return (db.session.scalar(sa.select(sa.func.count(AuditEvent.id))),
            db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))),
            db.session.scalar(sa.select(sa.func.count(Decision.id))))


def _status(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id).status


# Programs --------------------------------------------------------------------------------------


def test_an_archived_program_cannot_be_published_again(world):
    officer = world["officer"]
    program = factories.make_program(officer=officer, status="archived", slug="old-round", code="OLD")
    db.session.commit()
    before = _counts()
    with pytest.raises(DomainError) as refused:
        programs.change_program_status(actor=officer, program=program, status=ProgramStatus.PUBLISHED)
    assert refused.value.message == "An archived program cannot be published again."
    db.session.rollback()
    assert _status(Program, program.id) == ProgramStatus.ARCHIVED
    assert _counts() == before


def test_the_officer_reads_why_a_move_was_refused(world, make_client):
    """Posted by hand (the page offers no such button): the refusal is shown and nothing changes."""
    program = world["program"]
    programs.change_program_status(actor=world["officer"], program=program, status=ProgramStatus.CLOSED)
    programs.change_program_status(actor=world["officer"], program=program, status=ProgramStatus.ARCHIVED)
    db.session.commit()
    browser = make_client(world["officer"])
    response = browser.post_form(f"/programs/{program.id}/status", {"status": "closed"}, follow_redirects=True)
    assert response.status_code == 200
    assert "An archived program cannot be closed." in response.get_data(as_text=True)
    assert _status(Program, program.id) == ProgramStatus.ARCHIVED


@pytest.mark.parametrize("current", list(ProgramStatus))
def test_every_program_move_outside_the_table_is_refused(app, current):
    for target in ProgramStatus:
        allowed = target in program_lifecycle.TRANSITIONS[current]
        message = program_lifecycle.refusal(current, target)
        assert (message is None) == allowed, (current, target)
        if not allowed:
            assert message.endswith(".") and current.label.lower() in message
    assert program_lifecycle.refusal(current, "reopened") == "Choose one of the program statuses."


# Applications -----------------------------------------------------------------------------------


def _decide(world, outcome="declined"):
    return reviews.decide(actor=world["officer"], application_id=world["application"].id, outcome=outcome,
                          approved_cents=None, rationale="Below the line.", flags_read=True)


def test_a_decided_application_cannot_be_withdrawn(world):
    _decide(world)
    db.session.commit()
    before = _counts()
    with pytest.raises(DomainError) as refused:
        applications.withdraw_application(actor=world["member"], application=world["application"], reason="Changed plans")
    assert refused.value.message == "A declined application cannot be withdrawn."
    db.session.rollback()
    application = db.session.get(Application, world["application"].id)
    assert application.status == ApplicationStatus.DECLINED and application.withdrawn_at is None
    assert _counts() == before


def test_the_applicant_reads_why_a_withdrawal_was_refused(world, make_client):
    _decide(world, "approved")
    db.session.commit()
    browser = make_client(world["member"])
    response = browser.post_form(f"/applications/{world['application'].id}/withdraw", {"reason": "Changed plans"},
                                 follow_redirects=True)
    assert response.status_code == 200
    assert "An approved application cannot be withdrawn." in response.get_data(as_text=True)
    assert _status(Application, world["application"].id) == ApplicationStatus.APPROVED


def test_a_draft_cannot_be_decided(world):
    draft = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    before = _counts()
    with pytest.raises(DomainError) as refused:
        reviews.decide(actor=world["officer"], application_id=draft.id, outcome="approved", approved_cents=None,
                       rationale="Looks good.", flags_read=True)
    assert refused.value.message == (f"{draft.reference} is draft; only applications under review or waitlisted "
                                     "can be decided.")
    db.session.rollback()
    assert _status(Application, draft.id) == ApplicationStatus.DRAFT
    assert _counts() == before


def test_an_application_under_review_cannot_be_screened_again(world):
    before = _counts()
    with pytest.raises(DomainError, match="Only submitted applications can be screened; this one is under review."):
        applications.screen_application(actor=world["officer"], application=world["application"], eligible=False,
                                        reason="Out of area")
    db.session.rollback()
    assert _status(Application, world["application"].id) == ApplicationStatus.UNDER_REVIEW
    assert _counts() == before


def test_the_transition_function_refuses_what_the_table_does_not_allow(world):
    """Called directly (as a new service would), a move off the table changes nothing."""
    application = world["application"]
    before = _counts()
    with pytest.raises(DomainError, match="Only an approved application can be awarded"):
        application_lifecycle.transition(application, ApplicationStatus.AWARDED, actor=world["officer"],
                                         event="application.awarded")
    with pytest.raises(DomainError, match="cannot become draft"):
        application_lifecycle.transition(application, ApplicationStatus.DRAFT, actor=world["officer"], event="x")
    db.session.rollback()
    assert _status(Application, application.id) == ApplicationStatus.UNDER_REVIEW
    assert _counts() == before


@pytest.mark.parametrize("outcome, status", [("approved", ApplicationStatus.APPROVED), ("declined", ApplicationStatus.DECLINED),
                                             ("waitlisted", ApplicationStatus.WAITLISTED)])
def test_a_decision_puts_the_application_in_the_matching_status(world, outcome, status):
    _decide(world, outcome)
    db.session.commit()
    assert _status(Application, world["application"].id) == status
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "application.decided")).one()
    assert event.changes["status"] == {"before": "under_review", "after": status.value}


def test_the_decision_reads_in_each_audience_s_words(world, make_client):
    _decide(world, "declined")
    db.session.commit()
    application_id = world["application"].id
    applicant_page = make_client(world["member"]).get(f"/applications/{application_id}").get_data(as_text=True)
    assert "Decision: Not funded" in applicant_page
    officer_page = make_client(world["officer"]).get(f"/applications/{application_id}/reviews").get_data(as_text=True)
    assert "<strong>Declined</strong>" in officer_page


@pytest.mark.parametrize("current", list(ApplicationStatus))
def test_every_application_move_outside_the_table_is_refused(world, current):
    application = world["application"]
    application.status = current.value
    for target in ApplicationStatus:
        allowed = target in application_lifecycle.TRANSITIONS[current]
        assert (application_lifecycle.refusal(application, target) is None) == allowed, (current, target)
    db.session.rollback()


def test_predicates_answer_in_python_and_in_sql(world):
    application = world["application"]
    assert application.is_decidable and application.can_be_withdrawn and application.was_eligible
    assert not (application.is_draft or application.is_decided or application.can_be_screened)
    found = db.session.scalar(sa.select(sa.func.count(Application.id)).where(Application.is_decidable, Application.was_eligible,
                                                                            sa.not_(Application.is_decided)))
    assert found == 1
    assert db.session.scalar(sa.select(sa.func.count(Program.id)).where(Program.is_public, Program.is_published)) == 1


# The database -----------------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["program", "application"])
def test_the_database_refuses_an_unknown_status(world, table):
    row_id = world["program"].id if table == "program" else world["application"].id
    with pytest.raises(IntegrityError, match=f"ck_{table}_status|CHECK constraint failed"):
        db.session.execute(sa.text(f"UPDATE {table} SET status = 'reopened' WHERE id = :id"), {"id": row_id})
    db.session.rollback()
    model = Program if table == "program" else Application
    assert _status(model, row_id) in {s.value for s in (ProgramStatus if table == "program" else ApplicationStatus)}


# Races ------------------------------------------------------------------------------------------


def _slow_refusal(monkeypatch, module):
    """Widen the moment between reading the status and changing it, as a busy server might."""
    original = module.refusal

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(0.2)
        return result

    monkeypatch.setattr(module, "refusal", slow)


def _withdraw(member_id, application_id):
    def attempt():
        from grants.accounts.models import User

        applications.withdraw_application(actor=db.session.get(User, member_id),
                                          application=db.session.get(Application, application_id), reason="Changed plans")
    return attempt


def _decline(officer_id, application_id):
    def attempt():
        from grants.accounts.models import User

        reviews.decide(actor=db.session.get(User, officer_id), application_id=application_id, outcome="declined",
                       approved_cents=None, rationale="Below the line.", flags_read=True)
    return attempt


def test_two_withdrawals_at_once_withdraw_once(world, app, monkeypatch):
    _slow_refusal(monkeypatch, application_lifecycle)
    application_id = world["application"].id
    outcomes, errors = race(app, [_withdraw(world["member"].id, application_id)] * 2)
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    assert _status(Application, application_id) == ApplicationStatus.WITHDRAWN
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == "application.withdrawn")) == 1


def test_a_withdrawal_racing_a_decision_ends_in_one_valid_state(world, app, monkeypatch):
    _slow_refusal(monkeypatch, application_lifecycle)
    application_id = world["application"].id
    outcomes, errors = race(app, [_withdraw(world["member"].id, application_id), _decline(world["officer"].id, application_id)])
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    application = db.session.get(Application, application_id)
    decisions = db.session.scalar(sa.select(sa.func.count(Decision.id)).where(Decision.application_id == application_id))
    if application.status == ApplicationStatus.WITHDRAWN:
        assert decisions == 0 and application.withdrawn_at is not None
    else:
        assert application.status == ApplicationStatus.DECLINED and decisions == 1 and application.withdrawn_at is None


def test_archiving_racing_a_reopening_ends_in_one_valid_state(world, app, monkeypatch):
    program = world["program"]
    programs.change_program_status(actor=world["officer"], program=program, status=ProgramStatus.CLOSED)
    db.session.commit()
    _slow_refusal(monkeypatch, program_lifecycle)
    officer_id, program_id = world["officer"].id, program.id  # read here: the threads have their own sessions

    def move(to):
        def attempt():
            from grants.accounts.models import User

            programs.change_program_status(actor=db.session.get(User, officer_id),
                                           program=db.session.get(Program, program_id), status=to)
        return attempt

    outcomes, errors = race(app, [move(ProgramStatus.ARCHIVED), move(ProgramStatus.PUBLISHED)])
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    final = _status(Program, program_id)
    assert final in (ProgramStatus.ARCHIVED, ProgramStatus.PUBLISHED)
    moves = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "program.status_changed",
                                                           AuditEvent.entity_id == str(program_id)).order_by(AuditEvent.id)).all()
    assert moves[-1].changes["status"] == {"before": "closed", "after": final}
