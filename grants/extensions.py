"""Extensions, created unbound and initialised in ``create_app``."""

import ipaddress
from typing import TYPE_CHECKING

from flask import current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf import CSRFProtect

from grants.db import Base

db = SQLAlchemy(model_class=Base)
# The models' base class. A type checker cannot subclass the attribute ``db.Model`` (mypy #8603), so it
# sees the declarative Base that ``db.Model`` is made from; at run time it is ``db.Model`` itself.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
talisman = Talisman()


def client_address() -> str:
    """The client's address, the key of per-client limits (behind TRUSTED_PROXIES, ProxyFix's).

    An IPv6 client counts as its /64: one household or server is given a whole /64 and could
    otherwise step to a fresh address for every attempt.
    """
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


# Per-client limits on the pages strangers can hammer (sign-in, registration, password reset,
# invitations); the storage is RATELIMIT_STORAGE_URI, memory by default.
limiter = Limiter(key_func=client_address)


@limiter.request_filter
def _rate_limits_switched_off() -> bool:
    # RATE_LIMITS_ENABLED, read on every request: the test suite signs in hundreds of times from
    # one address and switches the limits on only where it checks them.
    return not current_app.config.get("RATE_LIMITS_ENABLED", True)
