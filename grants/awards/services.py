"""Awards and post-award: where public money moves.

Invariants (DESIGN.md), each checked under a lock in the transaction that could break it:
1. the awards of a program never total more than its budget (the program row is locked);
2. the non-void payments of an award never total more than its current amount (the award row
   is locked). Termination de-obligates the unpaid balance, so every award's current amount,
   terminated or not, counts against the budget: a stricter form of invariant 1 that keeps money
   already paid on a terminated award inside the budget.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any, cast

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from grants.accounts.models import User
from grants.applications import lifecycle as application_lifecycle
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import Application, Attachment
from grants.applications.services import grantee_recipients, notify_grantee
from grants.audit.services import record_event
from grants.awards.figures import award_figures
from grants.awards.lifecycle import AwardStatus, DisbursementStatus, ReportStatus, check_transition, transition
from grants.awards.models import (
    REPORT_METRICS,
    Amendment,
    Award,
    Disbursement,
    ProgressReport,
)
from grants.clock import agency_today
from grants.db import lock_row, utcnow
from grants.errors import DomainError
from grants.extensions import db
from grants.money import format_money
from grants.notifications.emails import notify
from grants.permissions import (
    can_act_on_disbursement,
    can_make_award,
    can_manage_award,
    can_pay_award,
    can_request_payment,
    can_review_report,
    can_submit_report,
    is_member,
    require,
)
from grants.programs import budget
from grants.programs.models import Program
from grants.uploads import store_upload

REPORT_GRACE_DAYS = 30  # a quarterly report is due this long after its period ends
FINAL_PERIOD_MIN_MONTHS = 1  # a shorter remainder at the end joins the last quarter instead of a report of its own
REMINDER_DAYS = 14


MAX_PERIOD_YEARS = 10


def _check_period(start: date, end: date, field: str = "end_date") -> None:
    if end <= start:
        raise DomainError("The period of performance must end after it starts.", field)
    if end > _add_months(start, 12 * MAX_PERIOD_YEARS):
        raise DomainError(f"A period of performance can be at most {MAX_PERIOD_YEARS} years.", field)


# Awards ---------------------------------------------------------------------------------------


def create_award(
    *, actor: User, application_id: int, amount_cents: int | None, start_date: date, end_date: date, conditions: str
) -> Award:
    """Turn an approved application into an award within the program's budget.

    Locks the program row; raises DomainError (field ``amount``) with the figures when over budget,
    NotPermitted (404) for an actor who is not a program officer or declared a conflict on the application.
    """
    application = lock_row(Application, application_id)
    require(application is not None and can_make_award(actor, application))
    if not application.is_awardable:
        # Not approved, so the table refuses the move and gives its message.
        raise DomainError(cast(str, application_lifecycle.refusal(application, ApplicationStatus.AWARDED)))
    _check_period(start_date, end_date)
    approved = application.approved_cents or application.requested_cents
    amount = approved if amount_cents is None else amount_cents
    if amount is None or amount <= 0:
        raise DomainError("Enter the award amount.", "amount")
    if amount > approved:
        raise DomainError(f"The award cannot be more than the {format_money(approved)} approved for {application.reference}; "
                          "record a new decision to approve more.", "amount")
    program = lock_row(Program, application.program_id)
    budget.refuse_over_budget(program, amount, f"An award of {format_money(amount)}", excluding_application_id=application.id)
    program.last_award_number += 1
    award = Award(
        award_number=f"{program.code}-{program.fiscal_year}-A{program.last_award_number:04d}",
        application_id=application.id, program_id=program.id, amount_cents=amount, original_cents=amount,
        start_date=start_date, end_date=end_date, status=AwardStatus.PENDING_AGREEMENT, conditions=conditions.strip(),
        created_by_id=actor.id,
    )
    db.session.add(award)
    db.session.flush()
    record_event(actor, "award.created", award, {
        "award_number": award.award_number, "application": application.reference, "amount_cents": amount,
        "start_date": start_date, "end_date": end_date, "conditions": award.conditions,
    })
    application_lifecycle.transition(application, ApplicationStatus.AWARDED, actor=actor, event="application.awarded",
                                     details={"award": award.award_number})
    _generate_reports(award)
    _notify_grantee(award, "award_made")
    return award


def activate_award(*, actor: User, award_id: int, signed_on: date) -> None:
    """Record the signed agreement; the award row is locked so a termination cannot be undone.

    Refuses with DomainError an award that is not pending agreement (nothing changes) and a signed
    date in the future (field ``signed_on``); NotPermitted (404) for an actor who may not manage it.
    """
    award = lock_row(Award, award_id)
    require(can_manage_award(actor, award))
    check_transition(award, AwardStatus.ACTIVE)
    if signed_on > agency_today():
        raise DomainError("The agreement's signed date cannot be in the future.", "signed_on")
    award.agreement_signed_on = signed_on
    transition(award, AwardStatus.ACTIVE, actor=actor, details={"agreement_signed_on": signed_on})
    db.session.flush()


def terminate_award(*, actor: User, award_id: int, reason: str) -> None:
    """End an award early: pending payments are voided and the unpaid balance is de-obligated.

    Refuses with DomainError an award already closed or terminated (nothing changes) and an empty
    reason (field ``reason``); NotPermitted (404) for an actor who may not manage it.
    """
    award = lock_row(Award, award_id)
    require(can_manage_award(actor, award))
    check_transition(award, AwardStatus.TERMINATED)
    if not reason.strip():
        raise DomainError("Give the reason for terminating the award.", "reason")
    for disbursement in award.disbursements:
        if disbursement.is_pending:
            _void(actor, disbursement, "Award terminated")
    paid = award_figures(award).paid_cents
    if award.amount_cents != paid:
        _add_amendment(actor, award, delta=paid - award.amount_cents, new_end_date=None, reason=f"Termination: {reason.strip()}", closeout=True)
    award.termination_reason = reason.strip()
    award.closed_at = utcnow()
    transition(award, AwardStatus.TERMINATED, actor=actor, details={"reason": award.termination_reason},
               notify=lambda: _notify_grantee(award, "award_terminated"))
    db.session.flush()


def _add_amendment(actor: User, award: Award, *, delta: int, new_end_date: date | None, reason: str, closeout: bool = False) -> Amendment:
    number = (db.session.scalar(sa.select(sa.func.max(Amendment.number)).where(Amendment.award_id == award.id)) or 0) + 1
    amendment = Amendment(award_id=award.id, number=number, amount_delta_cents=delta, new_end_date=new_end_date,
                          reason=reason, is_closeout=closeout, created_by_id=actor.id)
    db.session.add(amendment)
    before = {"amount_cents": award.amount_cents, "end_date": award.end_date}
    award.amount_cents += delta
    if new_end_date is not None:
        award.end_date = new_end_date
    db.session.flush()
    record_event(actor, "award.amended", award, {
        "amendment": number, "amount_delta_cents": delta, "closeout": closeout, "reason": reason,
        "amount_cents": {"before": before["amount_cents"], "after": award.amount_cents},
        "end_date": {"before": before["end_date"], "after": award.end_date},
    })
    return amendment


def amend_award(*, actor: User, award_id: int, amount_delta_cents: int, new_end_date: date | None, reason: str) -> Amendment:
    """Change an award's amount up or down and/or its end date, with a reason.

    An increase is checked against the program budget (program row locked); a decrease cannot
    go below what is already paid or pending (award row locked). Refuses with DomainError a closed
    or terminated award, an empty reason, no change, a bad end date, an increase over the budget and a
    decrease below what is paid or pending; NotPermitted (404) for an actor who may not manage it.
    """
    award = lock_row(Award, award_id)
    require(can_manage_award(actor, award))
    if not award.is_open:
        raise DomainError(f"Award {award.award_number} is {award.status_label.lower()} and cannot be amended.")
    if not reason.strip():
        raise DomainError("Give the reason for the amendment.", "reason")
    if amount_delta_cents == 0 and (new_end_date is None or new_end_date == award.end_date):
        raise DomainError("Change the amount, the end date, or both.", "amount_delta")
    if new_end_date is not None:
        _check_period(award.start_date, new_end_date, "new_end_date")
    if amount_delta_cents > 0:
        program = lock_row(Program, award.program_id)
        budget.refuse_over_budget(program, amount_delta_cents, f"An increase of {format_money(amount_delta_cents)}", "amount_delta")
    elif amount_delta_cents < 0:
        figures = award_figures(award)
        obligated = figures.paid_cents + figures.pending_cents
        if award.amount_cents + amount_delta_cents < obligated:
            raise DomainError(
                f"A decrease of {format_money(-amount_delta_cents)} would leave {format_money(award.amount_cents + amount_delta_cents)}, "
                f"less than the {format_money(obligated)} already paid or pending.", "amount_delta")
    amendment = _add_amendment(actor, award, delta=amount_delta_cents, new_end_date=new_end_date, reason=reason.strip())
    if new_end_date is not None:
        _generate_reports(award)
    return amendment


def close_out_award(*, actor: User, award_id: int) -> Amendment | None:
    """Close an award whose final report is accepted and with no payment pending.

    The unspent balance goes back to the program's budget as a closeout amendment. Refuses with
    DomainError an award that is not active, unaccepted reports and pending payments (nothing
    changes); NotPermitted (404) for an actor who may not manage it.
    """
    award = lock_row(Award, award_id)
    require(can_manage_award(actor, award))
    check_transition(award, AwardStatus.CLOSED)
    final = next((r for r in award.reports if r.is_final), None)
    if final is None or not final.is_accepted:
        raise DomainError("The final progress report must be accepted before closeout.")
    open_reports = [r for r in award.reports if not r.is_accepted]
    if open_reports:
        listed = ", ".join(f"{r.period_start:%b %-d}–{r.period_end:%b %-d, %Y} ({r.status_label.lower()})" for r in open_reports)
        raise DomainError(f"Every progress report must be accepted before closeout; still open: {listed}.")
    figures = award_figures(award)
    if figures.pending_cents:
        raise DomainError(f"{format_money(figures.pending_cents)} of payments are still pending; pay or void them first.")
    amendment = None
    unspent = award.amount_cents - figures.paid_cents
    if unspent:
        amendment = _add_amendment(actor, award, delta=-unspent, new_end_date=None,
                                   reason=f"Closeout: unspent balance of {format_money(unspent)} released to the program budget.", closeout=True)
    award.closed_at = utcnow()
    transition(award, AwardStatus.CLOSED, actor=actor, details={"released_cents": unspent},
               notify=lambda: _notify_grantee(award, "award_closed", paid_cents=figures.paid_cents))
    db.session.flush()
    return amendment


def _notify_grantee(award: Award, event: str, **context: Any) -> None:
    notify_grantee(award.application, event, award=award, **context)


# Payments -------------------------------------------------------------------------------------


def _check_room(award: Award, amount_cents: int) -> None:
    """Invariant 2, checked with the award row locked by the caller."""
    if amount_cents <= 0:
        raise DomainError("Enter an amount greater than $0.", "amount")
    figures = award_figures(award)
    if amount_cents > figures.remaining_cents:
        raise DomainError(
            f"{format_money(amount_cents)} is more than the {format_money(figures.remaining_cents)} left on award "
            f"{award.award_number} ({format_money(award.amount_cents)} awarded, {format_money(figures.paid_cents)} paid, "
            f"{format_money(figures.pending_cents)} pending).", "amount")


def request_payment(
    *, actor: User, award_id: int, amount_cents: int, period_start: date | None, period_end: date | None,
    description: str, documentation: FileStorage | None = None, requested_on: date | None = None,
) -> Disbursement:
    """A grantee asks to be paid; finance approves or rejects it.

    ``requested_on`` defaults to today on the agency's calendar (demo data passes past dates).
    Refuses with DomainError a non-member, an award that is not active, a bad period, no description
    and an amount over what is left on the award (award row locked).
    """
    award = lock_row(Award, award_id)
    if not is_member(actor, award.application.organization_id):
        raise DomainError("Only members of the grantee organization can request payments.")
    require(can_request_payment(actor, award))
    if not award.is_active:
        raise DomainError(f"Payments can be requested only on an active award; {award.award_number} is {award.status_label.lower()}.")
    if period_start and period_end and period_end < period_start:
        raise DomainError("The period covered must end after it starts.", "period_end")
    if not description.strip():
        raise DomainError("Describe what the payment covers.", "description")
    _check_room(award, amount_cents)
    stored = store_upload(documentation, "documentation") if documentation is not None and documentation.filename else None
    disbursement = Disbursement(
        award_id=award.id, amount_cents=amount_cents, status=DisbursementStatus.REQUESTED, requested_on=requested_on or agency_today(),
        period_start=period_start, period_end=period_end, description=description.strip(),
        requested_by_id=actor.id, from_grantee_request=True,
    )
    db.session.add(disbursement)
    db.session.flush()
    if stored is not None:
        db.session.add(Attachment(
            application_id=award.application_id, disbursement_id=disbursement.id, kind="payment_documentation",
            original_name=stored.original_name, stored_name=stored.stored_name, size=stored.size,
            content_type=stored.content_type, sha256=stored.sha256, uploaded_by_id=actor.id,
        ))
    record_event(actor, "payment.requested", award, {"disbursement": disbursement.id, "amount_cents": amount_cents, "documentation": stored.sha256 if stored else None})
    db.session.flush()
    return disbursement


def _locked_disbursement(disbursement_id: int) -> tuple[Disbursement, Award]:
    disbursement = db.session.get(Disbursement, disbursement_id)
    if disbursement is None:
        raise DomainError("No such payment.")
    award = lock_row(Award, disbursement.award_id)
    db.session.refresh(disbursement)
    return disbursement, award


def _locked_for_finance(actor: User, disbursement_id: int) -> tuple[Disbursement, Award]:
    """The payment and its award, locked; NotPermitted (404) unless the actor is finance without a
    conflict declared on the award's application."""
    disbursement, award = _locked_disbursement(disbursement_id)
    require(can_act_on_disbursement(actor, disbursement))
    return disbursement, award


