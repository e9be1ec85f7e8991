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
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from grants.accounts.models import User
from grants.applications import lifecycle as application_lifecycle
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import Application, Attachment
from grants.applications.services import grantee_recipients, notify_grantee
from grants.audit.services import record_event
from grants.awards.models import (
    ACCEPTED,
    ACTIVE,
    APPROVED,
    CLOSED,
    DUE,
    PAID,
    PENDING_AGREEMENT,
    PENDING_PAYMENT,
    REPORT_METRICS,
    REQUESTED,
    REVISION_REQUESTED,
    SUBMITTED,
    TERMINATED,
    VOID,
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
from grants.notifications.services import external_url, queue_message
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
from grants.programs.models import Program
from grants.uploads import store_upload

REPORT_GRACE_DAYS = 30  # a quarterly report is due this long after its period ends
FINAL_PERIOD_MIN_MONTHS = 1  # a shorter remainder at the end joins the last quarter instead of a report of its own
REMINDER_DAYS = 14


# Figures --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwardFigures:
    amount_cents: int
    paid_cents: int
    pending_cents: int  # requested or approved, not yet paid

    @property
    def remaining_cents(self) -> int:
        """What can still be requested: the amount less every non-void payment."""
        return self.amount_cents - self.paid_cents - self.pending_cents


def payment_totals(award_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(paid, pending) cents per award, in one grouped query."""
    if not award_ids:
        return {}
    rows = db.session.execute(
        sa.select(
            Disbursement.award_id,
            sa.func.sum(sa.case((Disbursement.status == PAID, Disbursement.amount_cents), else_=0)),
            sa.func.sum(sa.case((Disbursement.status.in_(PENDING_PAYMENT), Disbursement.amount_cents), else_=0)),
        ).where(Disbursement.award_id.in_(award_ids)).group_by(Disbursement.award_id)
    )
    return {award_id: (int(paid or 0), int(pending or 0)) for award_id, paid, pending in rows}


def award_figures(award: Award) -> AwardFigures:
    paid, pending = payment_totals([award.id]).get(award.id, (0, 0))
    return AwardFigures(award.amount_cents, paid, pending)


def committed_cents(program_id: int, *, excluding_application_id: int | None = None) -> int:
    """Money the program has promised: every award's current amount, plus approvals not yet awarded."""
    awarded = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Award.amount_cents), 0)).where(Award.program_id == program_id)
    )
    approved = sa.select(sa.func.coalesce(sa.func.sum(Application.approved_cents), 0)).where(
        Application.program_id == program_id, Application.is_approved
    )
    if excluding_application_id is not None:
        approved = approved.where(Application.id != excluding_application_id)
    return int(awarded) + int(db.session.scalar(approved))


MAX_PERIOD_YEARS = 10


