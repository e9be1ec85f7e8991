"""Each role's home page and the program and finance dashboards; figures come from grants.dashboard.services."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import NamedTuple

import sqlalchemy as sa
from flask import jsonify, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from grants.accounts.models import ADMIN, APPLICANT, FINANCE, PROGRAM_OFFICER, REVIEWER, Membership, Organization
from grants.applications.lifecycle import ApplicationStatus as S
from grants.applications.models import Application
from grants.awards.figures import program_figures, total_figures
from grants.clock import agency_today, format_instant
from grants.dashboard import bp, charts, services
from grants.db import utcnow
from grants.extensions import csrf, db
from grants.permissions import conflicted_application_ids, load_program_for, login_required, public, roles_required
from grants.programs.services import open_programs

PROGRAM_STAFF = (PROGRAM_OFFICER, ADMIN)


@bp.app_template_global()
def calibration_chart(per_reviewer, overall) -> dict:
    """For the review assignments page: its calibration figures as a chart spec."""
    return charts.calibration_chart(per_reviewer, overall)


@bp.route("/")
@public
def index():
    return render_template("dashboard/index.html")


# Home: one section per role the user holds ------------------------------------------------------


@bp.route("/home")
@login_required
def home():
    now = utcnow()
    today = agency_today(now)
    context: dict = {"now": now, "today": today}
    context.update(_applicant_context(today))
    if current_user.has_role(REVIEWER):
        context.update(_reviewer_context())
    if current_user.has_role(PROGRAM_OFFICER):
        context.update(_officer_context(now, today))
    if current_user.has_role(FINANCE):
        context.update(_finance_context(today))
    return render_template("dashboard/home.html", **context)


def _applicant_context(today: date) -> dict:
    organizations = db.session.scalars(
        sa.select(Organization)
        .join(Membership)
        .where(Membership.user_id == current_user.id)
        .order_by(Organization.legal_name)
    ).all()
    organization_ids = [org.id for org in organizations]
    applications: Sequence[Application] = []
    if organizations:
        applications = db.session.scalars(
            sa.select(Application)
            .where(Application.organization_id.in_(organization_ids))
            .options(selectinload(Application.program), selectinload(Application.organization))
            .order_by(Application.created_at.desc(), Application.id.desc())
        ).all()
    awards, award_payments, next_reports = services.grantee_awards(organization_ids)
    return {
        "organizations": organizations, "applications": applications, "next_action": next_action,
        "opportunities": open_programs() if current_user.has_role(APPLICANT) else [],
        "organization_summaries": services.organization_summaries(organization_ids=organization_ids, today=today),
        "awards": awards, "award_payments": award_payments, "next_reports": next_reports,
        "awards_chart": charts.grantee_awards_chart(awards, award_payments) if awards else None,
        "payments": services.recent_payments(organization_ids=organization_ids) if awards else [],
    }


class NextStep(NamedTuple):
    text: str
    link: str | None
    due: datetime | None


def next_action(application: Application) -> NextStep:
    """What the applicant should do next, where (None when nothing is theirs to do), and by when."""
    if application.is_draft:
        deadline = application.deadline()
        return NextStep(f"Finish and submit before {format_instant(deadline)}",
                        url_for("applications.review_submit", application_id=application.id), deadline)
    waiting: dict[str, str] = {
        S.SUBMITTED: "Nothing for now: waiting for eligibility screening",
        S.UNDER_REVIEW: "Nothing for now: the application is being reviewed",
        S.WAITLISTED: "Nothing for now: on the waiting list in case funds become available",
        S.APPROVED: "Nothing for now: approved; the program officer will send the award",
        S.AWARDED: "See the award under Your awards",
        S.INELIGIBLE: "None: screened ineligible; the reason is on the application",
        S.DECLINED: "None: not selected for funding",
        S.WITHDRAWN: "None: withdrawn",
    }
    return NextStep(waiting.get(application.status, "No action needed"), None, None)


def _reviewer_context() -> dict:
    workload = services.reviewer_workload(reviewer_id=current_user.id)
    return {
        "workload": workload,
        "workload_totals": {
            "to_do": sum(r.to_do for r in workload), "in_progress": sum(r.in_progress for r in workload),
            "done": sum(r.done for r in workload),
        },
        "workload_chart": charts.reviewer_chart(workload) if workload else None,
        "open_assignments": services.open_assignments(reviewer_id=current_user.id),
        "open_assignments_limit": services.OPEN_ASSIGNMENTS_LIMIT,
    }


def _officer_context(now: datetime, today: date) -> dict:
    progress = services.review_progress(program_ids=None)
    return {
        "officer_pipeline_chart": charts.pipeline_chart(services.applications_by_status(program_ids=None), chart_id="home-pipeline-chart"),
        "officer_progress": progress,
        "officer_overdue_reviewers": len(services.overdue_reviewers(program_ids=None, now=now)),
        "officer_reports": services.reports_due(program_ids=None, today=today),
    }


def _finance_context(today: date) -> dict:
    figures = program_figures()
    attention, attention_total = services.awards_needing_attention(
        today=today, hidden=frozenset(conflicted_application_ids(current_user)))
    return {
        "payment_queue": services.payment_queue(),
        "payments_made": services.payments_made(today=today),
        "finance_chart": charts.programs_budget_chart(figures, chart_id="finance-programs-chart"),
        "attention": attention, "attention_total": attention_total, "attention_limit": services.ATTENTION_LIMIT,
        "ending_soon_days": services.AWARD_ENDING_SOON_DAYS, "low_balance_percent": services.LOW_BALANCE_PERCENT,
    }


@bp.route("/dashboard/finance")
@roles_required(FINANCE, ADMIN)
def finance_home():
    today = agency_today(utcnow())
    return render_template("dashboard/finance.html", today=today, **_finance_context(today))


# Program dashboards -----------------------------------------------------------------------------


def _program_sections(program_ids: list[int] | None, now: datetime, today: date) -> dict:
    """Everything both program dashboards show, for one program, some, or all (None)."""
    progress = services.review_progress(program_ids=program_ids)
    reports = services.reports_due(program_ids=program_ids, today=today)
    return {
        "pipeline_chart": charts.pipeline_chart(services.applications_by_status(program_ids=program_ids)),
        "partner_type_chart": charts.amounts_chart(
            services.amounts_by_partner_type(program_ids=program_ids), chart_id="partner-type-chart",
            title="Requested and awarded by partner type", category_title="Partner type", footer=False,
            note="An application with partners of several types counts under each of them, so the rows add up to more "
                 "than the program's total. Requested counts submitted applications (not drafts or withdrawn ones); "
                 "awarded is the awards' current amounts."),
        "county_chart": charts.amounts_chart(
            services.amounts_by_county(program_ids=program_ids), chart_id="county-chart",
            title="Requested and awarded by county", category_title="County",
            note="County of the applicant organization, as on the award ledger."),
        "progress": progress, "review_chart": charts.review_chart(progress),
        "overdue_reviewers": services.overdue_reviewers(program_ids=program_ids, now=now),
        "reports": reports, "reports_chart": charts.reports_chart(reports),
        "today": today, "now": now,
    }


@bp.route("/programs/<int:program_id>/dashboard")
@roles_required(*PROGRAM_STAFF)
def program_dashboard(program_id: int):
    program = load_program_for(current_user, program_id)
    now = utcnow()
    figures = program_figures([program.id])[0]
    return render_template(
        "dashboard/program.html", program=program, figures=figures, budget_chart=charts.budget_chart(figures),
        **_program_sections([program.id], now, agency_today(now)),
    )


def _query_year(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    return int(text) if re.fullmatch(r"[0-9]{4}", text) else None


@bp.route("/dashboard/programs")
@roles_required(*PROGRAM_STAFF)
def programs_dashboard():
    fiscal_year = _query_year("fiscal_year")
    program_ids = services.program_ids_for_fiscal_year(fiscal_year)
    rows = program_figures(program_ids)
    now = utcnow()
    totals = total_figures(rows, fiscal_year=fiscal_year or 0)
    return render_template(
        "dashboard/programs.html", fiscal_year=fiscal_year, fiscal_years=services.fiscal_years(), figures=totals,
        budget_chart=charts.budget_chart(totals),
        programs_chart=charts.programs_budget_chart(
            rows, chart_id="programs-budget-chart",
            links=[url_for("dashboard.program_dashboard", program_id=r.program_id) for r in rows]),
        **_program_sections(program_ids, now, agency_today(now)),
    )


@bp.route("/healthz")
@public
@csrf.exempt
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure to reach the database means "down"
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
