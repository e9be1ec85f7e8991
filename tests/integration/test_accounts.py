"""Registration, sign-in, lockout, password resets, sessions and organizations."""

import re
from datetime import timedelta

import sqlalchemy as sa

from grants.accounts.models import Membership, Organization, User
from grants.db import utcnow
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from tests import factories
from tests.conftest import login

GOOD = {"name": "Ada Applicant", "email": "Ada@Example.org", "password": "a long enough password", "confirm": "a long enough password"}


def _user(email):
    return db.session.scalar(sa.select(User).where(User.email == email))


def test_applicant_registers_and_is_signed_in(client):
    response = client.post_form("/register", GOOD)
    assert response.status_code == 302
    user = _user("ada@example.org")
    assert user is not None and user.roles == {"applicant"}
    assert client.get("/home").status_code == 200


def test_duplicate_email_is_refused_case_insensitively(client, applicant):
    response = client.post_form("/register", {**GOOD, "email": "APPLICANT@example.org"})
    assert response.status_code == 200
    assert b"already exists" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_registration_errors_appear_beside_fields_and_in_the_summary(client):
    response = client.post_form("/register", {"name": "", "email": "not-an-email", "password": "short", "confirm": "other"})
    html = response.data.decode()
    assert response.status_code == 200
    assert "data-error-summary" in html
    assert 'href="#email"' in html and 'id="email-error"' in html
    assert "Use 12 to 256 characters." in html
    assert 'value="not-an-email"' in html  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_over_long_input_gets_a_message_not_a_500(client):
    response = client.post_form("/register", {**GOOD, "name": "x" * 5000})
    assert response.status_code == 200
    assert b"Field cannot be longer than 120 characters" in response.data


def test_sign_in_and_out(client, applicant):
    login(client, applicant.email)
    assert client.get("/home").status_code == 200
    response = client.post_form("/logout")
    assert response.status_code == 302
    assert client.get("/home").status_code == 302


def test_sign_in_rotates_the_session(client, applicant):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, applicant.email)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session


def test_five_failures_lock_the_account_with_the_same_message_as_an_unknown_email(client, applicant):
    unknown = client.post_form("/login", {"email": "nobody@example.org", "password": "whatever password"})
    for _ in range(5):
        wrong = client.post_form("/login", {"email": applicant.email, "password": "wrong password!!"})
        assert wrong.status_code == 200
    locked = client.post_form("/login", {"email": applicant.email, "password": factories.PASSWORD})
    message = re.compile(rb'<p class="usa-alert__text">(.*?)</p>')
    assert message.search(locked.data).group(1) == message.search(unknown.data).group(1)
    assert locked.status_code == 200
    user = _user(applicant.email)
    assert user.locked_until is not None and user.locked_until > utcnow() + timedelta(minutes=14)


def test_lock_expires_after_fifteen_minutes(client, applicant):
    applicant.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    login(client, applicant.email)


def test_lockout_is_stored_in_the_database_so_every_process_sees_it(app, applicant):
    # Two different clients stand in for two server processes: the count lives in the database.
    first, second = app.test_client(), app.test_client()
    for browser in (first, second, first, second, first):
        browser.post_form("/login", {"email": applicant.email, "password": "wrong password!!"})
    response = app.test_client().post_form("/login", {"email": applicant.email, "password": factories.PASSWORD})
    assert response.status_code == 200  # refused


def _reset_link(email):
    message = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == email).order_by(OutboxMessage.id.desc())).first()
    return re.search(r"http://localhost(/password/reset/\S+)", message.body).group(1)


def test_password_reset_link_works_once(client, applicant):
    response = client.post_form("/password/forgot", {"email": applicant.email})
    assert response.status_code == 302
    link = _reset_link(applicant.email)
    assert client.get(link).status_code == 200
    response = client.post_form(link, {"password": "a brand new password", "confirm": "a brand new password"})
    assert response.status_code == 302
    login(client, applicant.email, "a brand new password")
    assert client.get(link).status_code == 404  # used


def test_password_reset_link_expires_after_an_hour(app, client, applicant, monkeypatch):
    client.post_form("/password/forgot", {"email": applicant.email})
    link = _reset_link(applicant.email)
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    assert client.get(link).status_code == 404


def test_forgot_password_says_the_same_for_unknown_addresses(client, applicant):
    known = client.post_form("/password/forgot", {"email": applicant.email}, follow_redirects=True)
    unknown = client.post_form("/password/forgot", {"email": "nobody@example.org"}, follow_redirects=True)
    assert b"If that address belongs to an account" in known.data
    assert b"If that address belongs to an account" in unknown.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.to_address == "nobody@example.org")) == 0


def test_changing_the_password_signs_out_other_sessions(make_client, applicant):
    laptop, phone = make_client(applicant), make_client(applicant)
    response = laptop.post_form("/account/password", {"current_password": factories.PASSWORD, "password": "another long password", "confirm": "another long password"})
    assert response.status_code == 302
    assert laptop.get("/home").status_code == 200
    assert phone.get("/home").status_code == 302


