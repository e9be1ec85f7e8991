"""One-time submission keys: a creating form sent again after a lost answer changes nothing.

Every form that creates something carries a random key (``formtools.OneTimeForm``). The route
claims the key in the same transaction as the creation, before creating: the key's row goes in
first, so a concurrent duplicate waits on it (PostgreSQL: the unique index; SQLite: the write
lock) and then finds it taken. The first request records where it sent the user; a resend is
sent there too. A claim whose request did not finish (the form was refused and shown again) is
released before the commit, so the corrected form can be sent with the same key.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from grants.db import UTCDateTime, utcnow
from grants.extensions import Model, db

# Long enough that nobody guesses another page's key; the pattern keeps junk out of the table.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")
# A lost answer is resent within minutes; a week covers a tab left open over a weekend.
KEEP_DAYS = 7
_PENDING = "pending_submission"  # Session.info: the (user id, key) claimed and not yet finished


class SubmissionKey(Model):
    """A used key of a creating form: who sent it, to which form, and where the first answer led."""

    __tablename__ = "submission_key"
    # Scoped to the user: another user's key is simply a key this user has not used, so it
    # never reveals (or blocks) what someone else submitted.
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_submission_key_user_id_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(64))
    purpose: Mapped[str] = mapped_column(sa.String(100))  # the endpoint of the form
    result_url: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


def new_submission_key() -> str:
    """A fresh random key for a creating form's hidden field. Refuses nothing."""
    return secrets.token_urlsafe(32)


def is_submission_key(value) -> bool:
    """Whether ``value`` looks like a key ``new_submission_key`` made. Refuses nothing."""
    return isinstance(value, str) and KEY_PATTERN.fullmatch(value) is not None


def claim_submission(*, key: str, user_id: int, purpose: str) -> str | None:
    """Claim ``key`` for ``user_id``'s submission; None when it is new, else where the first one led.

    Call it before creating anything, in the same transaction. A key sent before (or by a
    concurrent request that has since committed) returns the first answer's URL, or "" when
    that answer recorded none. Finish with ``record_submission_result``. Refuses nothing: a
    repeat is answered with the first URL, not an error.
    """
    try:
        with db.session.begin_nested():
            db.session.execute(sa.insert(SubmissionKey).values(key=key, user_id=user_id, purpose=purpose, created_at=utcnow()))
    except IntegrityError:
        first = db.session.scalar(
            sa.select(SubmissionKey.result_url).where(SubmissionKey.user_id == user_id, SubmissionKey.key == key)
        )
        return first or ""
    db.session.info[_PENDING] = (user_id, key)
    return None


def record_submission_result(url: str) -> None:
    """Remember where the claimed submission sent the user, for a resend of it. Refuses nothing."""
    user_id, key = db.session.info.pop(_PENDING)
    db.session.execute(
        sa.update(SubmissionKey).where(SubmissionKey.user_id == user_id, SubmissionKey.key == key).values(result_url=url[:500])
    )


@sa.event.listens_for(Session, "before_commit")
def _release_unfinished_claim(session: Session) -> None:
    # A claim without a result means the request refused the submission (a 200 showing the
    # form again, or a redirect with a message): it created nothing, so its key stays usable.
    if session.in_nested_transaction():
        return  # a savepoint (a claim, a queued e-mail) commits inside the request's transaction
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        user_id, key = pending
        session.execute(sa.delete(SubmissionKey).where(SubmissionKey.user_id == user_id, SubmissionKey.key == key))


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_claim(session: Session, transaction) -> None:
    if transaction.parent is None:  # the whole transaction ended (a rollback took the claim with it)
        session.info.pop(_PENDING, None)


def prune_submission_keys(*, older_than_days: int = KEEP_DAYS) -> int:
    """Delete keys older than ``older_than_days``; return how many. A resend after that creates anew.
    Refuses nothing.
    """
    cutoff = utcnow() - timedelta(days=older_than_days)
    # A DML statement gives a CursorResult, which has the row count.
    result = cast(sa.CursorResult, db.session.execute(sa.delete(SubmissionKey).where(SubmissionKey.created_at < cutoff)))
    return result.rowcount
