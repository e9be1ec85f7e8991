"""Consistent copies of the database: SQLite's online backup API, or pg_dump for PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa

from grants.errors import DomainError


def _libpq_url(url: sa.engine.URL) -> str:
    # pg_dump speaks libpq URLs: no "+psycopg" driver suffix.
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def backup_database(engine: sa.Engine, target: str | Path) -> Path:
    """Write a consistent copy of the database behind ``engine`` to ``target``.

    SQLite: a complete database file made with the online backup API while the app keeps running.
    PostgreSQL: a ``pg_dump`` archive in custom format (restore with ``pg_restore``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise DomainError("An in-memory SQLite database cannot be backed up.")
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        destination = sqlite3.connect(target)
        try:
            with destination:
                source.backup(destination)
        finally:
            destination.close()
            source.close()
        return target
    if url.get_backend_name() == "postgresql":
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise DomainError("pg_dump is not installed (Debian: apt-get install postgresql-client).")
        result = subprocess.run(
            [pg_dump, "--format=custom", "--no-owner", "--file", str(target), _libpq_url(url)],
            capture_output=True, text=True, timeout=3600,
        )
        if result.returncode != 0:
            raise DomainError(f"pg_dump failed: {result.stderr.strip()[:500]}")
        return target
    raise DomainError(f"Backups are not supported for {url.get_backend_name()}.")


def restore_database(engine: sa.Engine, source: str | Path) -> None:
    """Replace the database behind ``engine`` with a backup made by ``backup_database``."""
    url = engine.url
    engine.dispose()
    if url.get_backend_name() == "sqlite":
        backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        assert url.database is not None  # a SQLite URL with a file: nothing to restore into otherwise
        live = sqlite3.connect(url.database)
        try:
            with live:
                backup.backup(live)
        finally:
            live.close()
            backup.close()
        return
    result = subprocess.run(
        [shutil.which("pg_restore") or "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
         "--dbname", _libpq_url(url), str(source)],
        capture_output=True, text=True, timeout=3600,
    )
    if result.returncode != 0:
        raise DomainError(f"pg_restore failed: {result.stderr.strip()[:500]}")
