"""The audit trail: every state change writes one hash-chained AuditEvent in its own transaction."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import has_request_context, request

from grants.audit.models import AuditEvent, AuditHead
from grants.db import utcnow
from grants.extensions import db

if TYPE_CHECKING:
    from grants.accounts.models import User

GENESIS_HASH = "0" * 64
# Any constant: the key of the PostgreSQL advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 0x6772616E7473


def _plain(value: Any) -> Any:
    """Turn a value into the JSON the audit row stores, so the hash survives a round trip."""
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(event: AuditEvent) -> str:
    """The SHA-256 of the event's fields and its predecessor's hash, in canonical JSON. Refuses nothing."""
    payload = {
        "prev_hash": event.prev_hash,
        "occurred_at": _instant(event.occurred_at),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "changes": event.changes,
        "ip_address": event.ip_address,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields whose values differ, as ``{field: {"before": …, "after": …}}``. Refuses nothing."""
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def record_event(
    actor: User | None,
    action: str,
    entity: Any = None,
    changes: dict[str, Any] | None = None,
    *,
    entity_type: str | None = None,
    entity_id: Any = None,
) -> AuditEvent:
    """Append an event to the chain inside the caller's transaction and flush it.

    ``entity`` is a model instance (flushed, so it has an id) or None with ``entity_type`` and
    ``entity_id`` given. ``changes`` is usually ``{field: {"before": x, "after": y}}``.
    Refuses nothing: on PostgreSQL it waits for the chain's lock, held to the end of the transaction.
    """
    if entity is not None:
        if entity.id is None:
            db.session.flush()
        entity_type = entity_type or entity.__tablename__
        entity_id = entity.id
    _lock_chain()
    head = db.session.scalars(
        sa.select(AuditHead).where(AuditHead.id == 1).execution_options(populate_existing=True)
    ).one_or_none()
    # Without a head the chain starts again from genesis: were its record deleted to hide the
    # removal of the newest events, the next event would not follow them and verification fails.
    prev_hash = head.hash if head is not None else None
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.email if actor is not None else "system",
        action=action,
        entity_type=entity_type or "system",
        entity_id=None if entity_id is None else str(entity_id),
        changes=_plain(changes or {}),
        ip_address=request.remote_addr if has_request_context() else None,
        prev_hash=prev_hash or GENESIS_HASH,
    )
    event.hash = event_hash(event)
    db.session.add(event)
    db.session.flush()
    if head is None:
        db.session.add(AuditHead(id=1, event_id=event.id, hash=event.hash))
    else:
        head.event_id, head.hash = event.id, event.hash
    db.session.flush()
    return event


def _lock_chain() -> None:
    # SQLite writers already hold the database write lock (BEGIN IMMEDIATE); PostgreSQL
    # writers queue here so two transactions never chain onto the same previous event.
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_CHAIN_LOCK_KEY)))


@dataclass
class ChainReport:
    count: int
    first_bad_id: int | None = None
    problem: str | None = None
    head_id: int | None = None
    head_hash: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None and self.problem is None

    @property
    def anchor(self) -> str | None:
        """The head as ``ID:HASH``: kept outside the database, it lets a later check notice removal."""
        return None if self.head_id is None else f"{self.head_id}:{self.head_hash}"


def parse_anchor(text: str) -> tuple[int, str]:
    """``ID:HASH`` as printed by audit-verify; ValueError for anything else. Refuses nothing else
    (no DomainError: it parses a command-line option).
    """
    event_id, _, digest = text.strip().partition(":")
    if not event_id.isascii() or not event_id.isdigit() or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise ValueError("An anchor is the event id and its hash as audit-verify prints them: ID:HASH (64 hex digits).")
    return int(event_id), digest


def _read_head():
    return db.session.execute(sa.select(AuditHead.event_id, AuditHead.hash).where(AuditHead.id == 1)).first()


