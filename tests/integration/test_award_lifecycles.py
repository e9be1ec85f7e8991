"""Award, payment and progress-report lifecycles: one table of moves, refused moves change nothing,
racing moves end in one valid state, and the database refuses a status no lifecycle knows."""

import html
import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from grants.audit.models import AuditEvent
from grants.awards import services as awards
from grants.awards.lifecycle import (
    AWARD_TRANSITIONS,
    DISBURSEMENT_TRANSITIONS,
    REPORT_TRANSITIONS,
    AwardStatus,
    DisbursementStatus,
    ReportStatus,
    transition,
)
from grants.awards.models import Amendment, Award, Disbursement, ProgressReport
from grants.errors import DomainError
from grants.extensions import db
from tests import factories
from tests.race import race

ROOT = Path(__file__).resolve().parents[2]
METRICS = {"people_served": 10, "calls_answered": 5, "referrals": 2, "awareness_events": 1, "partner_meetings": 3}


@pytest.fixture
def people(app):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    member = factories.make_user(email="grantee@example.org")
    organization = factories.make_organization(members=[member])
    db.session.commit()
    return officer, finance, member, organization


def _award(people, **kwargs) -> Award:
    officer, _, member, organization = people
    award = factories.make_award(officer=officer, member=member, organization=organization, amount_cents=5_000_000, **kwargs)
    db.session.commit()
    return award


def _payment(people, award: Award) -> Disbursement:
    member = people[2]
    payment = awards.request_payment(actor=member, award_id=award.id, amount_cents=100_000, period_start=None,
                                     period_end=None, description="Salaries")
    db.session.commit()
    return payment


def _events(kind: str) -> int:
    return db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action == kind))


def _status(model, row_id: int) -> str:
    db.session.expire_all()
    return db.session.get(model, row_id).status


# The table ------------------------------------------------------------------------------------


def test_every_status_has_a_row_and_the_documented_moves():
    assert set(AWARD_TRANSITIONS) == set(AwardStatus)
    assert set(DISBURSEMENT_TRANSITIONS) == set(DisbursementStatus)
    assert set(REPORT_TRANSITIONS) == set(ReportStatus)
    assert AWARD_TRANSITIONS[AwardStatus.PENDING_AGREEMENT] == {AwardStatus.ACTIVE, AwardStatus.TERMINATED}
    assert AWARD_TRANSITIONS[AwardStatus.ACTIVE] == {AwardStatus.CLOSED, AwardStatus.TERMINATED}
    assert not AWARD_TRANSITIONS[AwardStatus.CLOSED] and not AWARD_TRANSITIONS[AwardStatus.TERMINATED]
    assert DISBURSEMENT_TRANSITIONS[DisbursementStatus.REQUESTED] == {DisbursementStatus.APPROVED, DisbursementStatus.VOID}
    assert DISBURSEMENT_TRANSITIONS[DisbursementStatus.APPROVED] == {DisbursementStatus.PAID, DisbursementStatus.VOID}
    assert not DISBURSEMENT_TRANSITIONS[DisbursementStatus.VOID]
    assert REPORT_TRANSITIONS[ReportStatus.REVISION_REQUESTED] == {ReportStatus.SUBMITTED}  # resubmission
    assert not REPORT_TRANSITIONS[ReportStatus.ACCEPTED]
    # Stored values did not change.
    assert [s.value for s in AwardStatus] == ["pending_agreement", "active", "closed", "terminated"]
    assert [s.value for s in DisbursementStatus] == ["requested", "approved", "paid", "void"]
    assert [s.value for s in ReportStatus] == ["due", "submitted", "accepted", "revision_requested"]


# Refused moves change nothing -----------------------------------------------------------------


def test_activating_a_terminated_award_is_refused_and_changes_nothing(people):
    officer = people[0]
    award = _award(people, active=False)
    awards.terminate_award(actor=officer, award_id=award.id, reason="Partner withdrew")
    db.session.commit()
    events = _events("award.activated")
    with pytest.raises(DomainError, match=rf"Award {award.award_number} is terminated; only an award pending agreement can be activated"):
        awards.activate_award(actor=officer, award_id=award.id, signed_on=date(2026, 11, 1))
    db.session.rollback()
    assert _status(Award, award.id) == "terminated"
    assert db.session.get(Award, award.id).agreement_signed_on is None
    assert _events("award.activated") == events


def test_the_transition_function_refuses_what_the_table_does_not_allow(people):
    officer = people[0]
    award = _award(people)
    with pytest.raises(DomainError, match="only an award pending agreement can be activated"):
        transition(award, AwardStatus.ACTIVE, actor=officer)
    assert _status(Award, award.id) == "active"
    assert _events("award.activated") == 1  # the factory's activation only


