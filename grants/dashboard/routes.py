import sqlalchemy as sa
from flask import jsonify, render_template, url_for
from flask_login import current_user
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from grants.accounts.models import APPLICANT, Membership, Organization
from grants.applications.models import DRAFT, SUBMITTED, UNDER_REVIEW, Application
from grants.clock import format_instant
from grants.db import utcnow
from grants.programs.services import open_programs
from grants.dashboard import bp
from grants.extensions import csrf, db
from grants.permissions import login_required, public


@bp.route("/")
@public
def index():
    return render_template("dashboard/index.html")


@bp.route("/home")
@login_required
def home():
    organizations = db.session.scalars(
        sa.select(Organization)
        .join(Membership)
        .where(Membership.user_id == current_user.id)
        .order_by(Organization.legal_name)
    ).all()
    applications = []
    if organizations:
        applications = db.session.scalars(
            sa.select(Application)
            .where(Application.organization_id.in_([org.id for org in organizations]))
            .options(selectinload(Application.program), selectinload(Application.organization))
            .order_by(Application.created_at.desc(), Application.id.desc())
        ).all()
    awards, award_payments, next_reports = grantee_awards([org.id for org in organizations])
    return render_template(
        "dashboard/home.html", organizations=organizations, applications=applications,
        opportunities=open_programs() if current_user.has_role(APPLICANT) else [],
        next_action=next_action, now=utcnow(),
        awards=awards, award_payments=award_payments, next_reports=next_reports,
    )


def grantee_awards(organization_ids: list[int]):
    """The organizations' awards, their (paid, pending) cents and next report due: three queries, whatever the count."""
    from grants.awards.models import DUE, REVISION_REQUESTED, Award, ProgressReport
    from grants.awards.services import payment_totals

    if not organization_ids:
        return [], {}, {}
    awards = db.session.scalars(
        sa.select(Award).join(Award.application)
        .where(Application.organization_id.in_(organization_ids))
        .options(contains_eager(Award.application).joinedload(Application.organization), joinedload(Award.program))
        .order_by(Award.created_at.desc(), Award.id.desc())
    ).all()
    award_ids = [award.id for award in awards]
    if not award_ids:
        return [], {}, {}
    payments = payment_totals(award_ids)
    # The earliest report still to be (re)submitted on each award.
    open_reports = sa.and_(ProgressReport.award_id.in_(award_ids), ProgressReport.status.in_((DUE, REVISION_REQUESTED)))
    first = (sa.select(ProgressReport.award_id, sa.func.min(ProgressReport.sequence).label("sequence"))
             .where(open_reports).group_by(ProgressReport.award_id).subquery())
    next_reports = {
        report.award_id: report
        for report in db.session.scalars(
            sa.select(ProgressReport).join(first, sa.and_(first.c.award_id == ProgressReport.award_id, first.c.sequence == ProgressReport.sequence))
            .order_by(ProgressReport.award_id)
        )
    }
    return awards, payments, next_reports


def next_action(application: Application) -> tuple[str, str | None]:
    """What the applicant should do next, and where (or None when nothing is theirs to do)."""
    if application.status == DRAFT:
        return (f"Finish and submit before {format_instant(application.deadline())}",
                url_for("applications.review_submit", application_id=application.id))
    waiting = {
        SUBMITTED: "Nothing for now: waiting for eligibility screening",
        UNDER_REVIEW: "Nothing for now: the application is being reviewed",
    }
    return waiting.get(application.status, "No action needed"), None


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