class _ChainWalk:
    """Follows the chain in id order from genesis, batch by batch, remembering where it got to."""

    def __init__(self, anchor: tuple[int, str] | None):
        self.anchor = anchor
        self.anchor_seen = anchor is None
        self.count = 0
        self.last_id = 0
        self.last_hash: str | None = None

    def walk(self, batch_size: int, up_to: int | None, *, past: int | None = None) -> ChainReport | None:
        """Verify the events after the last one walked (up to id ``up_to``); the first bad one as a report.

        ``past`` is the newest event the head recorded when the walk goes beyond it: events there
        must follow the chain like any other, or they are rows that were never appended to it.
        """
        while True:
            stmt = sa.select(AuditEvent).where(AuditEvent.id > self.last_id)
            if up_to is not None:
                stmt = stmt.where(AuditEvent.id <= up_to)
            events = db.session.scalars(stmt.order_by(AuditEvent.id).limit(batch_size)).all()
            if not events:
                return None
            for event in events:
                problem = self._problem(event)
                if problem is not None:
                    if past is not None:
                        problem = f"is not on the chain: it comes after its newest recorded event {past}, and {problem}"
                    return ChainReport(self.count, event.id, problem)
                self.count += 1
                self.last_id, self.last_hash = event.id, event.hash
            db.session.expunge_all()

    def _problem(self, event: AuditEvent) -> str | None:
        if event.prev_hash != (self.last_hash or GENESIS_HASH):
            return "does not follow the event before it (one was removed or reordered)"
        if event_hash(event) != event.hash:
            return "its contents were altered after it was written"
        if self.anchor is not None and event.id == self.anchor[0]:
            if event.hash != self.anchor[1]:
                return "its hash differs from the anchor recorded earlier (the chain was rewritten)"
            self.anchor_seen = True
        return None


def verify_chain(batch_size: int = 5000, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk the chain in id order; report the first event that was altered, removed, moved or added.

    The newest events have no successor to show their removal; the AuditHead row, moved with
    every append, does. Someone able to rewrite both could rebuild the whole chain with fresh
    hashes, so ``anchor`` (a head recorded earlier, outside the database) must still be in the
    chain with the same hash. Every row must be on the chain: one after the head is either an
    append made during the walk (it follows the chain, and the head has moved to it) or was put
    there some other way. Refuses nothing: a broken chain is reported, not raised.
    """
    # The head is read first and the first walk stops at it: on PostgreSQL every query sees the
    # latest commits, and events appended while the walk runs must not look like a removed tail.
    # Appends are serialized, so every event up to the head read here is already committed.
    head = _read_head()
    chain = _ChainWalk(anchor)
    report = chain.walk(batch_size, up_to=head.event_id if head is not None else None)
    if report is not None:
        return report
    if chain.count and head is None:
        return ChainReport(chain.count, None, "the record of its newest event is missing (it was deleted)", chain.last_id, chain.last_hash)
    if head is not None and (head.event_id, head.hash) != (chain.last_id, chain.last_hash):
        return ChainReport(chain.count, None, f"it ends at event {chain.last_id or 'none'} but its newest event was {head.event_id} "
                                              "(events were removed from its end)", chain.last_id or None, chain.last_hash)
    if head is not None:
        walked_to = chain.last_id
        report = chain.walk(batch_size, up_to=None, past=walked_to)
        if report is not None:
            return report
        if chain.last_id > walked_to:
            # An append commits its event and the head together, so a real one is behind the head by now.
            now = _read_head()
            if now is None or now.event_id < chain.last_id:
                recorded = now.event_id if now is not None else walked_to
                stray = db.session.scalar(sa.select(sa.func.min(AuditEvent.id)).where(AuditEvent.id > recorded))
                return ChainReport(chain.count, stray, f"is not on the chain: it comes after its newest recorded event {recorded} "
                                                       "(the row was added to the table, not appended to the chain)")
    if not chain.anchor_seen and anchor is not None:  # unseen only when there is an anchor
        return ChainReport(chain.count, None, f"the anchor event {anchor[0]} is no longer in the chain "
                                              "(events were removed from its end)", chain.last_id or None, chain.last_hash)
    return ChainReport(chain.count, head_id=chain.last_id or None, head_hash=chain.last_hash)
