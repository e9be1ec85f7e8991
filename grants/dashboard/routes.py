import sqlalchemy as sa
from flask import jsonify, render_template
from flask_login import current_user

from grants.accounts.models import Membership, Organization
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
    return render_template("dashboard/home.html", organizations=organizations)


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
