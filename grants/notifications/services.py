"""The outbox: notification e-mails are rows first, delivered afterwards, never lost."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy.exc import IntegrityError

from grants.db import utcnow
from grants.extensions import db
from grants.notifications.models import DEDUPE_KEY_LENGTH, SUBJECT_LENGTH, OutboxMessage

log = logging.getLogger("grants.outbox")


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an e-mail or export, always on PUBLIC_BASE_URL.

    Never built from the request: its Host header is whatever the client sent, and a reset link
    on a host the attacker names hands them the token. Refuses nothing.
    """
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


# Line breaks and other control characters: in a header they end it (header injection) or make
# the mail library refuse the whole message.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def fitted_dedupe_key(key: str) -> str:
    """``key`` itself when it fits the column, else its start and a SHA-256 of the whole key.

    A key carries an e-mail address (up to 254 characters), and PostgreSQL refuses a value longer
    than the column, which aborted the whole reminder run; short keys stay as they were, so
    messages already queued under them are still recognised. Refuses nothing.
    """
    if len(key) <= DEDUPE_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[:DEDUPE_KEY_LENGTH - len(digest) - 1]}#{digest}"


def one_line_subject(subject: str) -> str:
    """``subject`` as one header line: control characters and line breaks folded into single spaces.
    Refuses nothing.
    """
    return " ".join(_CONTROL_CHARACTERS.sub(" ", subject).split())[:SUBJECT_LENGTH]


def queue_message(
    *, to: str, subject: str, body: str, dedupe_key: str | None = None
) -> OutboxMessage | None:
    """Queue an e-mail in the caller's transaction.

    The subject is folded onto one line (a name typed with a line break must not start a new
    header). With a ``dedupe_key`` already used, nothing is queued and None is returned.
    Refuses nothing.
    """
    if dedupe_key is not None:
        dedupe_key = fitted_dedupe_key(dedupe_key)
        exists = db.session.scalar(
            sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if exists:
            return None
    message = OutboxMessage(to_address=to, subject=one_line_subject(subject), body=body, dedupe_key=dedupe_key)
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


@dataclass(frozen=True)
class ClaimedMessage:
    """What a worker needs to send one message it has claimed; no database session is held."""

    id: int
    to_address: str
    subject: str
    body: str
    attempts: int
    claim_token: str


def retry_delay(attempts: int) -> timedelta:
    """The pause before the next try after ``attempts`` failed ones: doubling, at most six hours.
    Refuses nothing.
    """
    seconds = current_app.config["OUTBOX_RETRY_SECONDS"] * 2 ** min(attempts - 1, 20)
    return timedelta(seconds=min(seconds, 6 * 3600))


def deliver_pending(
    ids: list[int] | None = None, limit: int | None = 500, *, include_retrying: bool = False
) -> tuple[int, int]:
    """Send the messages that are due (all, or those ids), each at most once. Returns (sent, failed).

    Each message is claimed in a transaction of its own before it is sent and its outcome is
    committed right after, so workers running at once (request-time delivery, ``grants
    send-outbox`` on several hosts) never send one message twice, and a worker that dies leaves a
    claim that runs out after OUTBOX_CLAIM_SECONDS. It commits: call it outside a unit of work.
    ``include_retrying`` also sends messages waiting for their next retry (an administrator's
    "Send now"); messages given up on stay failed. Each message is tried at most once per call.
    Refuses nothing: a message that cannot be sent is counted in ``failed``.
    """
    db.session.commit()
    sent = failed = 0
    after_id = 0
    while limit is None or sent + failed < limit:
        message = _claim_next(ids=ids, after_id=after_id, include_retrying=include_retrying)
        if message is None:
            break
        after_id = message.id
        if deliver(message):
            sent += 1
        else:
            failed += 1
    return sent, failed


def _claim_next(*, ids: list[int] | None, after_id: int, include_retrying: bool) -> ClaimedMessage | None:
    """Claim the oldest due message after ``after_id`` and commit the claim; None when none is due.

    One UPDATE takes it: on PostgreSQL the row is picked ``FOR UPDATE SKIP LOCKED``, so
    concurrent workers take different rows; on SQLite the statement holds the write lock.
    """
    now = utcnow()
    token = secrets.token_hex(16)
    due = sa.select(OutboxMessage.id).where(
        OutboxMessage.id > after_id,
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )
    if not include_retrying:
        due = due.where(sa.or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))
    if ids is not None:
        due = due.where(OutboxMessage.id.in_(ids))
    due = due.order_by(OutboxMessage.id).limit(1).with_for_update(skip_locked=True)
    claim_seconds = current_app.config["OUTBOX_CLAIM_SECONDS"]
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == due.scalar_subquery())
        .values(claim_token=token, claimed_until=now + timedelta(seconds=claim_seconds),
                attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    row = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.to_address, OutboxMessage.subject, OutboxMessage.body,
                  OutboxMessage.attempts).where(OutboxMessage.claim_token == token)
    ).one_or_none()
    db.session.commit()
    return None if row is None else ClaimedMessage(*row, claim_token=token)


def deliver(message: ClaimedMessage) -> bool:
    """Send one claimed message and commit the outcome. Never raises for a message that cannot be sent.

    Any error building or sending it (a refused header, an unreachable server) is kept on the
    row; the message is tried again after ``retry_delay`` and given up after OUTBOX_MAX_ATTEMPTS,
    and the next message is sent all the same. Refuses nothing.
    """
    try:
        _send(message)
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("outbox message %s not sent (attempt %s): %s", message.id, message.attempts, error)
        _record_failure(message, error)
        return False
    _record_sent(message)
    return True


def _record_sent(message: ClaimedMessage) -> None:
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.sent_at.is_(None))
        .values(sent_at=utcnow(), last_error=None, next_attempt_at=None, claim_token=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _record_failure(message: ClaimedMessage, error: str) -> None:
    now = utcnow()
    gave_up = message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]
    outcome = {"failed_at": now} if gave_up else {"next_attempt_at": now + retry_delay(message.attempts)}
    if gave_up:
        log.error("outbox message %s given up after %s attempts: %s", message.id, message.attempts, error)
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.claim_token == message.claim_token)
        .values(last_error=error, claim_token=None, claimed_until=None, **outcome)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _send(message: ClaimedMessage) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        log.info(
            "E-mail to %s\nSubject: %s\n\n%s", message.to_address, message.subject, message.body
        )
        return
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.to_address
    email["Subject"] = one_line_subject(message.subject)  # also for rows queued before subjects were folded
    email.set_content(message.body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(email)