def approve_payment(*, actor: User, disbursement_id: int, comment: str = "") -> Disbursement:
    """Finance approves a requested payment (award row locked).

    Refuses with DomainError a payment that is not requested (nothing changes); NotPermitted (404)
    unless the actor is finance without a conflict on the award's application.
    """
    disbursement, award = _locked_for_finance(actor, disbursement_id)
    check_transition(disbursement, DisbursementStatus.APPROVED)
    disbursement.approved_at = utcnow()
    disbursement.approved_by_id = actor.id
    disbursement.finance_comment = comment.strip()
    transition(disbursement, DisbursementStatus.APPROVED, actor=actor, subject=award, details={
        "disbursement": disbursement.id, "amount_cents": disbursement.amount_cents, "comment": disbursement.finance_comment,
    }, notify=lambda: _notify_grantee(award, "payment_approved", disbursement=disbursement))
    db.session.flush()
    return disbursement


def reject_payment(*, actor: User, disbursement_id: int, comment: str) -> Disbursement:
    """Finance rejects a requested payment: it becomes void and the grantee is told why (award row locked).

    Refuses with DomainError a payment that is not requested (nothing changes) and an empty comment
    (field ``comment``); NotPermitted (404) unless the actor is finance without a conflict.
    """
    disbursement, award = _locked_for_finance(actor, disbursement_id)
    if not disbursement.is_requested:
        raise DomainError(f"This payment is {disbursement.status_label.lower()}; only a requested payment can be rejected.")
    if not comment.strip():
        raise DomainError("Tell the grantee why the request is rejected.", "comment")
    disbursement.finance_comment = comment.strip()
    _void(actor, disbursement, f"Rejected: {comment.strip()}")
    _notify_grantee(award, "payment_rejected", disbursement=disbursement)
    db.session.flush()
    return disbursement


