"""Domain errors raised by services, and the friendly error pages."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError


class DomainError(Exception):
    """A rule of the grant domain refused a change. ``field`` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    pass


def register_error_handlers(app: Flask) -> None:
    def page(status: int, title: str, message: str):
        return (
            render_template("errors/error.html", status=status, title=title, message=message),
            status,
        )

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
    def server_error(_error):
        return page(500, "Something went wrong", "We could not complete your request and nothing was changed. Please try again; if it keeps happening, contact the grants team.")
