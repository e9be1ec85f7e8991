"""Shared pieces of the benches: scale databases, signed-in clients, a query counter, a real server.

Nothing here asserts: the benches print figures and ratios for a person to read.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEMO_PASSWORD = "demo-password-2026"  # grants.demo.DEMO_PASSWORD, repeated so importing the app stays lazy
SEED = 2026
BENCH_SECRET = "bench-only-not-secret"


# Databases ------------------------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def flask_env(database_url: str, workdir: Path) -> dict[str, str]:
    """The environment for `flask`/gunicorn processes pointed at one bench database."""
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url, UPLOAD_FOLDER=str(workdir / "uploads"), FLASK_CONFIG="development",
               SECRET_KEY=BENCH_SECRET, OUTBOX_SEND_AFTER_REQUEST="false", PYTHONUNBUFFERED="1")
    env.pop("FLASK_APP", None)
    return env


def flask(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=REPO, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def build_scale_database(database_url: str, workdir: Path, applications: int, seed: int = SEED) -> float:
    """`db upgrade` then `grants demo-data --scale N` into an empty database; returns the load's seconds."""
    env = flask_env(database_url, workdir)
    flask(["db", "upgrade"], env)
    started = time.perf_counter()
    output = flask(["grants", "demo-data", "--scale", str(applications), "--seed", str(seed)], env)
    elapsed = time.perf_counter() - started
    match = re.search(r"Scale data loaded in ([0-9.]+) s", output)
    print(f"  built N={applications:,} in {elapsed:.1f} s (scale part {match.group(1) if match else '?'} s): {database_url}")
    return elapsed


def postgres_server_url() -> str | None:
    """BENCH_DATABASE_URL, else TEST_DATABASE_URL (only its server and role are used), else None."""
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")


def fresh_postgres_database(name: str = "grants_bench") -> str | None:
    """Drop and create a bench database on the PostgreSQL server of BENCH_/TEST_DATABASE_URL.

    The database is always ``name`` (or the one BENCH_DATABASE_URL names): never the test suite's.
    """
    base = postgres_server_url()
    if not base:
        return None
    parts = urllib.parse.urlsplit(base)
    if os.environ.get("BENCH_DATABASE_URL"):
        name = parts.path.lstrip("/") or name
    if name == "grants_test":
        raise SystemExit("Refusing to drop grants_test (the test suite's database); set BENCH_DATABASE_URL to another database.")
    import psycopg

    admin = urllib.parse.urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    drop_database(admin, name)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def drop_postgres_database(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    drop_database(urllib.parse.urlunsplit(("postgresql", parts.netloc, "/postgres", "", "")), parts.path.lstrip("/"))


def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE as its owner, retried while the bench's own sessions are still closing.

    Not ``WITH (FORCE)``: a non-superuser owner may not signal an autovacuum worker that is in the
    database, so FORCE fails; a plain DROP ends autovacuum workers itself.
    """
    import psycopg

    for attempt in range(40):
        try:
            with psycopg.connect(admin_url, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 39:
                raise
            time.sleep(0.5)


# The app in this process ----------------------------------------------------------------------


def make_app(database_url: str, workdir: Path):
    """The app on ``database_url``, as the server would run it (development config, no debug)."""
    os.environ.update({k: v for k, v in flask_env(database_url, workdir).items() if k in (
        "DATABASE_URL", "UPLOAD_FOLDER", "SECRET_KEY", "OUTBOX_SEND_AFTER_REQUEST")})
    from grants import create_app

    return create_app("development", SQLALCHEMY_DATABASE_URI=database_url, UPLOAD_FOLDER=str(workdir / "uploads"))


class QueryCounter:
    """Counts SQL statements the app sends (a ``before_cursor_execute`` listener on its engine)."""

    def __init__(self, app):
        import sqlalchemy as sa

        from grants.extensions import db

        self.count = 0
        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args) -> None:
        self.count += 1

    @contextmanager
    def counting(self):
        start = self.count
        box = {"queries": 0}
        yield box
        box["queries"] = self.count - start


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def signed_in_test_client(app, email: str, password: str = DEMO_PASSWORD):
    browser = app.test_client()
    token = CSRF.search(browser.get("/login").get_data(as_text=True)).group(1)
    response = browser.post("/login", data={"email": email, "password": password, "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"sign-in as {email} failed with {response.status_code}")
    return browser


@dataclass
class Targets:
    """Ids of the rows the page benches request, looked up once in the scale program."""

    program_id: int
    application_id: int
    award_id: int
    award_number: str
    grantee_email: str  # a member of the organization holding that award


def scale_targets(app) -> Targets:
    """The scale program, its first application, and its busiest active award (most payments and amendments)."""
    import sqlalchemy as sa

    from grants.accounts.models import Membership, User
    from grants.applications.models import Application
    from grants.awards.models import Amendment, Award, Disbursement
    from grants.extensions import db
    from grants.programs.models import Program

    with app.app_context():
        program_id = db.session.scalar(sa.select(Program.id).where(Program.code == "SCL"))
        application_id = db.session.scalar(sa.select(Application.id).where(Application.program_id == program_id).order_by(Application.reference).limit(1))
        payments = sa.select(sa.func.count()).where(Disbursement.award_id == Award.id).scalar_subquery()
        amendments = sa.select(sa.func.count()).where(Amendment.award_id == Award.id).scalar_subquery()
        award_id, number = db.session.execute(
            sa.select(Award.id, Award.award_number).where(Award.program_id == program_id, Award.status == "active")
            .order_by((payments + amendments).desc(), Award.id).limit(1)
        ).one()
        grantee = db.session.scalar(
            sa.select(User.email).join(Membership, Membership.user_id == User.id)
            .join(Application, Application.organization_id == Membership.organization_id)
            .join(Award, Award.application_id == Application.id).where(Award.id == award_id).order_by(User.id).limit(1))
    return Targets(program_id, application_id, award_id, number, grantee)


# A real server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn (sync workers) on 127.0.0.1, started and stopped by its process id."""

    def __init__(self, env: dict[str, str], workers: int = 1, threads: int = 1):
        self.port = free_port()
        self.log = open(Path(env["UPLOAD_FOLDER"]).parent / f"gunicorn-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{self.port}",
             "--timeout", "120", "--log-level", "warning", "wsgi:app"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if HttpBrowser(self.port).get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("gunicorn did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class HttpBrowser:
    """A browser over loopback: one cookie jar (the signed session cookie), a new connection per request."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def _request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes, float]:
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        connection.close()
        return response.status, data, elapsed

    def get(self, path: str) -> tuple[int, bytes, float]:
        return self._request("GET", path)

    def login(self, email: str, password: str = DEMO_PASSWORD) -> "HttpBrowser":
        status, page, _ = self.get("/login")
        token = CSRF.search(page.decode()).group(1)
        status, _, _ = self._request("POST", "/login", urllib.parse.urlencode(
            {"email": email, "password": password, "csrf_token": token}))
        if status != 302:
            raise SystemExit(f"sign-in as {email} over HTTP failed with {status}")
        return self


# Figures ----------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-int(round(fraction * 1000)) * len(ordered) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"
