"""Awards and payments: every figure adds up, refusals carry the numbers, and the totals hold
under concurrent requests on both databases (invariants 1, 2 and 6)."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from grants.applications.models import Application
from grants.audit.models import AuditEvent
from grants.awards import figures as award_figures
from grants.awards import services as awards
from grants.awards.models import Award, Disbursement
from grants.clock import agency_today
from grants.errors import DomainError
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.programs import budget
from grants.reviews import services as reviews
from tests import factories
from tests.race import race


@pytest.fixture
def people(app):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    member = factories.make_user(email="grantee@example.org")
    organization = factories.make_organization(members=[member])
    db.session.commit()
    return officer, finance, member, organization


def test_award_number_amount_and_quarterly_reports(people):
    officer, _, member, organization = people
    program = factories.make_program(officer=officer, code="CRP", fiscal_year=2027)
    award = factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=5_000_000,
                                 start_date=date(2027, 1, 15), end_date=date(2027, 12, 31))
    db.session.commit()
    assert award.award_number == "CRP-2027-A0001"
    assert award.amount_cents == award.original_cents == 5_000_000
    assert award.application.status == "awarded"
    periods = [(r.period_start, r.period_end, r.due_on, r.is_final) for r in award.reports]
    assert periods[0] == (date(2027, 1, 15), date(2027, 4, 14), date(2027, 5, 14), False)
    assert periods[-1][1] == date(2027, 12, 31) and periods[-1][3] is True
    assert len(periods) == 4


def test_award_over_the_program_budget_is_refused_with_figures(people):
    officer, _, member, organization = people
    program = factories.make_program(officer=officer, total_budget_cents=10_000_000, award_ceiling_cents=10_000_000)
    factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=6_000_000)
    application = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer)

    with pytest.raises(DomainError, match=r"\$40,000.00"):  # decisions already respect the budget
        reviews.decide(actor=officer, application_id=application.id, outcome="approved", flags_read=True, approved_cents=5_000_000, rationale="x")
    reviews.decide(actor=officer, application_id=application.id, outcome="approved", flags_read=True, approved_cents=4_000_000, rationale="x")
    # The approval fitted the budget; an award above it is refused (and would not fit either).
    with pytest.raises(DomainError, match=r"cannot be more than the \$40,000.00 approved"):
        awards.create_award(actor=officer, application_id=application.id, amount_cents=4_000_001,
                            start_date=date(2027, 1, 1), end_date=date(2027, 6, 30), conditions="")
    # Applications approved without an amount (the requested amount) are held to the budget itself.
    other = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer,
                                                requested_cents=5_000_000)
    db.session.execute(sa.update(Application).where(Application.id == other.id).values(status="approved", approved_cents=None))
    with pytest.raises(DomainError, match=r"over its budget of \$100,000.00: only \$0.00 remains"):
        awards.create_award(actor=officer, application_id=other.id, amount_cents=None,
                            start_date=date(2027, 1, 1), end_date=date(2027, 6, 30), conditions="")


def test_amendments_are_numbered_and_checked_both_ways(people):
    officer, finance, member, organization = people
    program = factories.make_program(officer=officer, total_budget_cents=10_000_000, award_ceiling_cents=10_000_000)
    award = factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=5_000_000)
    awards.record_payment(actor=finance, award_id=award.id, amount_cents=3_000_000, paid_on=date(2026, 2, 1), payment_reference="V-1", description="Q1")
    first = awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=1_000_000, new_end_date=None, reason="More sites")
    second = awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=0, new_end_date=date(2028, 6, 30), reason="Delay")
    assert (first.number, second.number) == (1, 2)
    assert award.amount_cents == 6_000_000 and award.end_date == date(2028, 6, 30)
    assert max(r.period_end for r in award.reports) == date(2028, 6, 30)
    with pytest.raises(DomainError, match=r"over its budget"):
        awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=4_000_001, new_end_date=None, reason="Too much")
    with pytest.raises(DomainError, match=r"less than the \$30,000.00 already paid or pending"):
        awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=-3_000_001, new_end_date=None, reason="Cut")


def test_payment_lifecycle_and_over_payment_refused(people):
    officer, finance, member, organization = people
    award = factories.make_award(officer=officer, member=member, organization=organization, amount_cents=5_000_000)
    request = awards.request_payment(actor=member, award_id=award.id, amount_cents=2_000_000, period_start=date(2027, 1, 1),
                                     period_end=date(2027, 3, 31), description="Q1 salaries", documentation=factories.pdf_upload("invoice.pdf"))
    assert request.status == "requested"
    with pytest.raises(DomainError, match=r"more than the \$30,000.00 left"):
        awards.request_payment(actor=member, award_id=award.id, amount_cents=3_000_001, period_start=None, period_end=None, description="Too much")
    awards.approve_payment(actor=finance, disbursement_id=request.id, comment="OK")
    awards.mark_paid(actor=finance, disbursement_id=request.id, paid_on=agency_today(), payment_reference="CHK-1001")
    figures = awards.award_figures(award)
    assert (figures.paid_cents, figures.pending_cents, figures.remaining_cents) == (2_000_000, 0, 3_000_000)
    awards.void_payment(actor=finance, disbursement_id=request.id, reason="Check returned")
    assert awards.award_figures(award).remaining_cents == 5_000_000
    with pytest.raises(DomainError):
        awards.mark_paid(actor=finance, disbursement_id=request.id, paid_on=agency_today(), payment_reference="CHK-1")
    db.session.commit()
    notices = db.session.scalars(sa.select(OutboxMessage.subject).where(OutboxMessage.to_address == "grantee@example.org")).all()
    assert any("Payment approved" in s for s in notices) and any("Payment made" in s for s in notices)


def test_closeout_releases_the_unspent_balance(people):
    officer, finance, member, organization = people
    program = factories.make_program(officer=officer, total_budget_cents=10_000_000, award_ceiling_cents=10_000_000)
    award = factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=5_000_000,
                                 start_date=date(2027, 1, 1), end_date=date(2027, 3, 31))
    awards.record_payment(actor=finance, award_id=award.id, amount_cents=4_500_000, paid_on=date(2026, 3, 1), payment_reference="V-9", description="All")
    with pytest.raises(DomainError, match="final progress report"):
        awards.close_out_award(actor=officer, award_id=award.id)
    final = award.reports[-1]
    metrics = {"people_served": 120, "calls_answered": 300, "referrals": 40, "awareness_events": 3, "partner_meetings": 6}
    awards.submit_report(actor=member, report_id=final.id, metrics=metrics, narrative="Done")
    awards.review_report(actor=officer, report_id=final.id, accept=True, comment="")
    assert budget.committed_cents(program.id) == 5_000_000
    amendment = awards.close_out_award(actor=officer, award_id=award.id)
    assert amendment.is_closeout and amendment.amount_delta_cents == -500_000
    assert award.status == "closed" and award.amount_cents == 4_500_000
    assert budget.committed_cents(program.id) == 4_500_000
    figures = {f.program_id: f for f in award_figures.program_figures()}[program.id]
    assert (figures.awarded_cents, figures.paid_cents, figures.remaining_cents) == (4_500_000, 4_500_000, 5_500_000)


def test_closeout_waits_for_every_report_not_only_the_final_one(people):
    officer, _, member, organization = people
    award = factories.make_award(officer=officer, member=member, organization=organization, amount_cents=5_000_000,
                                 start_date=date(2027, 1, 1), end_date=date(2027, 12, 31))
    metrics = {"people_served": 1, "calls_answered": 1, "referrals": 1, "awareness_events": 1, "partner_meetings": 1}
    final = award.reports[-1]
    awards.submit_report(actor=member, report_id=final.id, metrics=metrics, narrative="Done early")
    awards.review_report(actor=officer, report_id=final.id, accept=True, comment="")
    with pytest.raises(DomainError, match=r"Every progress report must be accepted before closeout; still open: Jan 1–Mar 31, 2027 \(due\)"):
        awards.close_out_award(actor=officer, award_id=award.id)
    assert award.status == "active"


def test_an_award_cannot_be_more_than_was_approved(people):
    officer, _, member, organization = people
    program = factories.make_program(officer=officer)
    application = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer,
                                                      requested_cents=5_000_000)
    reviews.decide(actor=officer, application_id=application.id, outcome="approved", flags_read=True, approved_cents=1_000_000, rationale="Part")
    with pytest.raises(DomainError, match=r"cannot be more than the \$10,000.00 approved") as refused:
        awards.create_award(actor=officer, application_id=application.id, amount_cents=5_000_000,
                            start_date=date(2027, 1, 1), end_date=date(2027, 12, 31), conditions="")
    assert refused.value.field == "amount"
    award = awards.create_award(actor=officer, application_id=application.id, amount_cents=None,
                                start_date=date(2027, 1, 1), end_date=date(2027, 12, 31), conditions="")
    assert award.amount_cents == 1_000_000


def test_termination_voids_pending_payments_and_deobligates(people):
    officer, finance, member, organization = people
    award = factories.make_award(officer=officer, member=member, organization=organization, amount_cents=5_000_000)
    awards.record_payment(actor=finance, award_id=award.id, amount_cents=1_000_000, paid_on=date(2026, 2, 1), payment_reference="V-2", description="")
    pending = awards.request_payment(actor=member, award_id=award.id, amount_cents=500_000, period_start=None, period_end=None, description="Q2")
    awards.terminate_award(actor=officer, award_id=award.id, reason="Program ended")
    assert pending.status == "void" and award.status == "terminated" and award.amount_cents == 1_000_000


def test_report_revision_cycle_and_reminders_once_per_stage(people):
    officer, _, member, organization = people
    award = factories.make_award(officer=officer, member=member, organization=organization, start_date=date(2027, 1, 1), end_date=date(2027, 12, 31))
    first = award.reports[0]
    metrics = {"people_served": 1, "calls_answered": 2, "referrals": 3, "awareness_events": 0, "partner_meetings": 1}
    with pytest.raises(DomainError):
        awards.submit_report(actor=member, report_id=first.id, metrics={**metrics, "referrals": -1}, narrative="x")
    awards.submit_report(actor=member, report_id=first.id, metrics=metrics, narrative="Q1")
    with pytest.raises(DomainError, match="what to revise"):
        awards.review_report(actor=officer, report_id=first.id, accept=False, comment="")
    awards.review_report(actor=officer, report_id=first.id, accept=False, comment="Add referral partners")
    awards.submit_report(actor=member, report_id=first.id, metrics=metrics, narrative="Q1 with partners")
    awards.review_report(actor=officer, report_id=first.id, accept=True, comment="")
    assert first.status == "accepted"
    db.session.commit()
    second, third = award.reports[1], award.reports[2]
    today = second.due_on + timedelta(days=1)  # second overdue, third due within 14 days? depends on dates
    queued = awards.queue_report_reminders(today)
    db.session.commit()
    assert queued >= 1
    assert awards.queue_report_reminders(today) == 0  # running twice queues nothing new
    subjects = db.session.scalars(sa.select(OutboxMessage.subject).where(OutboxMessage.subject.contains("Overdue"))).all()
    # One per recipient: the grantee's member and the organization's contact address.
    assert subjects == [f"Overdue: Quarterly report 2 for award {award.award_number}"] * 2
    later = awards.queue_report_reminders(third.due_on - timedelta(days=3))
    assert later == 2  # the due-soon reminder for the third; the second's overdue one is not repeated


def test_send_reminders_command_is_idempotent(app, people):
    officer, _, member, organization = people
    award = factories.make_award(officer=officer, member=member, organization=organization, start_date=date(2020, 1, 1), end_date=date(2020, 12, 31))
    db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["grants", "send-reminders"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["grants", "send-reminders"])
    assert "Queued 0" in again.output and "Queued 8" in first.output  # 4 overdue reports × member and contact
    assert len(award.reports) == 4


def test_every_money_change_is_audited_in_the_same_transaction(people):
    officer, finance, member, organization = people
    award = factories.make_award(officer=officer, member=member, organization=organization)
    db.session.commit()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    awards.record_payment(actor=finance, award_id=award.id, amount_cents=100, paid_on=date(2026, 1, 2), payment_reference="V", description="")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Disbursement)) == 0


# Concurrency --------------------------------------------------------------------------------


def test_concurrent_awards_never_exceed_the_program_budget(app, people):
    officer, _, member, organization = people
    program = factories.make_program(officer=officer, total_budget_cents=10 * 3_000_000)
    ids = []
    for _ in range(20):
        application = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer)
        ids.append(application.id)
    # Approved without an amount, so only awards count against the budget in this race.
    db.session.execute(sa.update(Application).where(Application.id.in_(ids)).values(status="approved", approved_cents=None))
    db.session.commit()
    officer_id = officer.id

    def attempt(application_id):
        return lambda: awards.create_award(actor=db.session.get(type(officer), officer_id), application_id=application_id, amount_cents=3_000_000,
                                           start_date=date(2027, 1, 1), end_date=date(2027, 12, 31), conditions="")

    outcomes, errors = race(app, [attempt(i) for i in ids])
    assert errors == []
    assert outcomes.count("ok") == 10 and outcomes.count("refused") == 10
    total = db.session.scalar(sa.select(sa.func.sum(Award.amount_cents)).where(Award.program_id == program.id))
    assert total == 30_000_000
    numbers = db.session.scalars(sa.select(Award.award_number).where(Award.program_id == program.id)).all()
    assert len(set(numbers)) == 10


def test_concurrent_amendments_never_exceed_the_program_budget(app, people):
    officer, _, member, organization = people
    program = factories.make_program(officer=officer, total_budget_cents=5_000_000 + 5 * 100_000, award_ceiling_cents=5_000_000)
    award = factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=5_000_000)
    db.session.commit()
    officer_id, award_id = officer.id, award.id
    attempt = lambda: awards.amend_award(actor=db.session.get(type(officer), officer_id), award_id=award_id,  # noqa: E731
                                         amount_delta_cents=100_000, new_end_date=None, reason="More")
    outcomes, errors = race(app, [attempt] * 20)
    assert errors == []
    assert outcomes.count("ok") == 5
    db.session.expire_all()
    assert db.session.get(Award, award_id).amount_cents == 5_500_000
    assert budget.committed_cents(program.id) <= program.total_budget_cents


def test_concurrent_payments_never_exceed_the_award(app, people):
    officer, finance, member, organization = people
    award = factories.make_award(officer=officer, member=member, organization=organization, amount_cents=3_000_000)
    db.session.commit()
    finance_id, award_id = finance.id, award.id
    attempt = lambda: awards.record_payment(actor=db.session.get(type(finance), finance_id), award_id=award_id,  # noqa: E731
                                            amount_cents=300_000, paid_on=date(2026, 1, 5), payment_reference="V", description="")
    outcomes, errors = race(app, [attempt] * 20)
    assert errors == []
    assert outcomes.count("ok") == 10 and outcomes.count("refused") == 10
    db.session.expire_all()
    paid = db.session.scalar(sa.select(sa.func.sum(Disbursement.amount_cents)).where(Disbursement.award_id == award_id, Disbursement.status != "void"))
    assert paid == 3_000_000


def test_a_program_budget_cannot_drop_below_its_commitments(people):
    from grants.programs import services as programs

    officer, _, member, organization = people
    program = factories.make_program(officer=officer, total_budget_cents=10_000_000, award_ceiling_cents=3_000_000)
    factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=3_000_000)
    factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=2_500_000)
    fields = {field: getattr(program, field) for field in programs.PROGRAM_FIELDS}
    with pytest.raises(DomainError, match=r"already awarded or approved \$55,000.00") as refused:
        programs.update_program(actor=officer, program=program, fields={**fields, "total_budget_cents": 5_499_999})
    assert refused.value.field == "total_budget_cents"
    with pytest.raises(DomainError) as renumbered:
        programs.update_program(actor=officer, program=program, fields={**fields, "code": "NEW"})
    assert renumbered.value.field == "code"
    programs.update_program(actor=officer, program=program, fields={**fields, "total_budget_cents": 5_500_000})
    assert program.total_budget_cents == 5_500_000


def test_report_schedule_ends_with_one_final_report_and_follows_amended_end_dates(people):
    officer, _, member, organization = people
    program = factories.make_program(officer=officer, code="CRP", fiscal_year=2027)
    award = factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=5_000_000,
                                 start_date=date(2026, 11, 30), end_date=date(2027, 11, 30))
    schedule = lambda: [(r.title, r.period_start, r.period_end) for r in sorted(award.reports, key=lambda r: r.period_start)]  # noqa: E731
    assert schedule() == [
        ("Quarterly report 1", date(2026, 11, 30), date(2027, 2, 27)),
        ("Quarterly report 2", date(2027, 2, 28), date(2027, 5, 29)),
        ("Quarterly report 3", date(2027, 5, 30), date(2027, 8, 29)),
        ("Final report", date(2027, 8, 30), date(2027, 11, 30)),
    ]
    # Extended by two months and a half: the fourth quarter is quarterly again, a final report follows.
    awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=0, new_end_date=date(2028, 2, 14), reason="Delay")
    assert schedule()[-2:] == [("Quarterly report 4", date(2027, 8, 30), date(2027, 11, 29)),
                               ("Final report", date(2027, 11, 30), date(2028, 2, 14))]
    # Extended by a week more than a year: the week joins the fourth quarter again, no stub report stays.
    awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=0, new_end_date=date(2027, 12, 6), reason="Back")
    assert schedule()[-1] == ("Final report", date(2027, 8, 30), date(2027, 12, 6))
    assert len(award.reports) == 4
    assert [r.due_on for r in award.reports if r.is_final] == [date(2028, 1, 5)]
