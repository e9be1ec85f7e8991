"""Awards and post-award: program officers make and manage awards, finance pays, grantees request and report."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from grants.accounts.models import ADMIN, APPLICANT, FINANCE, PROGRAM_OFFICER, Organization
from grants.applications.models import Application, Attachment
from grants.audit.models import AuditEvent
from grants.awards import bp, figures, services
from grants.awards.forms import (
    ActivateForm,
    AmendForm,
    AwardForm,
    MarkPaidForm,
    PaymentDecisionForm,
    PaymentRequestForm,
    RecordPaymentForm,
    ReportForm,
    ReviewReportForm,
    TerminateForm,
    VoidForm,
)
from grants.awards.lifecycle import AwardStatus, DisbursementStatus, ReportStatus
from grants.awards.models import (
    AWARD_STATUSES,
    REPORT_METRICS,
    Amendment,
    Award,
    Disbursement,
    ProgressReport,
)
from grants.clock import agency_today
from grants.db import MAX_PAGE, paginate, query_text
from grants.errors import DomainError
from grants.extensions import db
from grants.formtools import apply_domain_error, carried_out
from grants.money import format_money
from grants.permissions import (
    conflicted_application_ids,
    is_member,
    load_application_for,
    load_award_for,
    load_disbursement_for,
    load_program_for,
    load_report_for,
    login_required,
    roles_required,
)
from grants.programs.models import Program

AWARD_STAFF = (PROGRAM_OFFICER, FINANCE, ADMIN)
AWARDS_PER_PAGE = 25
QUEUE_PER_PAGE = 50

# Templates compare statuses with the enums, never with strings.
for _enum in (AwardStatus, DisbursementStatus, ReportStatus):
    bp.add_app_template_global(_enum, _enum.__name__)


# Loading and access ---------------------------------------------------------------------------


def _documentation(disbursement_ids: list[int]) -> dict[int, list[Attachment]]:
    """Supporting documents per payment, in one query."""
    if not disbursement_ids:
        return {}
    found: dict[int, list[Attachment]] = {}
    for attachment in db.session.scalars(
        sa.select(Attachment).where(Attachment.disbursement_id.in_(disbursement_ids)).order_by(Attachment.id)
    ):
        found.setdefault(cast(int, attachment.disbursement_id), []).append(attachment)  # never None: the query asks for these payments
    return found


def _not_conflicted(stmt):
    """``stmt`` (joined to Application) without what the signed-in user declared a conflict on: its award,
    payments and reports open nowhere for them (404), so the lists leave them out too."""
    conflicted = conflicted_application_ids(current_user)
    return stmt.where(Application.id.not_in(sorted(conflicted))) if conflicted else stmt


def _query_number(text: str, digits: int) -> int | None:
    """A filter's whole number, or None for anything else (``str.isdigit`` lets "²" through to a failing int())."""
    return int(text) if re.fullmatch(rf"[0-9]{{1,{digits}}}", text) else None


# Award list -----------------------------------------------------------------------------------


@bp.route("/awards")
@roles_required(PROGRAM_OFFICER, FINANCE, ADMIN)
def award_list():
    filters = {name: query_text(name) for name in ("program", "status", "fiscal_year", "q")}
    stmt = (
        sa.select(Award)
        .join(Award.program)
        .join(Award.application)
        .join(Application.organization)
        .options(contains_eager(Award.program), contains_eager(Award.application).contains_eager(Application.organization))
        .order_by(Program.fiscal_year.desc(), Award.award_number)
    )
    program_id, fiscal_year = _query_number(filters["program"], 9), _query_number(filters["fiscal_year"], 4)
    if program_id is not None:
        stmt = stmt.where(Award.program_id == program_id)
    if filters["status"] in AWARD_STATUSES:
        stmt = stmt.where(Award.status == filters["status"])
    if fiscal_year is not None:
        stmt = stmt.where(Program.fiscal_year == fiscal_year)
    if filters["q"]:
        needle = filters["q"].lower()
        stmt = stmt.where(sa.or_(
            sa.func.lower(Award.award_number).contains(needle, autoescape=True),
            sa.func.lower(Organization.legal_name).contains(needle, autoescape=True),
        ))
    page = paginate(_not_conflicted(stmt), AWARDS_PER_PAGE)
    programs = db.session.scalars(sa.select(Program).order_by(Program.fiscal_year.desc(), Program.name)).all()
    return render_template(
        "awards/award_list.html", page=page, filters=filters, figures=figures.award_figures_by_id(a.id for a in page.items),
        programs=programs, fiscal_years=sorted({p.fiscal_year for p in programs}, reverse=True), award_statuses=AWARD_STATUSES,
    )


