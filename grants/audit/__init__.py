from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

from grants.audit import routes  # noqa: E402,F401