def mark_paid(*, actor: User, disbursement_id: int, paid_on: date, payment_reference: str) -> Disbursement:
    """Finance records that an approved payment was made (award row locked).

    Refuses with DomainError a payment that is not approved (nothing changes), no voucher number and
    a paid date in the future or before the request; NotPermitted (404) unless the actor is finance
    without a conflict.
    """
    disbursement, award = _locked_for_finance(actor, disbursement_id)
    check_transition(disbursement, DisbursementStatus.PAID)
    if not payment_reference.strip():
        raise DomainError("Enter the voucher or check number.", "payment_reference")
    _check_paid_on(paid_on)
    if paid_on < disbursement.requested_on:
        raise DomainError(f"The paid date cannot be before the request ({disbursement.requested_on:%B %-d, %Y}).", "paid_on")
    disbursement.paid_on = paid_on
    disbursement.payment_reference = payment_reference.strip()
    transition(disbursement, DisbursementStatus.PAID, actor=actor, subject=award, details={
        "disbursement": disbursement.id, "amount_cents": disbursement.amount_cents, "paid_on": paid_on,
        "payment_reference": disbursement.payment_reference,
    }, notify=lambda: _notify_paid(award, disbursement))
    db.session.flush()
    return disbursement


def _notify_paid(award: Award, disbursement: Disbursement) -> None:
    _notify_grantee(award, "payment_made", disbursement=disbursement)


