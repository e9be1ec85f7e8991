"""Keeps credentials out of the logs: password hashes, session and reset tokens, failing rows.

An error on a statement about a user carries the row with it: SQLAlchemy appends the statement's
parameters to the message (switched off with ``hide_parameters``, config.py), and PostgreSQL's
own message quotes the failing row or key. Flask logs that message, with the request path, when
a request fails, and a path may hold a reset or invitation token.
"""

from __future__ import annotations

import logging
import re

HIDDEN = "[hidden]"

_PATTERNS = [
    # PostgreSQL's DETAIL of a NOT NULL or CHECK violation: every column of the row.
    (re.compile(r"(Failing row contains )\(.*?\)(\.?)$", re.M), rf"\1({HIDDEN})\2"),
    # PostgreSQL's DETAIL of a unique or foreign-key violation: the key's value.
    (re.compile(r"(Key \([^)]*\)=)\(.*?\)( already exists| is not present| is still referenced)"), rf"\1({HIDDEN})\2"),
    # SQLAlchemy's statement parameters, from any engine made without hide_parameters.
    (re.compile(r"^\[parameters: .*\]$", re.M), f"[parameters: {HIDDEN}]"),
    # A werkzeug password hash wherever it turns up (method$salt$digest).
    (re.compile(r"\b(?:scrypt|pbkdf2)(?::[\w]+)*\$[^$\s'\"]+\$[0-9a-f]{16,}"), f"[password hash {HIDDEN}]"),
    # Signed tokens in links: a reset link signs in whoever holds it, an invitation joins an organization.
    (re.compile(r"(/password/reset/|/invitations/)[^\s/?#\"']+"), rf"\1{HIDDEN}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactCredentials(logging.Filter):
    """Rewrites a record's message and traceback before any handler (or pytest's caplog) sees it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and not record.exc_text:
                # Formatters reuse exc_text when it is set, so the traceback is written only as redacted.
                record.exc_text = redact(self._formatter.formatException(record.exc_info))
            elif record.exc_text:
                record.exc_text = redact(record.exc_text)
        except Exception:  # noqa: BLE001 - a malformed record is the handler's to report; never fail the caller
            pass
        return True


# The app's logger (Flask logs failed requests on it), and the servers' request logs, which show paths.
LOGGERS = ("grants", "werkzeug", "gunicorn.error", "gunicorn.access")


def install() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactCredentials) for existing in logger.filters):
            logger.addFilter(RedactCredentials())
