"""Domain errors raised by services, and the friendly error pages."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, g, render_template
from flask_wtf.csrf import CSRFError

log = logging.getLogger("grants")

# The database could not answer just now (restarting, unreachable, a deadlock, no free connection):
# the request itself was fine, and the same request will work again in a moment.
DATABASE_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.DisconnectionError, sa.exc.TimeoutError)


class DomainError(Exception):
    """A rule of the grant domain refused a change. ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def roll_back_failed_request() -> None:
    """Undo what the failed request left in the session, so the error page can read the database.

    After a failed flush the session refuses every query until it is rolled back; with the
    database gone the rollback fails too, and is then only logged.
    """
    from grants.extensions import db

    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        log.warning("could not roll back after a failed request", exc_info=True)


def _page_with_layout(status: int, title: str, message: str) -> tuple[str, int]:
    """The error page in the full layout, which reads the signed-in user from the database."""
    roll_back_failed_request()
    return render_template("errors/error.html", status=status, title=title, message=message), status


def _page_without_database(status: int, title: str, message: str) -> tuple[str, int]:
    """The error page with no navigation and no user: nothing in it reads the database."""
    from grants.extensions import login_manager

    roll_back_failed_request()
    # Flask-Login loads the user from the database on first use; a stand-in visitor stops that.
    g._login_user = login_manager.anonymous_user()
    html = render_template("errors/error.html", status=status, title=title, message=message, database_unavailable=True)
    return html, status


def render_error_page(status: int, title: str, message: str) -> tuple[str, int]:
    """The error page in the site's layout; without navigation when the database cannot answer."""
    try:
        return _page_with_layout(status, title, message)
    except sa.exc.SQLAlchemyError:
        log.warning("the %s page could not read the database; drawn without navigation", status, exc_info=True)
        return _page_without_database(status, title, message)


def database_unavailable_page():
    """503 and "try again in a moment", drawn without touching the database."""
    html, status = _page_without_database(
        503, "Please try again in a moment",
        "The grants system could not reach its database just now, so nothing was saved. "
        "Please try again in a moment.",
    )
    return html, status, {"Retry-After": "10"}


def register_error_handlers(app: Flask) -> None:
    page = render_error_page

    @app.errorhandler(400)
    def bad_request(_error):
        return page(400, "Bad request", "The request could not be understood. Go back and try again.")

    @app.errorhandler(CSRFError)
    def csrf_error(_error):
        return page(
            400,
            "Your form expired",
            "The page you submitted was out of date or missing its security token. "
            "Go back, reload the page and submit it again.",
        )

    @app.errorhandler(403)
    def forbidden(_error):
        return page(403, "You do not have access to this page", "Your account does not have permission to see this page. If you think it should, contact your program officer.")

    @app.errorhandler(404)
    def not_found(_error):
        return page(404, "Page not found", "We could not find that page. It may have been moved, or you may not have access to it.")

    @app.errorhandler(405)
    def method_not_allowed(_error):
        return page(405, "Not allowed", "That action is not available here.")

    @app.errorhandler(413)
    def too_large(_error):
        limit = app.config["MAX_UPLOAD_MB"]
        return page(413, "File too large", f"Files can be at most {limit} MB. Go back and choose a smaller file; nothing you saved before has been lost.")

    @app.errorhandler(500)
    def server_error(error):
        if isinstance(getattr(error, "original_exception", None), DATABASE_UNAVAILABLE):
            # Not even the user is read again: on a locked SQLite that would wait out its busy timeout once more.
            return database_unavailable_page()
        try:
            return _page_with_layout(500, "Something went wrong", "We could not complete your request and nothing was changed. Please try again; if it keeps happening, contact the grants team.")
        except sa.exc.SQLAlchemyError:
            log.warning("the 500 page could not read the database", exc_info=True)
            return database_unavailable_page()