def record_payment(*, actor: User, award_id: int, amount_cents: int, paid_on: date, payment_reference: str, description: str) -> Disbursement:
    """Finance records a payment made outside a grantee request; the grantee is told, as for any payment made.

    Refuses with DomainError an award that is not active, no voucher number, a paid date in the future
    and an amount over what is left (award row locked); NotPermitted (404) for an actor who may not pay it.
    """
    award = lock_row(Award, award_id)
    require(can_pay_award(actor, award))
    if not award.is_active:
        raise DomainError(f"Payments can be made only on an active award; {award.award_number} is {award.status_label.lower()}.")
    if not payment_reference.strip():
        raise DomainError("Enter the voucher or check number.", "payment_reference")
    _check_paid_on(paid_on)
    _check_room(award, amount_cents)
    now = utcnow()
    disbursement = Disbursement(
        award_id=award.id, amount_cents=amount_cents, status=DisbursementStatus.PAID, requested_on=paid_on, description=description.strip(),
        requested_by_id=actor.id, approved_at=now, approved_by_id=actor.id, paid_on=paid_on,
        payment_reference=payment_reference.strip(),
    )
    db.session.add(disbursement)
    db.session.flush()
    record_event(actor, "payment.recorded", award, {"disbursement": disbursement.id, "amount_cents": amount_cents,
                                                    "paid_on": paid_on, "payment_reference": disbursement.payment_reference})
    _notify_paid(award, disbursement)
    db.session.flush()
    return disbursement


