from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from grants.db import UTCDateTime, utcnow
from grants.extensions import db


class OutboxMessage(db.Model):
    """An e-mail waiting to be sent (or sent). A failed send leaves it queued."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # Lets a job queue one message per event and stage (e.g. one reminder per report), idempotently.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
