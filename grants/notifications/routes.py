import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from grants.audit.services import record_event
from grants.db import paginate, utcnow
from grants.extensions import db
from grants.notifications import bp
from grants.notifications.models import OutboxMessage
from grants.notifications.services import deliver_pending
from grants.permissions import admin_required
from grants.text import ngettext

# ?status= on the outbox page: the rows each choice lists.
STATUS_FILTERS = {
    "unsent": ("Not sent yet", lambda: sa.and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))),
    "retrying": ("Failed, will be retried", lambda: sa.and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
                                                             OutboxMessage.last_error.is_not(None))),
    "failed": ("Failed, given up", lambda: OutboxMessage.failed_at.is_not(None)),
    "sent": ("Sent", lambda: OutboxMessage.sent_at.is_not(None)),
}


@bp.route("/")
@admin_required
def outbox():
    status = request.args.get("status", "")
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status in STATUS_FILTERS:
        stmt = stmt.where(STATUS_FILTERS[status][1]())
    else:
        status = ""
    page = paginate(stmt, per_page=50)
    counts = {key: db.session.scalar(sa.select(sa.func.count()).where(condition()))
              for key, (_label, condition) in STATUS_FILTERS.items() if key != "sent"}
    return render_template("notifications/outbox.html", page=page, counts=counts, status=status, filters=STATUS_FILTERS,
                           now=utcnow(), max_attempts=current_app.config["OUTBOX_MAX_ATTEMPTS"], form=FlaskForm())


@bp.route("/send", methods=["POST"])
@admin_required
def send_now():
    if FlaskForm().validate_on_submit():
        sent, failed = deliver_pending(include_retrying=True)
        record_event(current_user, "outbox.sent", entity_type="outbox", changes={"sent": sent, "failed": failed})
        flash(ngettext("Sent %(num)d message; %(failed)d failed and will be retried (or shown as failed once out of attempts).",
                       "Sent %(num)d messages; %(failed)d failed and will be retried (or shown as failed once out of attempts).",
                       sent, failed=failed),
              "success" if not failed else "warning")
    return redirect(url_for("notifications.outbox"))