def test_paying_a_void_payment_is_refused_and_changes_nothing(people):
    _, finance, _, _ = people
    award = _award(people)
    payment = _payment(people, award)
    awards.reject_payment(actor=finance, disbursement_id=payment.id, comment="No receipts")
    db.session.commit()
    with pytest.raises(DomainError, match="This payment is void; only an approved payment can be marked paid."):
        awards.mark_paid(actor=finance, disbursement_id=payment.id, paid_on=date(2026, 11, 20), payment_reference="V-1")
    db.session.rollback()
    assert _status(Disbursement, payment.id) == "void"
    assert db.session.get(Disbursement, payment.id).paid_on is None
    assert _events("payment.paid") == 0
    with pytest.raises(DomainError, match="This payment is already void."):
        awards.void_payment(actor=finance, disbursement_id=payment.id, reason="Again")


def test_accepting_a_due_report_is_refused_and_changes_nothing(people):
    officer = people[0]
    award = _award(people)
    report = award.reports[0]
    with pytest.raises(DomainError, match="This report is due; only a submitted report can be reviewed."):
        awards.review_report(actor=officer, report_id=report.id, accept=True, comment="")
    db.session.rollback()
    assert _status(ProgressReport, report.id) == "due"
    assert db.session.get(ProgressReport, report.id).reviewed_at is None
    assert _events("report.accepted") == 0


def test_a_revised_report_goes_back_to_submitted_and_an_accepted_one_is_final(people):
    officer, _, member, _ = people
    report_id = _award(people).reports[0].id
    awards.submit_report(actor=member, report_id=report_id, metrics=METRICS, narrative="Quarter one")
    awards.review_report(actor=officer, report_id=report_id, accept=False, comment="Add the referrals by site")
    assert _status(ProgressReport, report_id) == "revision_requested"
    awards.submit_report(actor=member, report_id=report_id, metrics=METRICS, narrative="Quarter one, by site")
    assert _status(ProgressReport, report_id) == "submitted"
    awards.review_report(actor=officer, report_id=report_id, accept=True, comment="")
    db.session.commit()
    with pytest.raises(DomainError, match="This report is accepted and cannot be changed."):
        awards.submit_report(actor=member, report_id=report_id, metrics=METRICS, narrative="Changed")
    db.session.rollback()
    report = db.session.get(ProgressReport, report_id)
    assert (report.status, report.narrative) == ("accepted", "Quarter one, by site")
    statuses = [e.changes["status"] for e in db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action.like("report.%")).order_by(AuditEvent.id))]
    assert statuses == [{"before": "due", "after": "submitted"}, {"before": "submitted", "after": "revision_requested"},
                        {"before": "revision_requested", "after": "submitted"}, {"before": "submitted", "after": "accepted"}]


def test_a_user_reads_the_refusal_and_the_award_stays_terminated(people, make_client):
    officer = people[0]
    award = _award(people, active=False)
    awards.terminate_award(actor=officer, award_id=award.id, reason="Partner withdrew")
    db.session.commit()
    response = make_client(officer).post_form(f"/awards/{award.id}/activate", {"signed_on": "2026-11-01"})
    assert response.status_code == 200
    assert "only an award pending agreement can be activated" in html.unescape(response.get_data(as_text=True))
    assert _status(Award, award.id) == "terminated"


def test_finance_reads_the_refusal_to_pay_a_void_payment(people, make_client):
    _, finance, _, _ = people
    award = _award(people)
    payment = _payment(people, award)
    awards.void_payment(actor=finance, disbursement_id=payment.id, reason="Duplicate")
    db.session.commit()
    response = make_client(finance).post_form(f"/payments/{payment.id}/paid", {"paid_on": "2026-11-20", "payment_reference": "V-9"},
                                              follow_redirects=True)
    assert response.status_code == 200
    assert "This payment is void; only an approved payment can be marked paid." in html.unescape(response.get_data(as_text=True))
    assert _status(Disbursement, payment.id) == "void"


# The database refuses an unknown status -------------------------------------------------------


@pytest.mark.parametrize("model", [Award, Disbursement, ProgressReport])
def test_the_database_refuses_an_unknown_status(people, model):
    award = _award(people)
    _payment(people, award)
    row_id = db.session.scalar(sa.select(sa.func.min(model.id)))
    with pytest.raises(sa.exc.IntegrityError, match=f"ck_{model.__tablename__}_status"):
        db.session.execute(sa.update(model).where(model.id == row_id).values(status="on_hold"))
        db.session.flush()
    db.session.rollback()
    assert _status(model, row_id) in {"active", "requested", "due"}


# Predicates -----------------------------------------------------------------------------------