# Making an award ------------------------------------------------------------------------------


@bp.route("/applications/<int:application_id>/award", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER)
def create_award(application_id: int):
    application = load_application_for(current_user, application_id, "award")
    existing = db.session.scalar(sa.select(Award).where(Award.application_id == application.id))
    if existing is not None:
        flash(f"{application.reference} already has award {existing.award_number}.", "info")
        return redirect(url_for("awards.award_detail", award_id=existing.id))
    form = AwardForm()
    if request.method == "GET":
        form.amount.data = application.approved_cents
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            award = services.create_award(
                actor=current_user, application_id=application.id, amount_cents=form.amount.data,
                start_date=form.start_date.data, end_date=form.end_date.data, conditions=form.conditions.data or "",
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Award {award.award_number} made for {format_money(award.amount_cents)}; the grantee has been notified. "
                  "Activate it when the agreement is signed.", "success")
            return form.finished(redirect(url_for("awards.award_detail", award_id=award.id)))
    program = application.program
    # What this award may use: the budget less every other award and approval (this one's approval excluded).
    committed = figures.committed_cents(program.id, excluding_application_id=application.id)
    return render_template("awards/create_award.html", application=application, program=program, form=form,
                           committed=committed, available=program.total_budget_cents - committed,
                           awardable=application.is_awardable)


# The award page -------------------------------------------------------------------------------


AUDIT_ACTION_LABELS = {
    "award.created": "Award made",
    "award.activated": "Agreement signed; award active",
    "award.amended": "Award amended",
    "award.terminated": "Award terminated",
    "award.closed": "Award closed out",
    "payment.requested": "Payment requested",
    "payment.approved": "Payment approved",
    "payment.paid": "Payment made",
    "payment.recorded": "Payment recorded",
    "payment.voided": "Payment voided",
    "report.submitted": "Progress report submitted",
    "report.accepted": "Progress report accepted",
    "report.revision_requested": "Progress report revision requested",
}


def _render_award_detail(award: Award, *, activate_form=None, terminate_form=None):
    staff = current_user.has_role(*AWARD_STAFF)
    # Fill the page's collections in a fixed number of queries, whatever their length.
    db.session.scalars(
        sa.select(Award).where(Award.id == award.id).options(
            joinedload(Award.application).joinedload(Application.organization), joinedload(Award.program),
            selectinload(Award.amendments).joinedload(Amendment.created_by),
            selectinload(Award.disbursements), selectinload(Award.reports),
        )
    ).one()
    disbursement_ids = [d.id for d in award.disbursements]
    events: Sequence[AuditEvent] = []
    if staff:
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.entity_type == "award", AuditEvent.entity_id == str(award.id)).order_by(AuditEvent.id)
        ).all()
    return render_template(
        "awards/award_detail.html", award=award, application=award.application, program=award.program,
        figures=figures.award_figures(award), documentation=_documentation(disbursement_ids), events=events,
        action_labels=AUDIT_ACTION_LABELS, staff=staff,
        is_officer=current_user.has_role(PROGRAM_OFFICER), is_finance=current_user.has_role(FINANCE),
        is_grantee=is_member(current_user, award.application.organization_id),
        activate_form=activate_form or ActivateForm(formdata=None), terminate_form=terminate_form or TerminateForm(formdata=None),
        today=agency_today(),
    )


