"""The outbox: notification e-mails are rows first, delivered afterwards, never lost."""

from __future__ import annotations

import hashlib
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy.exc import IntegrityError

from grants.db import utcnow
from grants.extensions import db
from grants.notifications.models import OutboxMessage

log = logging.getLogger("grants.outbox")


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an e-mail or export, always on PUBLIC_BASE_URL.

    Never built from the request: its Host header is whatever the client sent, and a reset link
    on a host the attacker names hands them the token.
    """
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


DEDUPE_KEY_LENGTH = OutboxMessage.__table__.c.dedupe_key.type.length


def fitted_dedupe_key(key: str) -> str:
    """``key`` itself when it fits the column, else its start and a SHA-256 of the whole key.

    A key carries an e-mail address (up to 254 characters), and PostgreSQL refuses a value longer
    than the column, which aborted the whole reminder run; short keys stay as they were, so
    messages already queued under them are still recognised.
    """
    if len(key) <= DEDUPE_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[:DEDUPE_KEY_LENGTH - len(digest) - 1]}#{digest}"


def queue_message(
    *, to: str, subject: str, body: str, dedupe_key: str | None = None
) -> OutboxMessage | None:
    """Queue an e-mail in the caller's transaction.

    With a ``dedupe_key`` already used, nothing is queued and None is returned.
    """
    if dedupe_key is not None:
        dedupe_key = fitted_dedupe_key(dedupe_key)
        exists = db.session.scalar(
            sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if exists:
            return None
    message = OutboxMessage(to_address=to, subject=subject[:200], body=body, dedupe_key=dedupe_key)
    db.session.add(message)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        return None  # a concurrent job queued the same key first
    if has_app_context():
        # Remembered so the request boundary can deliver them once the transaction commits.
        g.setdefault("queued_message_ids", []).append(message.id)
    return message


def deliver(message: OutboxMessage) -> bool:
    """Try to send one message; record the outcome on the row. Never raises for a send failure."""
    message.attempts += 1
    try:
        _send(message)
    except (OSError, smtplib.SMTPException) as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("outbox message %s not sent: %s", message.id, message.last_error)
        return False
    message.sent_at = utcnow()
    message.last_error = None
    return True


def _send(message: OutboxMessage) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        log.info(
            "E-mail to %s\nSubject: %s\n\n%s", message.to_address, message.subject, message.body
        )
        return
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(email)


def deliver_pending(ids: list[int] | None = None, limit: int = 500) -> tuple[int, int]:
    """Send unsent messages (all, or those ids). Returns (sent, failed). Caller commits."""
    stmt = sa.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    messages = db.session.scalars(stmt.order_by(OutboxMessage.id).limit(limit)).all()
    sent = sum(deliver(message) for message in messages)
    return sent, len(messages) - sent
