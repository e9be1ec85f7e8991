"""The grants system: an application factory that reads as a table of contents."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, abort, g, request, url_for

from config import CONFIGS

BASE_DIR = Path(__file__).resolve().parent.parent


def create_app(config_name: str | None = None, **overrides) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=str(BASE_DIR / "instance"),
    )
    load_config(app, config_name or os.environ.get("FLASK_CONFIG", "development"), overrides)
    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_rate_limits(app)
    register_request_boundary(app)
    register_template_helpers(app)
    register_commands(app)
    return app


def load_config(app: Flask, config_name: str, overrides: dict) -> None:
    if config_name not in CONFIGS:
        raise SystemExit(f"FLASK_CONFIG must be one of {', '.join(CONFIGS)}, not {config_name!r}.")
    app.config.from_object(CONFIGS[config_name]())
    app.config.update(overrides)
    app.config["CONFIG_NAME"] = config_name
    if not app.config.get("SECRET_KEY"):
        raise SystemExit("SECRET_KEY is not set: export a long random SECRET_KEY before starting in production.")
    app.config["PUBLIC_BASE_URL"] = public_base_url(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    Path(app.config["UPLOAD_FOLDER"]).mkdir(parents=True, exist_ok=True)
    configure_logging()
    proxies = int(os.environ.get("TRUSTED_PROXIES", "0"))
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask documents replacing wsgi_app as the way to add middleware; its stubs declare a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]


def public_base_url(config) -> str:
    """The site's address for links in e-mails and exports, from configuration only.

    PUBLIC_BASE_URL (or its older name BASE_URL), else SERVER_NAME with PREFERRED_URL_SCHEME.
    Refuses to start without one: a link built from the request's Host header would let anyone
    who types a victim's address receive that victim's password-reset link on their own host.
    """
    from urllib.parse import urlsplit

    url = config.get("PUBLIC_BASE_URL") or config.get("BASE_URL")
    if not url and config.get("SERVER_NAME"):
        root = (config.get("APPLICATION_ROOT") or "/").rstrip("/")
        url = f"{config.get('PREFERRED_URL_SCHEME') or 'https'}://{config['SERVER_NAME']}{root}"
    if not url:
        raise SystemExit(
            "PUBLIC_BASE_URL is not set: export the address people use to reach the site "
            "(for example https://grants.example.gov) before starting in production."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SystemExit(f"PUBLIC_BASE_URL must look like https://grants.example.gov, not {url!r}.")
    return url.rstrip("/")


def configure_logging() -> None:
    from grants import log_redaction

    log_redaction.install()
    logger = logging.getLogger("grants")
    logger.setLevel(logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def register_extensions(app: Flask) -> None:
    import grants.models  # noqa: F401 - the whole schema, for Alembic
    from grants.db import configure_sqlite
    from grants.extensions import csrf, db, login_manager, migrate, talisman

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    talisman.init_app(
        app,
        force_https=app.config["FORCE_HTTPS"],
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        content_security_policy={
            "default-src": "'self'",
            "img-src": "'self' data:",
            "object-src": "'none'",
            "base-uri": "'self'",
            "form-action": "'self'",
            "frame-ancestors": "'none'",
        },
    )


def register_url_converters(app: Flask) -> None:
    from werkzeug.routing import IntegerConverter

    class DatabaseIdConverter(IntegerConverter):
        """An <int:…> that never exceeds a database integer, so huge ids are a 404, not a 500."""

        def __init__(self, url_map, *args, **kwargs):
            kwargs.setdefault("max", 2**31 - 1)
            super().__init__(url_map, *args, **kwargs)

    app.url_map.converters["int"] = DatabaseIdConverter


def register_blueprints(app: Flask) -> None:
    from importlib import import_module

    # Each domain package holds its blueprint; importing its routes attaches the views.
    for domain in ("dashboard", "accounts", "programs", "applications", "reviews", "awards", "exports", "audit", "notifications"):
        import_module(f"grants.{domain}.routes")
        app.register_blueprint(import_module(f"grants.{domain}").bp)


def register_error_handlers(app: Flask) -> None:
    from grants.errors import register_error_handlers as register

    register(app)


def register_rate_limits(app: Flask) -> None:
    """Per-client limits (the routes name theirs), and a 429 page that says how long to wait."""
    import math
    import time

    from flask import render_template

    from grants.extensions import limiter

    limiter.init_app(app)

    @app.errorhandler(429)
    def too_many_requests(_error):
        current = limiter.current_limit
        seconds = max(1, math.ceil(current.reset_at - time.time())) if current else 60
        minutes = max(1, round(seconds / 60))  # a window's reset can land a second past the minute
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        response = app.make_response((
            render_template(
                "errors/error.html", status=429, title="Too many attempts",
                message=(f"There have been too many attempts from your connection, so this page is paused "
                         f"for it. Wait {wait} and try again; this request was not carried out."),
            ),
            429,
        ))
        response.headers["Retry-After"] = str(seconds)
        return response


def register_request_boundary(app: Flask) -> None:
    """One commit per request: commit on 2xx/3xx, roll back otherwise; then send queued mail."""
    from grants.errors import roll_back_failed_request
    from grants.extensions import db
    from grants.notifications.services import deliver_pending

    @app.before_request
    def refuse_nul_characters():
        # No one types NUL; PostgreSQL refuses it in text, so answer 400 before any query sees it.
        values = [*request.args.values(), *request.form.values(), request.path]
        if any("\x00" in value for value in values):
            abort(400)

    @app.after_request
    def commit_or_rollback(response):
        if response.status_code < 400:
            db.session.commit()
            queued = g.pop("queued_message_ids", None)
            if queued and app.config["OUTBOX_SEND_AFTER_REQUEST"]:
                try:
                    deliver_pending(queued)
                except Exception:  # noqa: BLE001 - the change is committed; `grants send-outbox` sends what is left
                    db.session.rollback()
                    app.logger.exception("request-time delivery of outbox messages %s failed", queued)
        else:
            # Never raises: an error page must still leave with its headers when the database is gone.
            roll_back_failed_request()
        return response


def register_template_helpers(app: Flask) -> None:
    from grants.accounts.models import ROLE_LABELS
    from grants.applications.lifecycle import ApplicationStatus
    from grants.clock import format_instant
    from grants.money import format_money
    from grants.permissions import TEMPLATE_HELPERS
    from grants.programs.lifecycle import ProgramStatus
    from grants.programs.models import PARTNER_TYPES
    from grants.text import ngettext

    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["instant"] = format_instant
    app.jinja_env.filters["day"] = lambda value, fmt="%B %-d, %Y": value.strftime(fmt) if value else ""
    app.jinja_env.filters["role_label"] = lambda role: ROLE_LABELS.get(role, role)
    app.jinja_env.filters["partner_type_label"] = lambda key: PARTNER_TYPES.get(key, key)
    app.jinja_env.globals.update(TEMPLATE_HELPERS, ROLE_LABELS=ROLE_LABELS)

    def url_with_page(number: int) -> str:
        args: dict[str, Any] = {**request.args.to_dict(), "page": number}
        assert request.endpoint is not None  # only routed pages are paginated
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    app.jinja_env.globals["url_with_page"] = url_with_page
    app.jinja_env.globals["ngettext"] = ngettext
    # Templates compare statuses with the lifecycles' enums, never with spelled-out strings.
    app.jinja_env.globals["ProgramStatus"] = ProgramStatus
    app.jinja_env.globals["ApplicationStatus"] = ApplicationStatus

    @app.context_processor
    def layout():
        from flask_login import current_user

        from grants.navigation import nav_items

        return {"agency_name": app.config["AGENCY_NAME"], "nav_items": nav_items(current_user)}


def register_commands(app: Flask) -> None:
    from grants.cli import grants_cli

    app.cli.add_command(grants_cli)
