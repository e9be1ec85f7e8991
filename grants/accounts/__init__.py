from flask import Blueprint

bp = Blueprint("accounts", __name__)

from grants.accounts import routes  # noqa: E402,F401