def _check_paid_on(paid_on: date) -> None:
    if paid_on > agency_today():
        raise DomainError("The paid date cannot be in the future.", "paid_on")


def void_payment(*, actor: User, disbursement_id: int, reason: str) -> Disbursement:
    """Void a payment of an open award (a closed or terminated award's payments are final).

    Refuses with DomainError a payment already void, a payment of a closed or terminated award (nothing
    changes) and an empty reason (field ``reason``); NotPermitted (404) unless the actor is finance
    without a conflict.
    """
    disbursement, award = _locked_for_finance(actor, disbursement_id)
    check_transition(disbursement, DisbursementStatus.VOID)
    if not award.is_open:
        raise DomainError(f"Award {award.award_number} is {award.status_label.lower()}; its payments can no longer be voided.")
    if not reason.strip():
        raise DomainError("Give the reason for voiding the payment.", "reason")
    _void(actor, disbursement, reason.strip())
    db.session.flush()
    return disbursement


def _void(actor: User, disbursement: Disbursement, reason: str) -> None:
    disbursement.void_reason = reason
    disbursement.voided_at = utcnow()
    transition(disbursement, DisbursementStatus.VOID, actor=actor, subject=disbursement.award,
               details={"disbursement": disbursement.id, "reason": reason})


# Progress reports -----------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def report_periods(start: date, end: date) -> list[tuple[date, date]]:
    """Quarters from the start of the period of performance; the last ends with it and is the final report.

    A remainder shorter than a month is folded into the quarter before it, so an award that runs
    a day past a whole number of quarters gets no one-day "final report" of its own. Refuses nothing.
    """
    periods, k = [], 0
    while True:
        period_start = _add_months(start, 3 * k)
        if period_start > end:
            break
        period_end = min(_add_months(start, 3 * (k + 1)) - timedelta(days=1), end)
        periods.append((period_start, period_end))
        k += 1
    if len(periods) > 1 and periods[-1][1] < _add_months(periods[-1][0], FINAL_PERIOD_MIN_MONTHS) - timedelta(days=1):
        stub_end = periods.pop()[1]
        periods[-1] = (periods[-1][0], stub_end)
    return periods


