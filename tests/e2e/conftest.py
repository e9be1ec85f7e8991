"""Browser journeys: Debian's Chromium driven by Playwright against the app in a real server process.

One server per test run, on a free loopback port, with a fresh SQLite database migrated and filled
with the demo data. Each test gets its own browser context (no shared cookies). When a test fails,
a screenshot and the HTML of every page it opened are saved under test-artifacts/e2e/.

Without /usr/bin/chromium (or Playwright, or axe-core from npm) the tests are skipped, except
with CI=true, where that fails the run: CI must run the browser tests.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"

try:
    import playwright.sync_api  # noqa: F401 - only to learn whether the journeys can run
except ImportError:
    if IN_CI:
        raise RuntimeError("CI=true but Playwright for Python is not installed: pip install -e '.[dev]'") from None
    collect_ignore_glob = ["test_*.py"]  # skipped: Playwright is a dev dependency (pip install -e '.[dev]')
else:
    from tests.e2e.helpers import ARTIFACTS, AXE_REPORT, AXE_SCRIPT, ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_SECONDS = 30
DEFAULT_TIMEOUT_MS = 10_000


def _unavailable(reason: str):
    """Skip locally; with CI=true fail, because CI installs everything the browser tests need."""
    if IN_CI:
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(f"browser tests need {reason}")


# The server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flask(args: list[str], env: dict) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"`flask --app wsgi {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}", pytrace=False)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class LiveServer:
    """The app served by `flask run` in its own process, on a database only this run uses."""

    def __init__(self, url: str, database: Path, log: Path):
        self.url = url
        self.database = database
        self.log = log

    def application_id(self, reference: str) -> int:
        """The database id behind a reference, for addressing URLs a user would not click to."""
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as connection:
            row = connection.execute("SELECT id FROM application WHERE reference = ?", (reference,)).fetchone()
        assert row is not None, f"no application {reference} in the e2e database"
        return row[0]

    def attachment_ids(self, reference: str) -> list[int]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT attachment.id FROM attachment JOIN application ON application.id = attachment.application_id "
                "WHERE application.reference = ? ORDER BY attachment.id", (reference,),
            ).fetchall()
        return [row[0] for row in rows]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> LiveServer:
    workdir = tmp_path_factory.mktemp("e2e-server")
    database = workdir / "e2e.db"
    env = {key: value for key, value in os.environ.items()
           if key not in ("FLASK_DEBUG", "FLASK_RUN_PORT", "FLASK_RUN_HOST", "SECRET_KEY", "MAIL_SERVER")}
    env.update({
        "FLASK_CONFIG": "development",
        "DATABASE_URL": f"sqlite:///{database}",
        "UPLOAD_FOLDER": str(workdir / "uploads"),
        "OUTBOX_SEND_AFTER_REQUEST": "false",
        "PYTHONUNBUFFERED": "1",
        # Every journey signs in from 127.0.0.1, more often than the per-client limits allow.
        "RATE_LIMITS_ENABLED": "false",
    })
    _flask(["db", "upgrade"], env)
    _flask(["grants", "demo-data"], env)

    log_path = workdir / "server.log"
    for _attempt in range(3):  # another process may take the port between choosing and binding it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(log_path, "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port),
             "--no-reload", "--no-debugger", "--with-threads"],
            cwd=ROOT, env={**env, "PUBLIC_BASE_URL": url}, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline and process.poll() is None and not _healthy(url):
            time.sleep(0.1)
        if process.poll() is None and _healthy(url):
            break
        process.terminate()
        process.wait(10)
        log.close()
    else:
        pytest.fail(f"the app server did not answer GET /healthz with 200; its log:\n{log_path.read_text()[-4000:]}", pytrace=False)

    yield LiveServer(url, database, log_path)

    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


# The browser --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if not AXE_SCRIPT.exists():
        _unavailable(f"axe-core at {AXE_SCRIPT.relative_to(ROOT)} (run `make assets` or `npm ci`)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Pages:
    """Opens pages, each in a browser context of its own, and remembers them for failure reports."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.opened = []
        self._contexts = []

    def __call__(self):
        context = self.browser.new_context(base_url=self.base_url, viewport={"width": 1280, "height": 900},
                                           locale="en-US", timezone_id="America/Chicago")
        # The app's Content-Security-Policy (script-src 'self') blocks the inline <script> that
        # page.add_script_tag() writes, so axe-core is added to every document the way DevTools
        # adds scripts, which CSP does not govern; the app's own policy stays in force.
        context.add_init_script(path=str(AXE_SCRIPT))
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        self._contexts.append(context)
        page = context.new_page()
        # Problems no assertion would name: uncaught script errors, CSP blocks, server errors.
        # assert_accessible() fails on any of them.
        page.script_errors = []
        page.on("pageerror", lambda error, page=page: page.script_errors.append(str(error)))
        page.on("console", lambda message, page=page: message.type == "error"
                and "Content Security Policy" in message.text and page.script_errors.append(message.text))
        page.on("response", lambda response, page=page: response.status >= 500
                and page.script_errors.append(f"HTTP {response.status} from {response.request.method} {response.url}"))
        self.opened.append(page)
        return page

    def close(self):
        for context in self._contexts:
            context.close()


@pytest.fixture
def new_page(browser, live_server):
    """``new_page()``: another browser (its own cookies) on the live server, e.g. a second user."""
    pages = Pages(browser, live_server.url)
    yield pages
    pages.close()


@pytest.fixture
def page(new_page):
    return new_page()


# Failure artifacts --------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    pages = item.funcargs.get("new_page")
    opened = list(pages.opened) if pages is not None else []
    if not opened and item.funcargs.get("page") is not None:
        opened = [item.funcargs["page"]]
    saved = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(opened, start=1):
        if page.is_closed():
            continue
        stem = ARTIFACTS / _slug(f"{item.path.stem}-{item.name}-page{number}")
        try:
            page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.html").write_text(page.content(), encoding="utf-8")
        except Exception as error:  # a crashed page must not hide the test's own failure
            saved.append(f"(page {number} at {page.url}: could not save: {error})")
            continue
        saved.append(f"page {number} at {page.url}:\n  {stem}.png\n  {stem}.html")
    server = item.funcargs.get("live_server")
    if server is not None:
        saved.append(f"server log: {server.log}")
    if saved:
        text = "\n".join(saved)
        report.sections.append(("e2e failure artifacts", text))
        print(f"\ne2e failure artifacts for {item.nodeid}:\n{text}", file=sys.stderr)


@pytest.fixture(scope="session", autouse=True)
def _fresh_axe_report():
    """Start each run's axe-core report afresh."""
    AXE_REPORT.unlink(missing_ok=True)