def test_deactivated_user_is_signed_out_on_the_next_request(make_client, applicant, admin):
    browser = make_client(applicant)
    assert browser.get("/home").status_code == 200
    applicant.active = False
    db.session.commit()
    assert browser.get("/home").status_code == 302


def test_next_parameter_never_leaves_the_site(client, applicant):
    for target in ("https://evil.example.com/", "//evil.example.com", "/\\evil.example.com"):
        response = client.post_form(f"/login?next={target}", {"email": applicant.email, "password": factories.PASSWORD})
        assert response.headers["Location"].endswith("/home"), target
        client.post_form("/logout")
    response = client.post_form("/login?next=/organizations", {"email": applicant.email, "password": factories.PASSWORD})
    assert response.headers["Location"].endswith("/organizations")


ORG = {
    "legal_name": "Lakeside Crisis Response", "ein": "12-3456789", "uei": "abcd1234efgh", "org_type": "nonprofit",
    "county": "Lake", "address_line1": "9 Shore Rd", "address_line2": "", "city": "Waukegan", "state": "IL",
    "postal_code": "60085", "contact_name": "Lee", "contact_email": "lee@example.org", "contact_phone": "",
}


def test_applicant_registers_an_organization_and_becomes_a_member(make_client):
    user = factories.make_user(email="new@example.org")
    db.session.commit()
    browser = make_client(user)
    response = browser.post_form("/organizations/new", ORG)
    assert response.status_code == 302
    organization = db.session.scalar(sa.select(Organization).where(Organization.ein == "12-3456789"))
    assert organization.uei == "ABCD1234EFGH"
    assert organization.address_line2 is None
    assert db.session.scalar(sa.select(Membership).where(Membership.organization_id == organization.id)).user_id == user.id


def test_control_characters_pasted_into_a_form_are_not_stored_but_tabs_and_line_breaks_are(make_client, applicant):
    browser = make_client(applicant)
    response = browser.post_form("/organizations/new", {**ORG, "legal_name": "Lakeside\x0bCrisis\x1b Response\x7f",
                                                        "address_line1": "9 Shore\x1fRd"})
    assert response.status_code == 302
    organization = db.session.scalar(sa.select(Organization).where(Organization.ein == "12-3456789"))
    assert (organization.legal_name, organization.address_line1) == ("LakesideCrisis Response", "9 ShoreRd")
    application = factories.make_application(program=factories.make_program(), organization=organization, actor=applicant)
    db.session.commit()
    browser.post_form(f"/applications/{application.id}/project", {
        "title": "Library\tresponders", "summary": "Line one\r\nLine two\x0c", "need": "n", "approach": "a",
        "counties_served": "Lake", "awareness_component": "", "awareness_plan": "", "expected_outcomes": "", "action": "save"})
    db.session.refresh(application)
    assert application.summary.replace("\r\n", "\n") == "Line one\nLine two"


def test_wrong_ein_and_uei_formats_are_explained(make_client, applicant):
    browser = make_client(applicant)
    response = browser.post_form("/organizations/new", {**ORG, "ein": "123456789", "uei": "SHORT"})
    assert response.status_code == 200
    assert b"like 12-3456789" in response.data
    assert b"12 letters and digits" in response.data


def test_a_registered_ein_cannot_be_registered_again(make_client, applicant):
    browser = make_client(applicant)
    assert browser.post_form("/organizations/new", ORG).status_code == 302
    again = browser.post_form("/organizations/new", {**ORG, "legal_name": "Copy"})
    assert again.status_code == 200
    assert b"already registered" in again.data


def test_another_organization_is_hidden_from_applicants(make_client, applicant):
    outsider = factories.make_user(email="outsider@example.org")
    other = factories.make_organization(members=[outsider], legal_name="Secret Org")
    db.session.commit()
    browser = make_client(applicant)
    assert browser.get(f"/organizations/{other.id}").status_code == 404
    assert browser.get(f"/organizations/{other.id}/edit").status_code == 404


def test_member_invites_a_colleague_who_joins(make_client, applicant):
    organization = applicant.memberships[0].organization
    colleague = factories.make_user(email="colleague@example.org")
    db.session.commit()
    inviter = make_client(applicant)
    assert inviter.post_form(f"/organizations/{organization.id}/invite", {"email": "Colleague@example.org"}).status_code == 302
    message = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "colleague@example.org")).one()
    link = re.search(r"http://localhost(/invitations/\S+)", message.body).group(1)
    # The wrong person cannot use it.
    stranger = factories.make_user(email="stranger@example.org")
    db.session.commit()
    make_client(stranger).post_form(link)
    assert not any(m.organization_id == organization.id for m in _user("stranger@example.org").memberships)
    joined = make_client(colleague)
    assert joined.post_form(link).status_code == 302
    assert joined.get(f"/organizations/{organization.id}").status_code == 200
