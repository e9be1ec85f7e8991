"""Declarative base, column types shared by every domain, and write locking.

Times are stored as UTC and always come back timezone-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """An instant: stored as naive UTC, returned as an aware UTC datetime."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def configure_sqlite(engine: sa.Engine) -> None:
    """Foreign keys on, WAL, a busy timeout, and BEGIN IMMEDIATE for writing requests.

    pysqlite's own transaction handling is switched off so that we issue BEGIN ourselves:
    a request that may write takes the write lock up front, so two writers queue on the busy
    timeout instead of one failing with "database is locked" when it upgrades a read lock.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _may_write() else "BEGIN")


def _may_write() -> bool:
    if has_request_context():
        return request.method not in ("GET", "HEAD", "OPTIONS")
    return True


MAX_PAGE = 100_000


def page_number() -> int:
    """The ?page= number: 1 when missing or junk, and never so large that the OFFSET overflows."""
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def query_text(name: str) -> str:
    """A ?name= filter or search as typed, made safe to put in a query.

    Capped at 200 characters: SQLite refuses a LIKE pattern over 50,000 bytes (a 500), and no
    search is that long. NUL characters are dropped: PostgreSQL refuses them in text.
    """
    return request.args.get(name, "").replace("\x00", "").strip()[:200]


def paginate(stmt, per_page: int = 25):
    """One page of ``stmt`` for the current request (Flask-SQLAlchemy's Pagination)."""
    from grants.extensions import db

    return db.paginate(stmt, page=page_number(), per_page=per_page, error_out=False)


def lock_row(model, row_id: int):
    """Load a row for update: ``SELECT … FOR UPDATE`` on PostgreSQL.

    On SQLite the whole database is already write-locked by ``BEGIN IMMEDIATE``, so the
    plain select is enough.
    """
    from grants.extensions import db

    stmt = sa.select(model).where(model.id == row_id).with_for_update()
    return db.session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()


def status_in(*statuses: str, column: str = "status") -> hybrid_property:
    """A model predicate "``column`` is one of ``statuses``": a bool on a row, a SQL condition on the class.

    Lifecycle modules name the statuses; models declare their predicates with this, e.g.
    ``is_open = status_in(*OPEN_AWARD)``, so templates and queries ask the same question one way.
    """
    values = tuple(sorted(str(status) for status in statuses))

    def on_row(self) -> bool:
        return getattr(self, column) in values

    def in_sql(cls):
        return getattr(cls, column).in_(values)

    return hybrid_property(on_row, expr=in_sql)


class Status(StrEnum):
    """A lifecycle status (each lifecycle module subclasses it), stored as its value; its label is the
    value in words: "under_review" reads "Under review"."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


def status_label(statuses: type[Status]) -> property:
    """A model's ``status_label``: its status in words, from the lifecycle enum ``statuses``."""
    return property(lambda self: statuses(self.status).label)


def status_check(statuses: type[Status], column: str = "status") -> sa.CheckConstraint:
    """A CHECK constraint (named ``column``, so ``ck_<table>_<column>``) that lets ``column`` hold
    only the lifecycle enum's values: the database refuses a status the code does not know."""
    return sa.CheckConstraint(sa.column(column).in_([status.value for status in statuses]), name=column)
