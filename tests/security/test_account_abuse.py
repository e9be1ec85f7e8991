"""What a stranger can try against accounts: links on a host they name, finding out who has an
account, guessing passwords fast, and locking the owner out (issue 13, items 1-3)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from werkzeug import security

import config
from grants import create_app, public_base_url
from grants.accounts import services as accounts
from grants.accounts.models import User
from grants.extensions import db, limiter
from grants.notifications.models import OutboxMessage
from tests import factories
from tests.conftest import login

EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


@pytest.fixture
def on_any_host(app):
    # The test browser keeps its cookies (and so its CSRF token) for localhost; an attacker on
    # their own host would have a token of their own.
    app.config["WTF_CSRF_ENABLED"] = False


def browser_from(app, address):
    """A new browser whose requests come from ``address``."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def last_mail_to(email: str) -> OutboxMessage:
    return db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.to_address == email).order_by(OutboxMessage.id.desc())
    ).first()


# 1. Links in e-mails come from PUBLIC_BASE_URL, never from the request's Host header. ----------


def test_a_password_reset_asked_for_on_another_host_still_links_to_the_site(client, applicant, admin, on_any_host):
    for user in (applicant, admin):
        response = client.post_form("/password/forgot", {"email": user.email}, headers=EVIL)
        assert response.status_code == 302
        body = last_mail_to(user.email).body
        assert "evil.example" not in body
        assert re.search(r"^http://127\.0\.0\.1:5000/password/reset/\S+$", body, re.M), body


def test_invitation_and_staff_set_password_links_ignore_the_host_header(app, applicant, admin):
    app.config["PUBLIC_BASE_URL"] = "https://grants.example.gov/portal"
    organization = applicant.memberships[0].organization
    # Queued inside a request that came in on the attacker's host (the signed-in browser's cookie
    # belongs to the real host, so the services are called in such a request directly).
    with app.test_request_context("/", method="POST", headers=EVIL):
        accounts.invite_member(actor=applicant, organization=organization, email="pal@example.org")
        accounts.create_staff_user(actor=admin, email="new.staff@state.gov", name="New Staff", roles={"reviewer"})
    invitation, welcome = last_mail_to("pal@example.org").body, last_mail_to("new.staff@state.gov").body
    assert "evil.example" not in invitation + welcome
    assert re.search(r"^https://grants\.example\.gov/portal/invitations/\S+$", invitation, re.M), invitation
    assert re.search(r"^https://grants\.example\.gov/portal/password/reset/\S+$", welcome, re.M), welcome


def test_production_refuses_to_start_without_a_public_base_url(monkeypatch):
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "x" * 40)
    monkeypatch.setattr(config.ProductionConfig, "PUBLIC_BASE_URL", None)
    monkeypatch.setattr(config.ProductionConfig, "SERVER_NAME", None)
    with pytest.raises(SystemExit, match="PUBLIC_BASE_URL is not set"):
        create_app("production")
    with pytest.raises(SystemExit, match="PUBLIC_BASE_URL must look like"):
        create_app("production", PUBLIC_BASE_URL="grants.example.gov")


def test_base_url_and_server_name_still_name_the_site():
    assert public_base_url({"BASE_URL": "https://old.example.gov/"}) == "https://old.example.gov"
    assert public_base_url({"SERVER_NAME": "grants.example.gov", "PREFERRED_URL_SCHEME": "https"}) == "https://grants.example.gov"
    assert public_base_url({"PUBLIC_BASE_URL": "https://new.example.gov", "BASE_URL": "https://old.example.gov"}) == "https://new.example.gov"


# 2. Neither registration nor the time a sign-in takes tells who has an account. -----------------


def test_an_unknown_address_costs_a_hash_of_the_configured_method(app, client, monkeypatch):
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1234"
    user = factories.make_user(email="known@example.org")
    user.password_hash = accounts.hash_password("the real password!")
    db.session.commit()
    checked = []

    def spy(pwhash, password):
        checked.append(pwhash.split("$", 1)[0])
        return security.check_password_hash(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", spy)
    known = client.post_form("/login", {"email": "known@example.org", "password": "a wrong password"})
    unknown = client.post_form("/login", {"email": "nobody@example.org", "password": "a wrong password"})
    assert known.status_code == unknown.status_code == 200
    assert checked == ["pbkdf2:sha256:1234", "pbkdf2:sha256:1234"]


# 3. Per-client limits, and guessing that slows the guesser, not the owner. --------------------


@pytest.fixture
def rate_limits(app):
    """The limits on (the test configuration leaves them off), counted from zero."""
    app.config["RATE_LIMITS_ENABLED"] = True
    limiter.reset()
    yield
    limiter.reset()


def assert_throttled_page(response):
    assert response.status_code == 429
    html = response.data.decode()
    assert "Too many attempts" in html and "Wait 1 minute and try again" in html
    assert "usa-header" in html  # the site's layout, not a bare error
    assert 0 < int(response.headers["Retry-After"]) <= 61


def test_thirty_rapid_sign_ins_are_throttled_while_the_owner_signs_in_elsewhere(app, applicant, rate_limits):
    attacker = browser_from(app, "203.0.113.9")
    answers = [attacker.post_form("/login", {"email": applicant.email, "password": f"guess number {n}"}) for n in range(30)]
    statuses = [response.status_code for response in answers]
    assert 302 not in statuses
    assert_throttled_page(answers[-1])
    owner = browser_from(app, "198.51.100.20")
    assert owner.post_form("/login", {"email": applicant.email, "password": factories.PASSWORD}).status_code == 302
    assert owner.get("/home").status_code == 200


def test_one_client_trying_many_addresses_is_throttled_too(app, rate_limits):
    stuffer = browser_from(app, "203.0.113.10")
    statuses = [stuffer.post_form("/login", {"email": f"person{n}@example.org", "password": "a leaked password"}).status_code
                for n in range(25)]
    assert statuses[:20] == [200] * 20
    assert set(statuses[20:]) == {429}


def test_registration_password_reset_and_invitations_are_limited_per_client(app, make_client, applicant, rate_limits):
    app.config.update(RATELIMIT_REGISTER="2 per hour", RATELIMIT_PASSWORD_RESET="2 per hour", RATELIMIT_INVITATION="2 per hour")
    visitor = browser_from(app, "203.0.113.11")
    for n in range(2):
        assert visitor.post_form("/register", {"name": "Bot", "email": f"bot{n}@example.org", "password": "a long enough password",
                                               "confirm": "a long enough password"}).status_code == 302
    assert visitor.post_form("/register", {"name": "Bot", "email": "bot9@example.org", "password": "a long enough password",
                                           "confirm": "a long enough password"}).status_code == 429
    assert db.session.scalar(sa.select(User.id).where(User.email == "bot9@example.org")) is None
    for _ in range(2):
        assert visitor.post_form("/password/forgot", {"email": applicant.email}).status_code == 302
    assert visitor.post_form("/password/forgot", {"email": applicant.email}).status_code == 429
    assert visitor.get("/password/forgot").status_code == 200  # only sending is limited
    member = make_client(applicant)
    for _ in range(2):
        member.post_form("/invitations/not-a-real-token")
    assert member.post_form("/invitations/not-a-real-token").status_code == 429
    # Another client is not affected.
    assert browser_from(app, "198.51.100.21").post_form("/password/forgot", {"email": applicant.email}).status_code == 302


def test_the_limits_are_off_in_the_test_configuration(app, applicant):
    browser = app.test_client()
    for _ in range(25):
        assert browser.post_form("/password/forgot", {"email": applicant.email}).status_code == 302
    login(browser, applicant.email)
