"""Sessions beyond tests/integration/test_accounts.py: replayed cookies, resets, lockout across real processes.

Already covered there and not repeated: sign-in rotates the session; a password change signs out
other browsers; a deactivated user is signed out on the next request; reset links work once and
expire; the sign-in pause lives in the database (two test clients).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from grants.extensions import db
from grants.notifications.models import OutboxMessage
from tests import factories
from tests.conftest import login

ROOT = Path(__file__).resolve().parents[2]


def _session_cookie(browser) -> str:
    cookie = browser.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def _replay(browser, value: str) -> None:
    browser.set_cookie("session", value)


def test_a_cookie_replayed_after_sign_out_is_not_signed_in(make_client):
    user = factories.make_user(email="leaver@example.org")
    db.session.commit()
    browser = make_client(user)
    stolen = _session_cookie(browser)
    assert browser.post_form("/logout").status_code == 302
    assert browser.get("/home").status_code == 302  # this browser is signed out

    replayed = make_client(None)
    _replay(replayed, stolen)
    assert replayed.get("/home").status_code == 302, "the cookie from before sign-out still works"


def test_a_password_reset_signs_out_every_other_session(make_client, client):
    user = factories.make_user(email="forgetful@example.org")
    db.session.commit()
    laptop, phone = make_client(user), make_client(user)
    stolen = _session_cookie(phone)
    assert laptop.get("/home").status_code == 200 and phone.get("/home").status_code == 200

    assert client.post_form("/password/forgot", {"email": user.email}).status_code == 302
    message = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == user.email)).one()
    link = re.search(r"http://127.0.0.1:5000(/password/reset/\S+)", message.body).group(1)
    assert client.post_form(link, {"password": "a fresh long password", "confirm": "a fresh long password"}).status_code == 302

    assert laptop.get("/home").status_code == 302
    assert phone.get("/home").status_code == 302
    replayed = make_client(None)
    _replay(replayed, stolen)
    assert replayed.get("/home").status_code == 302
    login(make_client(None), user.email, "a fresh long password")


def test_a_cookie_copied_before_a_password_change_stops_working(make_client):
    user = factories.make_user(email="careful@example.org")
    db.session.commit()
    browser = make_client(user)
    stolen = _session_cookie(browser)
    response = browser.post_form("/account/password", {"current_password": factories.PASSWORD,
                                                       "password": "a brand new password", "confirm": "a brand new password"})
    assert response.status_code == 302
    assert browser.get("/home").status_code == 200  # the browser that changed it stays in
    replayed = make_client(None)
    _replay(replayed, stolen)
    assert replayed.get("/home").status_code == 302


# Lockout across two server processes ------------------------------------------------------------

PASSWORD = "a long enough password"
SERVER_START_SECONDS = 30


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flask(args: list[str], env: dict, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                            input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"flask {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result.stdout


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # report the 302 itself


class Browser:
    """urllib with a cookie jar, talking to one server; answers (status, body)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirects())

    def request(self, path: str, form: dict | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def sign_in(self, email: str, password: str) -> int:
        status, page = self.request("/login")
        assert status == 200, status
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no CSRF token on the sign-in page"
        status, _ = self.request("/login", {"csrf_token": token.group(1), "email": email, "password": password})
        return status


def _wait_until_healthy(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server at {base} exited: {process.stdout.read() if process.stdout else ''}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"server at {base} did not answer /healthz within {SERVER_START_SECONDS} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_lockout_holds_across_two_server_processes(tmp_path):
    env = {
        **os.environ,
        "FLASK_CONFIG": "development",
        "SECRET_KEY": secrets.token_hex(32),  # shared, as behind a load balancer
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "OUTBOX_SEND_AFTER_REQUEST": "false",
    }
    env.pop("TEST_DATABASE_URL", None)
    _flask(["db", "upgrade"], env)
    _flask(["grants", "create-user", "target@example.org", "--role", "applicant"], env, stdin=PASSWORD + "\n")
    _flask(["grants", "create-user", "control@example.org", "--role", "applicant"], env, stdin=PASSWORD + "\n")

    servers, bases = [], []
    try:
        for _ in range(2):
            port = _free_port()
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, servers, strict=False):
            _wait_until_healthy(base, process)

        # Both servers sign in a good password (so a refusal below is the lock, not a broken server).
        for base in bases:
            assert Browser(base).sign_in("control@example.org", PASSWORD) == 302

        # Five failures, alternating between the processes, each from a fresh browser.
        for attempt in range(5):
            status = Browser(bases[attempt % 2]).sign_in("target@example.org", f"wrong password, attempt {attempt}")
            assert status == 200, f"failure {attempt + 1} on server {attempt % 2 + 1}: {status}"

        # The right password is now refused by both (for this client: the pause is per address and client).
        for number, base in enumerate(bases, start=1):
            assert Browser(base).sign_in("target@example.org", PASSWORD) == 429, f"server {number} let the paused client in"
    finally:
        for process in servers:
            _stop(process)
    assert all(process.poll() is not None for process in servers)
