from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/admin/outbox")

from grants.notifications import routes  # noqa: E402,F401