def _refuse_over_budget(program: Program, committed: int, adding: int, what: str, field: str = "amount") -> None:
    if committed + adding > program.total_budget_cents:
        raise DomainError(
            f"{what} would take the program's commitments to {format_money(committed + adding)}, over its budget of "
            f"{format_money(program.total_budget_cents)}: only {format_money(program.total_budget_cents - committed)} remains.",
            field,
        )


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
        raise DomainError(application_lifecycle.refusal(application, ApplicationStatus.AWARDED))
    _check_period(start_date, end_date)
    approved = application.approved_cents or application.requested_cents
    amount = approved if amount_cents is None else amount_cents
    if amount is None or amount <= 0:
        raise DomainError("Enter the award amount.", "amount")
    if amount > approved:
        raise DomainError(f"The award cannot be more than the {format_money(approved)} approved for {application.reference}; "
                          "record a new decision to approve more.", "amount")
    program = lock_row(Program, application.program_id)
    _refuse_over_budget(program, committed_cents(program.id, excluding_application_id=application.id), amount, f"An award of {format_money(amount)}")
    program.last_award_number += 1
    award = Award(
        award_number=f"{program.code}-{program.fiscal_year}-A{program.last_award_number:04d}",
        application_id=application.id, program_id=program.id, amount_cents=amount, original_cents=amount,
        start_date=start_date, end_date=end_date, status=PENDING_AGREEMENT, conditions=conditions.strip(),
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
    _notify_grantee(award, f"Award {award.award_number} made", (
        f"{program.name} has made award {award.award_number} of {format_money(amount)} to "
        f"{application.organization.legal_name} for \"{application.title}\", for {start_date:%B %-d, %Y} to {end_date:%B %-d, %Y}.\n"
        + (f"\nConditions: {award.conditions}\n" if award.conditions else "")
        + "\nThe program officer will send the award agreement for signature."
    ))
    return award


def activate_award(*, actor: User, award_id: int, signed_on: date) -> None:
    """Record the signed agreement; the award row is locked so a termination cannot be undone."""
    award = lock_row(Award, award_id)
    require(can_manage_award(actor, award))
    if award.status != PENDING_AGREEMENT:
        raise DomainError(f"Award {award.award_number} is {award.status_label.lower()}; only an award pending agreement can be activated.")
    if signed_on > agency_today():
        raise DomainError("The agreement's signed date cannot be in the future.", "signed_on")
    award.status = ACTIVE
    award.agreement_signed_on = signed_on
    record_event(actor, "award.activated", award, {"status": {"before": PENDING_AGREEMENT, "after": ACTIVE}, "agreement_signed_on": signed_on})
    db.session.flush()


def terminate_award(*, actor: User, award_id: int, reason: str) -> None:
    """End an award early: pending payments are voided and the unpaid balance is de-obligated."""
    award = lock_row(Award, award_id)
    require(can_manage_award(actor, award))
    if award.status not in (PENDING_AGREEMENT, ACTIVE):
        raise DomainError(f"Award {award.award_number} is already {award.status_label.lower()}.")
    if not reason.strip():
        raise DomainError("Give the reason for terminating the award.", "reason")
    for disbursement in award.disbursements:
        if disbursement.status in PENDING_PAYMENT:
            _void(actor, disbursement, "Award terminated")
    paid = award_figures(award).paid_cents
    if award.amount_cents != paid:
        _add_amendment(actor, award, delta=paid - award.amount_cents, new_end_date=None, reason=f"Termination: {reason.strip()}", closeout=True)
    before = award.status
    award.status = TERMINATED
    award.termination_reason = reason.strip()
    award.closed_at = utcnow()
    record_event(actor, "award.terminated", award, {"status": {"before": before, "after": TERMINATED}, "reason": award.termination_reason})
    _notify_grantee(award, f"Award {award.award_number} terminated", f"Award {award.award_number} has been terminated.\nReason: {award.termination_reason}")
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
    go below what is already paid or pending (award row locked).
    """
    award = lock_row(Award, award_id)
    require(can_manage_award(actor, award))
    if award.status not in (PENDING_AGREEMENT, ACTIVE):
        raise DomainError(f"Award {award.award_number} is {award.status_label.lower()} and cannot be amended.")
    if not reason.strip():
        raise DomainError("Give the reason for the amendment.", "reason")
    if amount_delta_cents == 0 and (new_end_date is None or new_end_date == award.end_date):
        raise DomainError("Change the amount, the end date, or both.", "amount_delta")
    if new_end_date is not None:
        _check_period(award.start_date, new_end_date, "new_end_date")
    if amount_delta_cents > 0:
        program = lock_row(Program, award.program_id)
        _refuse_over_budget(program, committed_cents(program.id), amount_delta_cents,
                            f"An increase of {format_money(amount_delta_cents)}", "amount_delta")
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

    The unspent balance goes back to the program's budget as a closeout amendment.
    """
    award = lock_row(Award, award_id)
    require(can_manage_award(actor, award))
    if award.status != ACTIVE:
        raise DomainError(f"Award {award.award_number} is {award.status_label.lower()}; only an active award can be closed out.")
    final = next((r for r in award.reports if r.is_final), None)
    if final is None or final.status != ACCEPTED:
        raise DomainError("The final progress report must be accepted before closeout.")
    open_reports = [r for r in award.reports if r.status != ACCEPTED]
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
    award.status = CLOSED
    award.closed_at = utcnow()
    record_event(actor, "award.closed", award, {"status": {"before": ACTIVE, "after": CLOSED}, "released_cents": unspent})
    _notify_grantee(award, f"Award {award.award_number} closed out", f"Award {award.award_number} is closed. Total paid: {format_money(figures.paid_cents)}.")
    db.session.flush()
    return amendment


def _notify_grantee(award: Award, subject: str, body: str) -> None:
    notify_grantee(award.application, subject=subject, body=f"{body}\n\n{external_url('awards.award_detail', award_id=award.id)}")


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
    """
    award = lock_row(Award, award_id)
    if not is_member(actor, award.application.organization_id):
        raise DomainError("Only members of the grantee organization can request payments.")
    require(can_request_payment(actor, award))
    if award.status != ACTIVE:
        raise DomainError(f"Payments can be requested only on an active award; {award.award_number} is {award.status_label.lower()}.")
    if period_start and period_end and period_end < period_start:
        raise DomainError("The period covered must end after it starts.", "period_end")
    if not description.strip():
        raise DomainError("Describe what the payment covers.", "description")
    _check_room(award, amount_cents)
    stored = store_upload(documentation, "documentation") if documentation is not None and documentation.filename else None
    disbursement = Disbursement(
        award_id=award.id, amount_cents=amount_cents, status=REQUESTED, requested_on=requested_on or agency_today(),
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
    disbursement, award = _locked_for_finance(actor, disbursement_id)
    if disbursement.status != REQUESTED:
        raise DomainError(f"This payment is {disbursement.status_label.lower()}; only a requested payment can be approved.")
    disbursement.status = APPROVED
    disbursement.approved_at = utcnow()
    disbursement.approved_by_id = actor.id
    disbursement.finance_comment = comment.strip()
    record_event(actor, "payment.approved", award, {"disbursement": disbursement.id, "amount_cents": disbursement.amount_cents, "comment": disbursement.finance_comment})
    _notify_grantee(award, f"Payment approved on award {award.award_number}",
                    f"Your payment request of {format_money(disbursement.amount_cents)} has been approved and will be paid."
                    + (f"\nComment: {disbursement.finance_comment}" if disbursement.finance_comment else ""))
    db.session.flush()
    return disbursement


def reject_payment(*, actor: User, disbursement_id: int, comment: str) -> Disbursement:
    disbursement, award = _locked_for_finance(actor, disbursement_id)
    if disbursement.status != REQUESTED:
        raise DomainError(f"This payment is {disbursement.status_label.lower()}; only a requested payment can be rejected.")
    if not comment.strip():
        raise DomainError("Tell the grantee why the request is rejected.", "comment")
    disbursement.finance_comment = comment.strip()
    _void(actor, disbursement, f"Rejected: {comment.strip()}")
    _notify_grantee(award, f"Payment request rejected on award {award.award_number}",
                    f"Your payment request of {format_money(disbursement.amount_cents)} was not approved.\nReason: {comment.strip()}")
    db.session.flush()
    return disbursement


def mark_paid(*, actor: User, disbursement_id: int, paid_on: date, payment_reference: str) -> Disbursement:
    disbursement, award = _locked_for_finance(actor, disbursement_id)
    if disbursement.status != APPROVED:
        raise DomainError(f"This payment is {disbursement.status_label.lower()}; only an approved payment can be marked paid.")
    if not payment_reference.strip():
        raise DomainError("Enter the voucher or check number.", "payment_reference")
    _check_paid_on(paid_on)
    if paid_on < disbursement.requested_on:
        raise DomainError(f"The paid date cannot be before the request ({disbursement.requested_on:%B %-d, %Y}).", "paid_on")
    disbursement.status = PAID
    disbursement.paid_on = paid_on
    disbursement.payment_reference = payment_reference.strip()
    record_event(actor, "payment.paid", award, {"disbursement": disbursement.id, "amount_cents": disbursement.amount_cents,
                                                "paid_on": paid_on, "payment_reference": disbursement.payment_reference})
    _notify_paid(award, disbursement)
    db.session.flush()
    return disbursement


def _notify_paid(award: Award, disbursement: Disbursement) -> None:
    _notify_grantee(award, f"Payment made on award {award.award_number}",
                    f"{format_money(disbursement.amount_cents)} was paid on {disbursement.paid_on:%B %-d, %Y} "
                    f"(reference {disbursement.payment_reference}).")


def record_payment(*, actor: User, award_id: int, amount_cents: int, paid_on: date, payment_reference: str, description: str) -> Disbursement:
    """Finance records a payment made outside a grantee request; the grantee is told, as for any payment made."""
    award = lock_row(Award, award_id)
    require(can_pay_award(actor, award))
    if award.status != ACTIVE:
        raise DomainError(f"Payments can be made only on an active award; {award.award_number} is {award.status_label.lower()}.")
    if not payment_reference.strip():
        raise DomainError("Enter the voucher or check number.", "payment_reference")
    _check_paid_on(paid_on)
    _check_room(award, amount_cents)
    now = utcnow()
    disbursement = Disbursement(
        award_id=award.id, amount_cents=amount_cents, status=PAID, requested_on=paid_on, description=description.strip(),
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
    """Void a payment of an open award (a closed or terminated award's payments are final)."""
    disbursement, award = _locked_for_finance(actor, disbursement_id)
    if disbursement.status == VOID:
        raise DomainError("This payment is already void.")
    if award.status in (CLOSED, TERMINATED):
        raise DomainError(f"Award {award.award_number} is {award.status_label.lower()}; its payments can no longer be voided.")
    if not reason.strip():
        raise DomainError("Give the reason for voiding the payment.", "reason")
    _void(actor, disbursement, reason.strip())
    db.session.flush()
    return disbursement


def _void(actor: User, disbursement: Disbursement, reason: str) -> None:
    before = disbursement.status
    disbursement.status = VOID
    disbursement.void_reason = reason
    disbursement.voided_at = utcnow()
    record_event(actor, "payment.voided", disbursement.award, {"disbursement": disbursement.id, "status": {"before": before, "after": VOID}, "reason": reason})


# Progress reports -----------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def report_periods(start: date, end: date) -> list[tuple[date, date]]:
    """Quarters from the start of the period of performance; the last ends with it and is the final report.

    A remainder shorter than a month is folded into the quarter before it, so an award that runs
    a day past a whole number of quarters gets no one-day "final report" of its own.
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
    for report in list(award.reports):
        if report.period_start not in wanted and report.status == DUE:
            award.reports.remove(report)
            db.session.delete(report)
    db.session.flush()
    sequence = max((r.sequence for r in award.reports), default=0)
    for period_start, period_end in periods:
        report = by_start.get(period_start)
        if report is None:
            sequence += 1
            award.reports.append(ProgressReport(sequence=sequence, period_start=period_start, period_end=period_end,
                                                due_on=period_end + timedelta(days=REPORT_GRACE_DAYS), status=DUE))
        elif report.status == DUE:
            report.period_end = period_end
            report.due_on = period_end + timedelta(days=REPORT_GRACE_DAYS)
    for report in award.reports:
        report.is_final = False
    if award.reports:
        max(award.reports, key=lambda r: r.period_start).is_final = True
    db.session.flush()


def submit_report(*, actor: User, report_id: int, metrics: dict[str, int], narrative: str) -> ProgressReport:
    report = lock_row(ProgressReport, report_id)
    award = report.award
    if not is_member(actor, award.application.organization_id):
        raise DomainError("Only members of the grantee organization can submit its reports.")
    require(can_submit_report(actor, report))
    if report.status not in (DUE, REVISION_REQUESTED):
        raise DomainError(f"This report is {report.status_label.lower()} and cannot be changed.")
    if award.status not in (ACTIVE, PENDING_AGREEMENT):
        raise DomainError(f"Award {award.award_number} is {award.status_label.lower()}.")
    for key in REPORT_METRICS:
        value = metrics.get(key)
        if value is None or value < 0:
            raise DomainError(f"Enter {REPORT_METRICS[key].lower()} as a whole number, 0 or more.", key)
    if not narrative.strip():
        raise DomainError("Write the narrative.", "narrative")
    before = report.status
    for key in REPORT_METRICS:
        setattr(report, key, metrics[key])
    report.narrative = narrative.strip()
    report.status = SUBMITTED
    report.submitted_at = utcnow()
    report.submitted_by_id = actor.id
    record_event(actor, "report.submitted", award, {"report": report.id, "status": {"before": before, "after": SUBMITTED}, **metrics})
    db.session.flush()
    return report


def review_report(*, actor: User, report_id: int, accept: bool, comment: str) -> ProgressReport:
    report = lock_row(ProgressReport, report_id)
    require(can_review_report(actor, report))
    if report.status != SUBMITTED:
        raise DomainError(f"This report is {report.status_label.lower()}; only a submitted report can be reviewed.")
    if not accept and not comment.strip():
        raise DomainError("Tell the grantee what to revise.", "comment")
    report.status = ACCEPTED if accept else REVISION_REQUESTED
    report.reviewed_at = utcnow()
    report.reviewed_by_id = actor.id
    report.review_comment = comment.strip()
    award = report.award
    record_event(actor, "report.accepted" if accept else "report.revision_requested", award,
                 {"report": report.id, "status": {"before": SUBMITTED, "after": report.status}, "comment": report.review_comment})
    if not accept:
        _notify_grantee(award, f"Revision requested: {report.title} for award {award.award_number}",
                        f"The program officer asked for changes to {report.title.lower()} ({report.period_start:%b %-d} to {report.period_end:%b %-d, %Y}).\n\n{report.review_comment}")
    db.session.flush()
    return report


def queue_report_reminders(today: date) -> int:
    """Queue one reminder per report and stage (due soon, overdue); running twice queues nothing new.

    Reports of awards still pending agreement are reminded too: their schedule runs from the start
    of the period of performance, and the overdue page and dashboards already count them.
    """
    reports = db.session.scalars(
        sa.select(ProgressReport).join(Award)
        .where(ProgressReport.status.in_((DUE, REVISION_REQUESTED)), Award.status.in_((PENDING_AGREEMENT, ACTIVE)),
               ProgressReport.due_on <= today + timedelta(days=REMINDER_DAYS))
        .options(sa.orm.joinedload(ProgressReport.award).joinedload(Award.application))
        .order_by(ProgressReport.due_on, ProgressReport.id)
    ).all()
    queued = 0
    for report in reports:
        stage = "overdue" if report.due_on < today else "due_soon"
        award = report.award
        for email in grantee_recipients(award.application):
            subject = (f"Overdue: {report.title} for award {award.award_number}" if stage == "overdue"
                       else f"Due {report.due_on:%B %-d}: {report.title} for award {award.award_number}")
            message = queue_message(
                to=email, subject=subject, dedupe_key=f"report:{report.id}:{stage}:{email}",
                body=(f"{report.title} for award {award.award_number} covers {report.period_start:%B %-d, %Y} to "
                      f"{report.period_end:%B %-d, %Y} and {'was' if stage == 'overdue' else 'is'} due on {report.due_on:%B %-d, %Y}.\n\n"
                      f"{external_url('awards.report', report_id=report.id)}"),
            )
            queued += message is not None
    return queued


# Per-program figures for finance --------------------------------------------------------------


@dataclass(frozen=True)
class ProgramFigures:
    program_id: int
    name: str
    fiscal_year: int
    budget_cents: int
    awarded_cents: int
    paid_cents: int
    pending_cents: int
    approved_not_awarded_cents: int = 0
    awaiting_approval_cents: int = 0  # the part of pending still only requested

    @property
    def approved_unpaid_cents(self) -> int:
        """The part of pending that finance approved and has not paid yet."""
        return self.pending_cents - self.awaiting_approval_cents

    @property
    def remaining_cents(self) -> int:
        """Budget neither awarded nor promised to an approved application (what a new award may use)."""
        return self.budget_cents - self.awarded_cents - self.approved_not_awarded_cents


def program_figures(program_ids: list[int] | None = None) -> list[ProgramFigures]:
    """Budget, awarded, paid and pending per program, aggregated in SQL."""
    awarded = (sa.select(Award.program_id, sa.func.sum(Award.amount_cents).label("awarded"))
               .group_by(Award.program_id).subquery())
    payments = (
        sa.select(
            Award.program_id,
            sa.func.sum(sa.case((Disbursement.status == PAID, Disbursement.amount_cents), else_=0)).label("paid"),
            sa.func.sum(sa.case((Disbursement.status.in_(PENDING_PAYMENT), Disbursement.amount_cents), else_=0)).label("pending"),
            sa.func.sum(sa.case((Disbursement.status == REQUESTED, Disbursement.amount_cents), else_=0)).label("requested"),
        ).join(Disbursement, Disbursement.award_id == Award.id).group_by(Award.program_id).subquery()
    )
    stmt = (
        sa.select(Program.id, Program.name, Program.fiscal_year, Program.total_budget_cents,
                  sa.func.coalesce(awarded.c.awarded, 0), sa.func.coalesce(payments.c.paid, 0), sa.func.coalesce(payments.c.pending, 0),
                  sa.func.coalesce(payments.c.requested, 0))
        .outerjoin(awarded, awarded.c.program_id == Program.id)
        .outerjoin(payments, payments.c.program_id == Program.id)
        .order_by(Program.fiscal_year.desc(), Program.name)
    )
    approved = (sa.select(Application.program_id, sa.func.sum(Application.approved_cents).label("approved"))
                .where(Application.is_approved).group_by(Application.program_id).subquery())
    stmt = stmt.add_columns(sa.func.coalesce(approved.c.approved, 0)).outerjoin(approved, approved.c.program_id == Program.id)
    if program_ids is not None:
        stmt = stmt.where(Program.id.in_(program_ids))
    return [ProgramFigures(pid, name, fy, int(budget), int(a), int(p), int(pe), int(ap), int(rq))
            for pid, name, fy, budget, a, p, pe, rq, ap in db.session.execute(stmt)]


