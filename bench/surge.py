"""Deadline-day surge (issue 8): 200 applicants submit their drafts within the same 10 seconds.

For each database (PostgreSQL, SQLite) the bench
  1. makes an empty database (PostgreSQL: drops and creates ``grants_surge``) and runs ``db upgrade``;
  2. fills it through the grants services: one open program, and N applicants, each with an
     organization and a complete draft (partner with a commitment letter, budget within range);
  3. starts the app under gunicorn with 4 workers (production config) on a free loopback port;
  4. signs every applicant in beforehand and reads the CSRF token from their review page;
  5. releases N client threads that POST /applications/<id>/submit (certify=y) at random
     moments spread over the window (10 s by default), each timing its own request;
  6. stops gunicorn and counts: HTTP errors, lost submissions (a draft still a draft, or a
     submission that got an HTTP error), double submissions (more than one audit event),
     "database is locked" and tracebacks in the server log, and runs ``grants audit-verify``.

Prints p50/p95/max latency of the submissions. Not a timed test: it prints figures for a person.

Cookies: the production config marks the session cookie Secure (SESSION_COOKIE_SECURE has no
environment override in config.py), and this bench talks plain HTTP on loopback. Rather than run
a different config, the clients keep the cookie themselves and send it back, as the TLS-terminating
proxy of a real deployment does (browser → HTTPS → proxy → HTTP → gunicorn). ``--config
development`` runs the development config instead.

    .venv/bin/python bench/surge.py                      # both databases, 200 applicants, 10 s
    .venv/bin/python bench/surge.py --db sqlite --applicants 200 --window 10 --workers 4
    .venv/bin/python bench/surge.py --db postgresql --pg-url postgresql+psycopg://grants:grants@127.0.0.1:5432/grants_surge

Only loopback traffic; every loop is bounded (N clients, one submission each, timeouts everywhere).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from benchlib import drop_database

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PASSWORD = "surge applicant password"
DEFAULT_PG_URL = "postgresql+psycopg://grants:grants@127.0.0.1:5432/grants_surge"
REQUEST_TIMEOUT = 60  # seconds; a submission slower than this counts as an error
SERVER_START_SECONDS = 60
P95_TARGET_MS = 1000


# Databases ---------------------------------------------------------------------------------------


def fresh_postgres(url: str) -> None:
    """Drop and create the bench database (its owner needs CREATEDB)."""
    import psycopg

    parts = urllib.parse.urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"refusing an odd database name: {name!r}")
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    drop_database(admin, name)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def server_env(database_url: str, workdir: Path, config: str, secret_key: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FLASK_APP", None)
    env.update(DATABASE_URL=database_url, UPLOAD_FOLDER=str(workdir / "uploads"), FLASK_CONFIG=config,
               SECRET_KEY=secret_key, OUTBOX_SEND_AFTER_REQUEST="false", PYTHONUNBUFFERED="1")
    return env


def flask(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=REPO, env=env, input=stdin,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


@dataclass
class Prepared:
    program_closes: str
    drafts: list[tuple[str, int]]  # (applicant e-mail, application id)


def prepare(database_url: str, workdir: Path, applicants: int, secret_key: str) -> Prepared:
    """One open program and ``applicants`` applicants, each with a complete draft, through the services."""
    import io

    from werkzeug.datastructures import FileStorage
    from werkzeug.security import generate_password_hash

    from grants import create_app
    from grants.accounts import services as accounts
    from grants.accounts.models import User, UserRole
    from grants.applications import services as applications
    from grants.db import utcnow
    from grants.extensions import db
    from grants.programs import services as programs

    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    app = create_app("development", SQLALCHEMY_DATABASE_URI=database_url, UPLOAD_FOLDER=str(workdir / "uploads"),
                     SECRET_KEY=secret_key)
    # Every applicant has the same password: hash it once (scrypt takes a while) and share the hash.
    password_hash = generate_password_hash(PASSWORD, method=app.config["PASSWORD_HASH_METHOD"])
    drafts = []
    with app.app_context():
        officer = accounts.create_staff_user(actor=None, email="officer@surge.gov", name="Surge Officer",
                                             roles={"program_officer"}, password="surge officer password")
        now = utcnow()
        program = programs.create_program(actor=officer, fields={
            "name": "Deadline Day Round", "slug": "deadline-day", "code": "DDR",
            "description": "Everyone submits on the last day.", "fiscal_year": 2027, "funding_source_code": "GF-4410",
            "total_budget_cents": 10**12, "award_floor_cents": 2_500_000, "award_ceiling_cents": 25_000_000,
            "match_percent": 10, "opens_at": now - timedelta(days=30), "closes_at": now + timedelta(days=1),
            "eligible_partner_types": ["library", "transit"], "reviewers_per_application": 2,
            "score_spread_threshold": 25, "review_deadline": None, "share_reviewer_comments": False,
        })
        programs.add_criterion(actor=officer, program=program, name="Partnership", guidance="", max_points=10, weight=1)
        programs.change_program_status(actor=officer, program=program, status="published")
        db.session.commit()
        for n in range(1, applicants + 1):
            user = User(email=f"applicant{n:04d}@surge.org", name=f"Applicant {n}", password_hash=password_hash,
                        role_rows=[UserRole(role="applicant")])
            db.session.add(user)
            db.session.flush()
            organization = accounts.create_organization(actor=user, fields={
                "legal_name": f"Surge Responders {n}", "ein": f"{10 + n % 89:02d}-{n:07d}", "uei": None,
                "org_type": "nonprofit", "county": "Cook", "address_line1": f"{n} Main St", "address_line2": None,
                "city": "Springfield", "state": "IL", "postal_code": "62701", "contact_name": f"Applicant {n}",
                "contact_email": user.email, "contact_phone": None,
            })
            application = applications.start_application(actor=user, program=program, organization=organization)
            applications.update_project(actor=user, application=application, fields={
                "title": f"Crisis partnership {n}", "summary": "Counselors at libraries and stations.",
                "need": "Calls go to police.", "approach": "Co-located responders.", "counties_served": "Cook",
                "awareness_component": False, "awareness_plan": "", "expected_outcomes": "Fewer dispatches.",
            })
            applications.add_partner(actor=user, application=application, fields={
                "partner_type": "library", "name": f"Library {n}", "contact_name": "Pat", "contact_email": "pat@example.org",
                "role": "Hosts responders"}, letter=FileStorage(io.BytesIO(pdf), filename="letter.pdf", content_type="application/pdf"))
            applications.save_budget(actor=user, application=application, lines=[
                {"category": "personnel", "description": "Counselors", "amount_cents": 5_000_000}], match_cents=500_000)
            assert not applications.completeness(application), applications.completeness(application)
            drafts.append((user.email, application.id))
            if n % 50 == 0:
                db.session.commit()
        db.session.commit()
        closes = program.closes_at.isoformat()
        db.engine.dispose()
    return Prepared(program_closes=closes, drafts=drafts)


def outcome_in_database(database_url: str, workdir: Path, secret_key: str, ids: list[int]) -> dict:
    import sqlalchemy as sa

    from grants import create_app
    from grants.applications.models import Application
    from grants.audit.models import AuditEvent
    from grants.extensions import db

    app = create_app("development", SQLALCHEMY_DATABASE_URI=database_url, UPLOAD_FOLDER=str(workdir / "uploads"),
                     SECRET_KEY=secret_key)
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(Application.id, Application.status).where(Application.id.in_(ids))).all())
        events = dict(db.session.execute(
            sa.select(AuditEvent.entity_id, sa.func.count()).where(AuditEvent.action == "application.submitted")
            .group_by(AuditEvent.entity_id)).all())
        db.engine.dispose()
    return {"statuses": statuses, "submitted_events": {int(k): v for k, v in events.items()}}


# The server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, workers: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - closed when the process is stopped
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "120",
         "--access-logfile", "-", "wsgi:app"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_file = log
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited ({process.returncode}); see {log_path}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    stop(process)
    raise SystemExit(f"gunicorn did not answer /healthz within {SERVER_START_SECONDS} s; see {log_path}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # gunicorn: graceful shutdown of the workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    process.log_file.close()


# The clients -----------------------------------------------------------------------------------


class Applicant:
    """One browser: its own session cookie, a new connection per request, no redirects followed."""

    def __init__(self, port: int, email: str, application_id: int):
        self.port, self.email, self.application_id = port, email, application_id
        self.cookie: str | None = None
        self.token: str | None = None

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        headers = {}
        body = None
        if self.cookie:
            headers["Cookie"] = f"session={self.cookie}"
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("session="):
                    self.cookie = value.split(";", 1)[0].split("=", 1)[1]
            return response.status, dict(response.getheaders()), text
        finally:
            connection.close()

    @staticmethod
    def csrf_token(page: str) -> str:
        match = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', page) or \
            re.search(r'<input[^>]*value="([^"]+)"[^>]*name="csrf_token"', page)
        if not match:
            raise RuntimeError("no CSRF token on the page")
        return match.group(1)

    def sign_in_and_open_review_page(self) -> None:
        status, _, page = self.request("GET", "/login")
        if status != 200:
            raise RuntimeError(f"GET /login: {status}")
        status, headers, _ = self.request("POST", "/login", {"csrf_token": self.csrf_token(page), "email": self.email,
                                                             "password": PASSWORD})
        if status != 302:
            raise RuntimeError(f"sign-in of {self.email}: {status}")
        status, _, page = self.request("GET", f"/applications/{self.application_id}/submit")
        if status != 200 or "Every section is complete" not in page:
            raise RuntimeError(f"review page of application {self.application_id}: {status}")
        self.token = self.csrf_token(page)

    def submit(self) -> tuple[int, str, float]:
        started = time.perf_counter()
        status, headers, _ = self.request("POST", f"/applications/{self.application_id}/submit",
                                          {"csrf_token": self.token, "certify": "y"})
        return status, headers.get("Location", ""), time.perf_counter() - started


@dataclass
class Result:
    database: str
    applicants: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    doubles: list[int] = field(default_factory=list)
    locked_in_log: int = 0
    tracebacks_in_log: int = 0
    audit_verify: str = ""
    spread_seconds: float = 0.0


def run_surge(port: int, drafts: list[tuple[str, int]], window: float, seed: int, result: Result) -> set[int]:
    """Sign everyone in, then fire one submission per applicant at a random moment in the window."""
    people = [Applicant(port, email, application_id) for email, application_id in drafts]
    setup_errors: list[str] = []
    lock = threading.Lock()

    def prepare_one(person: Applicant) -> None:
        try:
            person.sign_in_and_open_review_page()
        except Exception as error:  # noqa: BLE001 - every failure is a figure to print
            with lock:
                setup_errors.append(f"{person.email}: {error}")

    # Sign-ins beforehand, 16 at a time (scrypt makes each one deliberately slow).
    chunks = [people[i:i + 16] for i in range(0, len(people), 16)]
    for chunk in chunks:
        threads = [threading.Thread(target=prepare_one, args=(person,)) for person in chunk]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT * 3)
    if setup_errors:
        raise SystemExit("could not prepare the clients:\n" + "\n".join(setup_errors[:20]))

    rng = random.Random(seed)
    offsets = sorted(rng.uniform(0, window) for _ in people)
    rng.shuffle(offsets)
    failed: set[int] = set()
    fired: list[float] = []
    start = time.monotonic() + 2.0  # every thread is waiting before the window opens

    def submit_one(person: Applicant, offset: float) -> None:
        time.sleep(max(0.0, start + offset - time.monotonic()))
        with lock:
            fired.append(time.monotonic() - start)
        try:
            status, location, seconds = person.submit()
        except Exception as error:  # noqa: BLE001
            with lock:
                result.errors.append(f"application {person.application_id}: {type(error).__name__}: {error}")
                failed.add(person.application_id)
            return
        with lock:
            result.latencies.append(seconds)
            if status != 302 or not location.endswith(f"/applications/{person.application_id}/confirmation"):
                result.errors.append(f"application {person.application_id}: HTTP {status} → {location or '(no redirect)'}")
                failed.add(person.application_id)

    threads = [threading.Thread(target=submit_one, args=(person, offset)) for person, offset in zip(people, offsets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=window + REQUEST_TIMEOUT + 10)
    if fired:
        result.spread_seconds = max(fired) - min(fired)
    return failed


def surge(database: str, url: str, args, secret_key: str) -> Result:
    """One surge against a new database (``url`` for PostgreSQL; SQLite gets a file in a temporary directory)."""
    result = Result(database=database, applicants=args.applicants)
    with tempfile.TemporaryDirectory(prefix=f"surge-{database}-") as tmp:
        workdir = Path(tmp)
        if database == "sqlite":
            url = f"sqlite:///{workdir / 'surge.db'}"
        env = server_env(url, workdir, args.config, secret_key)
        if database == "postgresql":
            fresh_postgres(url)
        flask(["db", "upgrade"], env)
        started = time.perf_counter()
        prepared = prepare(url, workdir, args.applicants, secret_key)
        print(f"[{database}] {len(prepared.drafts)} complete drafts prepared in {time.perf_counter() - started:.1f} s")
        port = free_port()
        log_path = workdir / "gunicorn.log"
        server = start_gunicorn(env, port, args.workers, log_path)
        try:
            failed = run_surge(port, prepared.drafts, args.window, args.seed, result)
        finally:
            stop(server)
        log = log_path.read_text(errors="replace")
        result.locked_in_log = log.count("database is locked")
        result.tracebacks_in_log = log.count("Traceback (most recent call last)")
        if args.keep_log:
            target = Path(args.keep_log) / f"surge-{database}-gunicorn.log"
            target.write_text(log)
        ids = [application_id for _, application_id in prepared.drafts]
        outcome = outcome_in_database(url, workdir, secret_key, ids)
        not_submitted = {i for i in ids if outcome["statuses"].get(i) != "submitted"}
        result.lost = sorted(not_submitted | failed)
        result.doubles = sorted(i for i, n in outcome["submitted_events"].items() if n > 1)
        result.audit_verify = flask(["grants", "audit-verify"], env).strip().splitlines()[0]
        if result.tracebacks_in_log:
            first = log.index("Traceback (most recent call last)")
            print(f"[{database}] first traceback in the server log:\n{log[first:first + 3000]}")
    return result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def report(result: Result) -> bool:
    latencies = sorted(result.latencies)
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))] if latencies else float("nan")
    print(f"\n== {result.database}: {result.applicants} applicants, submissions fired over {result.spread_seconds:.1f} s")
    print(f"   errors:                {len(result.errors)}")
    for line in result.errors[:10]:
        print(f"     {line}")
    print(f"   lost submissions:      {len(result.lost)}{' ' + str(result.lost[:20]) if result.lost else ''}")
    print(f"   double submissions:    {len(result.doubles)}")
    print(f"   'database is locked':  {result.locked_in_log} in the server log; tracebacks: {result.tracebacks_in_log}")
    print(f"   latency:               p50 {ms(p50)}, p95 {ms(p95)}, max {ms(latencies[-1]) if latencies else '-'}"
          f" ({len(latencies)} answered)")
    print(f"   audit chain:           {result.audit_verify}")
    ok = not result.errors and not result.lost and not result.doubles and not result.locked_in_log and not result.tracebacks_in_log
    if result.database == "postgresql":
        ok = ok and p95 < P95_TARGET_MS / 1000
    print(f"   target (0 errors, 0 lost{', p95 < 1 s' if result.database == 'postgresql' else ''}): {'met' if ok else 'NOT MET'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("both", "postgresql", "sqlite"), default="both")
    parser.add_argument("--applicants", type=int, default=200)
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which the submissions are spread")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--config", choices=("production", "development"), default="production")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep-log", metavar="DIR", help="copy each gunicorn log into DIR")
    args = parser.parse_args()
    if not 1 <= args.applicants <= 5000 or not 0 <= args.window <= 600:
        raise SystemExit("--applicants 1..5000 and --window 0..600")
    secret_key = secrets.token_hex(32)
    print(f"Deadline-day surge: {args.applicants} applicants, {args.workers} gunicorn workers, FLASK_CONFIG={args.config}, "
          f"window {args.window:g} s, {os.cpu_count()} CPUs")
    databases = ["postgresql", "sqlite"] if args.db == "both" else [args.db]
    results = []
    for database in databases:
        results.append(surge(database, args.pg_url if database == "postgresql" else "", args, secret_key))
    all_ok = [report(result) for result in results]
    return 0 if all(all_ok) else 1


if __name__ == "__main__":
    sys.exit(main())
