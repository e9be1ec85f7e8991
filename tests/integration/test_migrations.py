"""Migrations go from empty to head, down to base and up again, and match the models."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _postgres_url

ROOT = Path(__file__).resolve().parents[2]


def _flask(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_CONFIG": "development"}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    base = sa.engine.make_url(_postgres_url())
    # Named after the test database, so two checkouts testing on one server do not collide.
    name = f"{base.database}_migrations"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    _drop_database(admin, name)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    _drop_database(admin, name)
    admin.dispose()


def _drop_database(admin: sa.Engine, name: str) -> None:
    """Drop ``name`` as its (non-superuser) owner.

    Not ``WITH (FORCE)``: that must signal every backend in the database, and an autovacuum worker
    that wandered into the fresh database belongs to no role the owner may signal, so it fails.
    A plain DROP ends autovacuum workers by itself; only a session that is still closing can hold
    it up, so it is retried for a few seconds.
    """
    for attempt in range(20):
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55006" or attempt == 19:  # object_in_use
                raise
            time.sleep(0.5)


def test_upgrade_downgrade_upgrade_and_no_drift(empty_database):
    for step in (("db", "upgrade"), ("db", "check"), ("db", "downgrade", "base"), ("db", "upgrade"), ("db", "check")):
        result = _flask(empty_database, *step)
        assert result.returncode == 0, f"{' '.join(step)} failed:\n{result.stdout}\n{result.stderr}"
    engine = sa.create_engine(empty_database)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"user", "organization", "audit_event", "outbox_message"} <= tables


def test_migrated_database_refuses_an_unknown_award_payment_or_report_status(empty_database):
    result = _flask(empty_database, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(empty_database)
    inspector = sa.inspect(engine)
    for table in ("award", "disbursement", "progress_report"):
        checks = {check["name"]: check["sqltext"] for check in inspector.get_check_constraints(table)}
        assert f"ck_{table}_status" in checks, f"{table} has no status check: {checks}"
    with engine.begin() as connection:  # the constraint bites: an empty award table takes no unknown status
        with pytest.raises(sa.exc.IntegrityError, match=r"(?i)check constraint.*ck_award_status|ck_award_status.*check"):
            connection.exec_driver_sql(
                "INSERT INTO award (id, award_number, application_id, program_id, amount_cents, original_cents, start_date, "
                "end_date, status, conditions, created_at) VALUES (1, 'X', 1, 1, 1, 1, '2027-01-01', '2027-12-31', 'on_hold', '', "
                "'2026-12-01 00:00:00')")
    engine.dispose()
