from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import render_template, request

from grants.audit import bp
from grants.audit.models import AuditEvent, AuditHead
from grants.clock import local_to_utc
from grants.db import paginate, query_text
from grants.extensions import db
from grants.permissions import admin_required


def _date_arg(name: str):
    try:
        return datetime.strptime(request.args.get(name, ""), "%Y-%m-%d").date()
    except ValueError:
        return None


@bp.route("/")
@admin_required
def log():
    filters = {key: query_text(key) for key in ("actor", "action", "entity_type", "entity_id")}
    date_from, date_to = _date_arg("from"), _date_arg("to")
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if filters["actor"]:
        stmt = stmt.where(AuditEvent.actor_label.like(f"%{filters['actor'].lower()}%"))
    if filters["action"]:
        stmt = stmt.where(AuditEvent.action.like(f"{filters['action']}%"))
    if filters["entity_type"]:
        stmt = stmt.where(AuditEvent.entity_type == filters["entity_type"])
    if filters["entity_id"]:
        stmt = stmt.where(AuditEvent.entity_id == filters["entity_id"])
    if date_from:
        stmt = stmt.where(AuditEvent.occurred_at >= local_to_utc(datetime.combine(date_from, time.min)))
    if date_to and date_to < date.max:  # "to" the last day there is (9999-12-31) leaves no upper bound to add a day to
        stmt = stmt.where(AuditEvent.occurred_at < local_to_utc(datetime.combine(date_to + timedelta(days=1), time.min)))
    page = paginate(stmt, per_page=50)
    # Read after the page: an append commits its event and the head together, so a row above the
    # head read now was never appended to the chain (audit-verify names it).
    chain_head = db.session.scalar(sa.select(AuditHead.event_id).where(AuditHead.id == 1))
    actions = db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    entity_types = db.session.scalars(sa.select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)).all()
    return render_template(
        "audit/log.html", page=page, filters=filters, chain_head=chain_head, actions=actions, entity_types=entity_types,
        date_from=request.args.get("from", ""), date_to=request.args.get("to", ""),
    )
