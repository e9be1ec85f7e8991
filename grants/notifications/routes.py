import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from grants.accounts.models import ADMIN
from grants.audit.services import record_event
from grants.db import paginate
from grants.extensions import db
from grants.text import ngettext
from grants.notifications import bp
from grants.notifications.models import OutboxMessage
from grants.notifications.services import deliver_pending
from grants.permissions import roles_required


@bp.route("/")
@roles_required(ADMIN)
def outbox():
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())
    page = paginate(stmt, per_page=50)
    pending = db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.sent_at.is_(None)))
    return render_template("notifications/outbox.html", page=page, pending=pending, form=FlaskForm())


@bp.route("/send", methods=["POST"])
@roles_required(ADMIN)
def send_now():
    if FlaskForm().validate_on_submit():
        sent, failed = deliver_pending()
        record_event(current_user, "outbox.sent", entity_type="outbox", changes={"sent": sent, "failed": failed})
        flash(ngettext("Sent %(num)d message; %(failed)d failed and stay queued.",
                       "Sent %(num)d messages; %(failed)d failed and stay queued.", sent, failed=failed),
              "success" if not failed else "warning")
    return redirect(url_for("notifications.outbox"))
