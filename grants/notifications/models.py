from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from grants.db import UTCDateTime, utcnow
from grants.extensions import Model


class OutboxStatus(enum.StrEnum):
    """Where a message stands; worked out from its columns, so a row never disagrees with itself."""

    WAITING = "waiting"    # queued, not yet tried
    SENDING = "sending"    # claimed by a worker right now
    RETRYING = "retrying"  # a send failed; tried again at next_attempt_at
    SENT = "sent"
    FAILED = "failed"      # given up after OUTBOX_MAX_ATTEMPTS; an administrator can see why


# Column widths; the notification services fit subjects and keys to them.
SUBJECT_LENGTH = 200
DEDUPE_KEY_LENGTH = 120


class OutboxMessage(Model):
    """An e-mail waiting to be sent (or sent).

    A failed send is retried with a growing pause and given up after a number of attempts; a
    worker claims a message (``claim_token`` until ``claimed_until``) before sending it, so two
    workers never both send it and a claim left by a worker that died runs out.
    """

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(SUBJECT_LENGTH))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # Lets a job queue one message per event and stage (e.g. one reminder per report), idempotently.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(DEDUPE_KEY_LENGTH), unique=True)
    # Not tried again before this instant (None: as soon as possible).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    @property
    def status(self) -> OutboxStatus:
        if self.sent_at is not None:
            return OutboxStatus.SENT
        if self.failed_at is not None:
            return OutboxStatus.FAILED
        if self.claimed_until is not None and self.claimed_until > utcnow():
            return OutboxStatus.SENDING
        return OutboxStatus.RETRYING if self.attempts else OutboxStatus.WAITING
