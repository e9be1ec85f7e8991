"""Fixtures: every database test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

The schema is created once per backend; each test starts from empty tables. With CI=true an
unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import secrets

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from grants import create_app
from grants.extensions import db
from grants.submissions import new_submission_key
from tests import factories

IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL tests cannot be skipped in CI")
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (see README, Testing)")
    try:
        sa.create_engine(url).connect().close()
    except sa.exc.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return url


class GrantsClient(FlaskClient):
    """A test client that behaves like a separate browser talking to a separate server process.

    Each request runs in its own app context (its own ``g`` and database session), as in
    production; what the test set up is committed first, and the test's objects are expired
    afterwards so they reload what the request changed. Form posts carry a valid CSRF token.
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()
        return response

    def csrf_token(self) -> str:
        with self.session_transaction() as session:
            raw = session.setdefault("csrf_token", secrets.token_hex(20))
        return URLSafeTimedSerializer(self.application.secret_key, salt="wtf-csrf-token").dumps(raw)

    def post_form(self, url: str, data: dict | None = None, **kwargs):
        """Post as a freshly opened page would: a CSRF token and a new one-time submission key."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        data.setdefault("submission_key", new_submission_key())
        return self.post(url, data=data, **kwargs)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend_app(request, tmp_path_factory):
    if request.param == "postgresql":
        url = _postgres_url()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, UPLOAD_FOLDER=str(tmp_path_factory.mktemp("uploads")))
    app.test_client_class = GrantsClient
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def wipe_tables() -> None:
    tables = db.metadata.sorted_tables
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{table.name}"' for table in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(tables):
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(backend_app, tmp_path):
    """The app with empty tables and its own upload folder, inside an app context."""
    saved = dict(backend_app.config)
    backend_app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    os.makedirs(backend_app.config["UPLOAD_FOLDER"])
    with backend_app.app_context():
        wipe_tables()
        yield backend_app
        db.session.remove()
    backend_app.config.clear()
    backend_app.config.update(saved)


@pytest.fixture
def client(app) -> GrantsClient:
    return app.test_client()


@pytest.fixture
def make_client(app):
    """``make_client(user)``: a new browser signed in as ``user`` (or anonymous with None)."""

    def make(user=None) -> GrantsClient:
        browser = app.test_client()
        if user is not None:
            login(browser, user.email)
        return browser

    return make


def login(browser: GrantsClient, email: str, password: str = factories.PASSWORD):
    response = browser.post_form("/login", {"email": email, "password": password})
    assert response.status_code == 302, f"sign-in as {email} failed"
    return response




@pytest.fixture
def applicant(app):
    user = factories.make_user(email="applicant@example.org", roles={"applicant"})
    factories.make_organization(members=[user])
    db.session.commit()
    return user


@pytest.fixture
def admin(app):
    user = factories.make_user(email="admin@example.gov", roles={"admin"})
    db.session.commit()
    return user


@pytest.fixture
def officer(app):
    user = factories.make_user(email="officer@example.gov", roles={"program_officer"})
    db.session.commit()
    return user