@bp.route("/awards/<int:award_id>")
@login_required
def award_detail(award_id: int):
    award = load_award_for(current_user, award_id)
    return _render_award_detail(award)


@bp.route("/awards/<int:award_id>/activate", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def activate(award_id: int):
    award = load_award_for(current_user, award_id, "manage")
    form = ActivateForm()
    if carried_out(form, lambda: services.activate_award(actor=current_user, award_id=award.id, signed_on=form.signed_on.data),
                   success=f"Award {award.award_number} is active; the grantee can now request payments."):
        return redirect(url_for("awards.award_detail", award_id=award.id))
    return _render_award_detail(award, activate_form=form)


@bp.route("/awards/<int:award_id>/terminate", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def terminate(award_id: int):
    award = load_award_for(current_user, award_id, "manage")
    if not award.is_open:  # a stale tab: say so rather than show no form
        flash(f"Award {award.award_number} is already {award.status_label.lower()}.", "info")
        return redirect(url_for("awards.award_detail", award_id=award.id))
    form = TerminateForm()
    if carried_out(form, lambda: services.terminate_award(actor=current_user, award_id=award.id, reason=form.reason.data),
                   success=f"Award {award.award_number} is terminated; pending payments were voided and the unpaid balance released."):
        return redirect(url_for("awards.award_detail", award_id=award.id))
    return _render_award_detail(award, terminate_form=form)


@bp.route("/awards/<int:award_id>/close-out", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def close_out(award_id: int):
    award = load_award_for(current_user, award_id, "manage")
    try:
        amendment = services.close_out_award(actor=current_user, award_id=award.id)
    except DomainError as error:
        flash(error.message, "error")
    else:
        released = -amendment.amount_delta_cents if amendment is not None else 0
        flash(f"Award {award.award_number} is closed; {format_money(released)} went back to the program budget.", "success")
    return redirect(url_for("awards.award_detail", award_id=award.id))


@bp.route("/awards/<int:award_id>/amend", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER)
def amend(award_id: int):
    award = load_award_for(current_user, award_id, "manage")
    form = AmendForm(award=award)
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            amendment = services.amend_award(actor=current_user, award_id=award.id, amount_delta_cents=form.delta_cents(),
                                             new_end_date=form.new_end_date.data, reason=form.reason.data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Amendment {amendment.number} recorded; award {award.award_number} is now {format_money(award.amount_cents)} "
                  f"ending {award.end_date:%B %-d, %Y}.", "success")
            return form.finished(redirect(url_for("awards.award_detail", award_id=award.id)))
    program = award.program
    return render_template("awards/amend.html", award=award, program=program, form=form, figures=figures.award_figures(award),
                           committed=figures.committed_cents(program.id))


# Payments -------------------------------------------------------------------------------------


@bp.route("/awards/<int:award_id>/payments/request", methods=["GET", "POST"])
@roles_required(APPLICANT)
def request_payment(award_id: int):
    award = load_award_for(current_user, award_id, "request_payment")
    form = PaymentRequestForm()
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            disbursement = services.request_payment(
                actor=current_user, award_id=award.id, amount_cents=form.amount.data,
                period_start=form.period_start.data, period_end=form.period_end.data,
                description=form.description.data or "", documentation=form.documentation.data,
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Payment request of {format_money(disbursement.amount_cents)} sent to finance for approval.", "success")
            return form.finished(redirect(url_for("awards.award_detail", award_id=award.id)))
    return render_template("awards/request_payment.html", award=award, form=form, figures=figures.award_figures(award))


@bp.route("/awards/<int:award_id>/payments/record", methods=["GET", "POST"])
@roles_required(FINANCE)
def record_payment(award_id: int):
    award = load_award_for(current_user, award_id, "pay")
    form = RecordPaymentForm()
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            disbursement = services.record_payment(
                actor=current_user, award_id=award.id, amount_cents=form.amount.data, paid_on=form.paid_on.data,
                payment_reference=form.payment_reference.data, description=form.description.data or "",
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Payment of {format_money(disbursement.amount_cents)} recorded on award {award.award_number}.", "success")
            return form.finished(redirect(url_for("awards.award_detail", award_id=award.id)))
    return render_template("awards/record_payment.html", award=award, form=form, figures=figures.award_figures(award))


def _queue_page(status: DisbursementStatus, page_arg: str):
    stmt = _not_conflicted(
        sa.select(Disbursement)
        .join(Disbursement.award).join(Award.application)
        .where(Disbursement.status == status)
        .options(contains_eager(Disbursement.award).contains_eager(Award.application).joinedload(Application.organization))
        .order_by(Disbursement.requested_on, Disbursement.id)
    )
    number = min(max(request.args.get(page_arg, 1, type=int), 1), MAX_PAGE)
    return db.paginate(stmt, page=number, per_page=QUEUE_PER_PAGE, error_out=False)


@bp.route("/payments")
@roles_required(FINANCE, ADMIN)
def payment_queue():
    requested = _queue_page(DisbursementStatus.REQUESTED, "page")
    approved = _queue_page(DisbursementStatus.APPROVED, "approved_page")
    return render_template(
        "awards/payment_queue.html", requested=requested, approved=approved,
        documentation=_documentation([d.id for d in [*requested.items, *approved.items]]),
        can_act=current_user.has_role(FINANCE), today=agency_today(),
    )


def _back_to(form, disbursement: Disbursement):
    if form.next.data == "award":
        return redirect(url_for("awards.award_detail", award_id=disbursement.award_id))
    return redirect(url_for("awards.payment_queue"))


def _flash_form_errors(form) -> None:
    for name, errors in form.errors.items():
        for message in errors:
            flash(message if name == "csrf_token" else f"{form[name].label.text}: {message}", "error")


def _payment_action(disbursement_id: int, form, act, done: str):
    """Load the payment, validate the form, run one service call, say what happened, go back."""
    disbursement = load_disbursement_for(current_user, disbursement_id)
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back_to(form, disbursement)
    try:
        act(disbursement)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Payment of {format_money(disbursement.amount_cents)} on award {disbursement.award.award_number} {done}.", "success")
    return _back_to(form, disbursement)


@bp.route("/payments/<int:disbursement_id>/approve", methods=["POST"])
@roles_required(FINANCE)
def approve_payment(disbursement_id: int):
    form = PaymentDecisionForm()
    return _payment_action(disbursement_id, form, lambda d: services.approve_payment(
        actor=current_user, disbursement_id=d.id, comment=form.comment.data or ""), "approved")


@bp.route("/payments/<int:disbursement_id>/reject", methods=["POST"])
@roles_required(FINANCE)
def reject_payment(disbursement_id: int):
    form = PaymentDecisionForm()
    return _payment_action(disbursement_id, form, lambda d: services.reject_payment(
        actor=current_user, disbursement_id=d.id, comment=form.comment.data or ""), "rejected; the grantee has been told why")


@bp.route("/payments/<int:disbursement_id>/paid", methods=["POST"])
@roles_required(FINANCE)
def mark_paid(disbursement_id: int):
    form = MarkPaidForm()
    return _payment_action(disbursement_id, form, lambda d: services.mark_paid(
        actor=current_user, disbursement_id=d.id, paid_on=form.paid_on.data, payment_reference=form.payment_reference.data),
        "marked paid")


@bp.route("/payments/<int:disbursement_id>/void", methods=["POST"])
@roles_required(FINANCE)
def void_payment(disbursement_id: int):
    form = VoidForm()
    return _payment_action(disbursement_id, form, lambda d: services.void_payment(
        actor=current_user, disbursement_id=d.id, reason=form.reason.data), "voided")


# Progress reports -----------------------------------------------------------------------------


def _render_report(report: ProgressReport, *, form=None, review_form=None):
    award = report.award
    grantee = is_member(current_user, award.application.organization_id)
    can_submit = grantee and report.is_outstanding and award.is_open
    if form is None and can_submit:
        form = ReportForm(formdata=None)
        if report.is_revision_requested:
            form.load(report)
    can_review = current_user.has_role(PROGRAM_OFFICER) and report.is_awaiting_review
    return render_template(
        "awards/report.html", report=report, award=award, form=form if can_submit else None,
        review_form=(review_form or ReviewReportForm(formdata=None)) if can_review else None,
        metrics=REPORT_METRICS, grantee=grantee, today=agency_today(),
    )


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
@login_required
def report(report_id: int):
    report = load_report_for(current_user, report_id, "view" if request.method == "GET" else "submit")
    if request.method == "GET":
        return _render_report(report)
    form = ReportForm()
    if not report.is_outstanding:  # a stale tab: say so rather than show no form
        if (first := form.first_result()) is not None:  # unless it is this report sent again
            return first
        flash(f"{report.title} is {report.status_label.lower()} and can no longer be changed.", "info")
        return redirect(url_for("awards.report", report_id=report.id))
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            services.submit_report(actor=current_user, report_id=report.id, metrics=form.metrics(), narrative=form.narrative.data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"{report.title} submitted. The program officer will review it.", "success")
            return form.finished(redirect(url_for("awards.award_detail", award_id=report.award_id)))
    return _render_report(report, form=form)


@bp.route("/reports/<int:report_id>/review", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def review_report(report_id: int):
    report = load_report_for(current_user, report_id, "review")
    form = ReviewReportForm()
    if form.validate_on_submit():
        accept = form.decision.data == "accept"
        try:
            services.review_report(actor=current_user, report_id=report.id, accept=accept, comment=form.comment.data or "")
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"{report.title} accepted." if accept
                  else f"{report.title} returned for revision; the grantee has been told what to change.", "success")
            return redirect(url_for("awards.report", report_id=report.id))
    return _render_report(report, review_form=form)


@bp.route("/programs/<int:program_id>/reports")
@roles_required(PROGRAM_OFFICER, ADMIN)
def overdue_reports(program_id: int):
    program = load_program_for(current_user, program_id)
    today = agency_today()
    base = _not_conflicted(
        sa.select(ProgressReport)
        .join(ProgressReport.award)
        .join(Award.application)
        .join(Application.organization)
        .where(Award.program_id == program.id)
        .options(contains_eager(ProgressReport.award).contains_eager(Award.application).contains_eager(Application.organization))
        .order_by(ProgressReport.due_on, ProgressReport.id)
    )
    overdue = db.session.scalars(base.where(
        ProgressReport.is_outstanding, ProgressReport.due_on < today, Award.is_open,
    )).all()
    waiting = db.session.scalars(base.where(ProgressReport.is_awaiting_review)).all()
    return render_template("awards/overdue_reports.html", program=program, overdue=overdue, waiting=waiting, today=today,
                           can_open=current_user.has_role(PROGRAM_OFFICER))


# Finance summary ------------------------------------------------------------------------------


@bp.route("/finance")
@roles_required(FINANCE, PROGRAM_OFFICER, ADMIN)
def finance_summary():
    fiscal_year = _query_number(query_text("fiscal_year"), 4)
    fiscal_years = db.session.scalars(sa.select(Program.fiscal_year).distinct().order_by(Program.fiscal_year.desc())).all()
    program_ids = None
    if fiscal_year is not None:
        program_ids = list(db.session.scalars(sa.select(Program.id).where(Program.fiscal_year == fiscal_year).order_by(Program.id)))
    rows = figures.program_figures(program_ids)
    totals = figures.total_figures(rows)
    return render_template("awards/finance_summary.html", rows=rows, totals=totals, fiscal_year="" if fiscal_year is None else str(fiscal_year),
                           fiscal_years=fiscal_years)
