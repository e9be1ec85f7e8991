"""When the database fails underneath a request: an error in a statement, or the database gone.

The person still gets the site's own page with its security headers and a sentence saying what to
do, and the logs never get the credentials that a failed statement carries.
"""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from grants.accounts.models import User
from grants.extensions import db
from tests.security.test_headers import _header_problems

PLANTED_HASH = "pbkdf2:sha256:1000$NotARealSalt$" + "ab12" * 16
PLANTED_TOKEN = "c0ffee" * 5 + "42"


@pytest.fixture
def served(app):
    """The app as a server runs it: an unhandled error becomes the 500 page instead of reaching the test."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def _insert_duplicate_user(email: str):
    """What a request does when its INSERT of a user fails at flush (here: the address is taken)."""
    db.session.add(User(email=email, name="Second", password_hash=PLANTED_HASH, session_token=PLANTED_TOKEN))
    db.session.flush()


@pytest.fixture
def failing_audit_page(monkeypatch):
    """/admin/audit/ fails with a database error halfway, as any page can."""
    import grants.audit.routes as routes

    def fail(*_args, **_kwargs):
        _insert_duplicate_user("admin@example.gov")

    monkeypatch.setattr(routes, "paginate", fail)


# A database error in a signed-in user's request ----------------------------------------------


def test_a_database_error_gets_the_sites_500_page_with_its_headers(served, make_client, admin, failing_audit_page):
    response = make_client(admin).get("/admin/audit/")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in page and "nothing was changed" in page
    assert "usa-header" in page and admin.name in page  # the full layout, the session rolled back first
    assert _header_problems(response) == []


def test_a_failed_insert_of_a_user_logs_no_password_hash_or_token(served, make_client, admin, failing_audit_page, caplog):
    with caplog.at_level(logging.INFO):
        assert make_client(admin).get("/admin/audit/").status_code == 500
    logged = caplog.text
    assert "Exception on /admin/audit/" in logged and "IntegrityError" in logged  # the failure is logged...
    assert PLANTED_HASH not in logged and "NotARealSalt" not in logged  # ...without the row it was writing
    assert PLANTED_TOKEN not in logged


def test_a_database_message_quoting_the_row_is_logged_without_it(app, caplog):
    """PostgreSQL quotes a failing row in its own message (NOT NULL, CHECK), whatever SQLAlchemy hides."""
    db.session.add(User(email="nameless@example.org", name=None, password_hash=PLANTED_HASH, session_token=PLANTED_TOKEN))
    with pytest.raises(sa.exc.IntegrityError) as failure:
        db.session.flush()
    db.session.rollback()
    with caplog.at_level(logging.ERROR):
        app.logger.error("Exception on /register [POST]", exc_info=failure.value)
    assert "nameless@example.org" in str(failure.value) or db.engine.dialect.name == "sqlite"
    assert PLANTED_HASH not in caplog.text and "NotARealSalt" not in caplog.text and PLANTED_TOKEN not in caplog.text
    assert "IntegrityError" in caplog.text


# The database unreachable (PostgreSQL restarting) --------------------------------------------


@pytest.fixture
def database_down(monkeypatch):
    """Every new connection is refused, as while PostgreSQL restarts (pool_pre_ping drops the old ones)."""

    def refuse():
        raise sa.exc.OperationalError("connect", None, ConnectionRefusedError("connection refused: the server is restarting"))

    def down():
        db.session.commit()
        db.session.close()
        monkeypatch.setattr(db.engine.pool, "connect", refuse)

    return down


def test_while_the_database_is_down_a_signed_in_user_gets_the_sites_page_saying_try_again(served, make_client, applicant, database_down):
    browser, name = make_client(applicant), applicant.name
    database_down()

    response = browser.get("/home")
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "try again in a moment" in page and "nothing was saved" in page
    assert "usa-header" in page and "Community responder partnership grants" in page  # the site's layout...
    assert name not in page and "Sign out" not in page  # ...without what needs the database
    assert response.headers["Retry-After"] == "10"
    assert _header_problems(response) == []

    # A page that fails for another reason (here: not found) keeps its own message, drawn the same way.
    missing = browser.get("/no-such-page")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)
    assert _header_problems(missing) == []

    # A form post too: its CSRF token needs no database, so the failure is the database's.
    posted = browser.post_form("/organizations/new", {"legal_name": "Lakeside"})
    assert posted.status_code == 503 and "try again in a moment" in posted.get_data(as_text=True)
    assert _header_problems(posted) == []


def test_a_reset_link_in_a_failed_requests_path_is_not_logged(served, client, applicant, database_down, caplog):
    from grants.accounts.services import password_reset_token

    token = password_reset_token(applicant)  # signs in whoever holds it, for an hour
    database_down()
    with caplog.at_level(logging.INFO):
        assert client.get(f"/password/reset/{token}").status_code == 503
    assert "Exception on /password/reset/[hidden] [GET]" in caplog.text
    assert token not in caplog.text


def test_while_the_database_is_down_a_visitor_gets_the_same_page(served, client, database_down):
    database_down()
    response = client.get("/opportunities")
    assert response.status_code == 503 and "try again in a moment" in response.get_data(as_text=True)
    assert _header_problems(response) == []