def test_predicates_answer_in_python_and_in_sql(people):
    officer, finance, _, _ = people
    award = _award(people)
    kept, voided = _payment(people, award), _payment(people, award)
    awards.void_payment(actor=finance, disbursement_id=voided.id, reason="Duplicate")
    db.session.commit()
    assert award.is_open and award.is_active and not award.is_terminated
    assert kept.is_pending and kept.counts_against_award and not voided.counts_against_award and not voided.is_pending
    assert db.session.scalars(sa.select(Disbursement.id).where(Disbursement.counts_against_award)).all() == [kept.id]
    assert db.session.scalars(sa.select(Disbursement.id).where(Disbursement.is_pending)).all() == [kept.id]
    outstanding = db.session.scalar(sa.select(sa.func.count()).select_from(ProgressReport).where(ProgressReport.is_outstanding))
    assert outstanding == len(award.reports)
    awards.terminate_award(actor=officer, award_id=award.id, reason="Ended")
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Award).where(Award.is_open)) == 0


# Races ----------------------------------------------------------------------------------------


def test_approve_and_reject_of_one_payment_race_to_one_outcome(app, people):
    _, finance, _, _ = people
    award = _award(people)
    payment_id, finance_id = _payment(people, award).id, finance.id
    actor = lambda: db.session.get(type(finance), finance_id)  # noqa: E731
    outcomes, errors = race(app, [
        lambda: awards.approve_payment(actor=actor(), disbursement_id=payment_id),
        lambda: awards.reject_payment(actor=actor(), disbursement_id=payment_id, comment="No receipts"),
    ])
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    status = _status(Disbursement, payment_id)
    assert status in {"approved", "void"}
    assert _events("payment.approved") + _events("payment.voided") == 1


def test_approve_and_void_of_one_payment_end_void_with_a_matching_trail(app, people):
    _, finance, _, _ = people
    award = _award(people)
    payment_id, finance_id = _payment(people, award).id, finance.id
    actor = lambda: db.session.get(type(finance), finance_id)  # noqa: E731
    outcomes, errors = race(app, [
        lambda: awards.approve_payment(actor=actor(), disbursement_id=payment_id),
        lambda: awards.void_payment(actor=actor(), disbursement_id=payment_id, reason="Duplicate"),
    ])
    assert errors == []
    # Approved then voided, or voided and the approval refused: void either way, and the trail says which.
    assert _status(Disbursement, payment_id) == "void"
    assert _events("payment.voided") == 1
    assert _events("payment.approved") == outcomes.count("ok") - 1


def test_two_terminations_of_one_award_terminate_it_once(app, people):
    officer = people[0]
    award = _award(people)
    _payment(people, award)
    award_id, officer_id = award.id, officer.id
    attempt = lambda: awards.terminate_award(actor=db.session.get(type(officer), officer_id), award_id=award_id, reason="Ended")  # noqa: E731
    outcomes, errors = race(app, [attempt, attempt])
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    assert _status(Award, award_id) == "terminated"
    assert _events("award.terminated") == 1 and _events("payment.voided") == 1
    closeouts = db.session.scalar(sa.select(sa.func.count(Amendment.id)).where(Amendment.award_id == award_id, Amendment.is_closeout))
    assert closeouts == 1
    assert db.session.get(Award, award_id).amount_cents == 0


def test_two_reviews_of_one_report_record_one_outcome(app, people):
    officer, _, member, _ = people
    report_id = _award(people).reports[0].id
    awards.submit_report(actor=member, report_id=report_id, metrics=METRICS, narrative="Quarter one")
    officer_id = officer.id
    actor = lambda: db.session.get(type(officer), officer_id)  # noqa: E731
    outcomes, errors = race(app, [
        lambda: awards.review_report(actor=actor(), report_id=report_id, accept=True, comment=""),
        lambda: awards.review_report(actor=actor(), report_id=report_id, accept=False, comment="Add the referrals"),
    ])
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    assert _status(ProgressReport, report_id) in {"accepted", "revision_requested"}
    assert _events("report.accepted") + _events("report.revision_requested") == 1


# Nobody else spells these statuses ------------------------------------------------------------

# Values no other aggregate uses: spelled in quotes anywhere but the lifecycle module, they are a status test.
_OWN_VALUES = re.compile(r"""["'](pending_agreement|terminated|void|revision_requested|due|accepted)["']""")
# In templates, a status compared with a string: award.status == "active", d.status != "void", r.status in (…).
_COMPARED = re.compile(r"""\b(award|report|r|d|disbursement|payment)\.status\s*(==|!=|in|not in)\s*\(?\s*["']""")


def test_only_the_lifecycle_module_spells_award_payment_and_report_statuses():
    found = []
    for path in [*ROOT.joinpath("grants").rglob("*.py"), *ROOT.joinpath("templates").rglob("*.html")]:
        if path == ROOT / "grants" / "awards" / "lifecycle.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _OWN_VALUES.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for folder in ("awards", "dashboard"):
        for path in ROOT.joinpath("templates", folder).rglob("*.html"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if _COMPARED.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