def _generate_reports(award: Award) -> None:
    """Fit the quarterly schedule to the period of performance.

    Existing reports keep their ids (reminder links stay valid): a report still due follows its
    quarter's new end; a due report whose quarter no longer exists is removed; reports already
    submitted or accepted are never removed. The report of the last quarter is the final one.
    """
    periods = report_periods(award.start_date, award.end_date)
    by_start = {report.period_start: report for report in award.reports}
    wanted = {period_start for period_start, _ in periods}
    report: ProgressReport | None
    for report in list(award.reports):
        if report.period_start not in wanted and report.status == ReportStatus.DUE:
            award.reports.remove(report)
            db.session.delete(report)
    db.session.flush()
    sequence = max((r.sequence for r in award.reports), default=0)
    for period_start, period_end in periods:
        report = by_start.get(period_start)
        if report is None:
            sequence += 1
            award.reports.append(ProgressReport(sequence=sequence, period_start=period_start, period_end=period_end,
                                                due_on=period_end + timedelta(days=REPORT_GRACE_DAYS), status=ReportStatus.DUE))
        elif report.status == ReportStatus.DUE:
            report.period_end = period_end
            report.due_on = period_end + timedelta(days=REPORT_GRACE_DAYS)
    for report in award.reports:
        report.is_final = False
    if award.reports:
        max(award.reports, key=lambda r: r.period_start).is_final = True
    db.session.flush()


def submit_report(*, actor: User, report_id: int, metrics: dict[str, int], narrative: str) -> ProgressReport:
    """A grantee member submits a due report, or resubmits one returned for revision (report row locked).

    Refuses with DomainError a non-member, a report already submitted or accepted (nothing changes),
    a report of a closed or terminated award, and a missing metric or narrative (named field).
    """
    report = lock_row(ProgressReport, report_id)
    award = report.award
    if not is_member(actor, award.application.organization_id):
        raise DomainError("Only members of the grantee organization can submit its reports.")
    require(can_submit_report(actor, report))
    check_transition(report, ReportStatus.SUBMITTED)
    if not award.is_open:
        raise DomainError(f"Award {award.award_number} is {award.status_label.lower()}.")
    for key in REPORT_METRICS:
        value = metrics.get(key)
        if value is None or value < 0:
            raise DomainError(f"Enter {REPORT_METRICS[key].lower()} as a whole number, 0 or more.", key)
    if not narrative.strip():
        raise DomainError("Write the narrative.", "narrative")
    for key in REPORT_METRICS:
        setattr(report, key, metrics[key])
    report.narrative = narrative.strip()
    report.submitted_at = utcnow()
    report.submitted_by_id = actor.id
    transition(report, ReportStatus.SUBMITTED, actor=actor, subject=award, details={"report": report.id, **metrics})
    db.session.flush()
    return report


def review_report(*, actor: User, report_id: int, accept: bool, comment: str) -> ProgressReport:
    """The program officer accepts a submitted report or returns it for revision (report row locked).

    Refuses with DomainError a report that is not submitted (nothing changes) and a return without a
    comment (field ``comment``); NotPermitted (404) for an actor who may not review it.
    """
    report = lock_row(ProgressReport, report_id)
    require(can_review_report(actor, report))
    outcome = ReportStatus.ACCEPTED if accept else ReportStatus.REVISION_REQUESTED
    check_transition(report, outcome)
    if not accept and not comment.strip():
        raise DomainError("Tell the grantee what to revise.", "comment")
    report.reviewed_at = utcnow()
    report.reviewed_by_id = actor.id
    report.review_comment = comment.strip()
    award = report.award
    transition(report, outcome, actor=actor, subject=award, details={"report": report.id, "comment": report.review_comment},
               notify=None if accept else lambda: _notify_grantee(award, "report_revision_requested", report=report))
    db.session.flush()
    return report


def queue_report_reminders(today: date) -> int:
    """Queue one reminder per report and stage (due soon, overdue); running twice queues nothing new.

    Reports of awards still pending agreement are reminded too: their schedule runs from the start
    of the period of performance, and the overdue page and dashboards already count them. Refuses
    nothing: reports already submitted or accepted, and those of closed or terminated awards, are skipped.
    """
    reports = db.session.scalars(
        sa.select(ProgressReport).join(Award)
        .where(ProgressReport.is_outstanding, Award.is_open,
               ProgressReport.due_on <= today + timedelta(days=REMINDER_DAYS))
        .options(sa.orm.joinedload(ProgressReport.award).joinedload(Award.application))
        .order_by(ProgressReport.due_on, ProgressReport.id)
    ).all()
    queued = 0
    for report in reports:
        stage = "overdue" if report.due_on < today else "due_soon"
        award = report.award
        for email in grantee_recipients(award.application):
            queued += len(notify("report_overdue" if stage == "overdue" else "report_due_soon", to=email,
                                 dedupe_key=f"report:{report.id}:{stage}:{email}", award=award, report=report))
    return queued
