"""Registration, sign-in, lockout, password resets, sessions and organizations."""

import re
from datetime import timedelta

import sqlalchemy as sa

from grants.accounts.models import Membership, Organization, SignInThrottle, User
from grants.db import utcnow
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from tests import factories
from tests.conftest import login

GOOD = {"name": "Ada Applicant", "email": "Ada@Example.org", "password": "a long enough password", "confirm": "a long enough password"}


def _user(email):
    return db.session.scalar(sa.select(User).where(User.email == email))


def _flashes(browser):
    with browser.session_transaction() as session:
        return session.get("_flashes", [])


def _mail_to(email):
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == email).order_by(OutboxMessage.id)).all()


def test_applicant_registers_is_welcomed_by_mail_and_signs_in_to_their_organizations(client):
    response = client.post_form("/register", GOOD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/organizations"
    user = _user("ada@example.org")
    assert user is not None and user.roles == {"applicant"}
    [welcome] = _mail_to("ada@example.org")
    assert "account is ready" in welcome.subject and "http://127.0.0.1:5000/login" in welcome.body
    signed_in = client.post_form(response.headers["Location"], {"email": "ada@example.org", "password": GOOD["password"]})
    assert signed_in.headers["Location"] == "/organizations"
    assert client.get("/organizations").status_code == 200


def test_registering_a_taken_address_answers_as_for_a_new_one_and_mails_its_owner(app, applicant):
    newcomer, stranger = app.test_client(), app.test_client()
    fresh = newcomer.post_form("/register", {**GOOD, "email": "Fresh@example.org"})
    again = stranger.post_form("/register", {**GOOD, "email": "APPLICANT@example.org"})
    assert (again.status_code, again.headers["Location"]) == (fresh.status_code, fresh.headers["Location"]) == (302, "/login?next=/organizations")
    strip = lambda flashes: [(kind, text.replace("fresh@example.org", "ADDRESS").replace("applicant@example.org", "ADDRESS")) for kind, text in flashes]  # noqa: E731
    assert strip(_flashes(stranger)) == strip(_flashes(newcomer)) != []
    assert "already" not in str(_flashes(stranger))
    # No second account; the owner hears about the attempt, with links to sign in or reset.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == "applicant@example.org")) == 1
    [notice] = _mail_to("applicant@example.org")
    assert notice.subject == "Someone tried to register with your e-mail address"
    assert "http://127.0.0.1:5000/login" in notice.body and "http://127.0.0.1:5000/password/forgot" in notice.body
    login(app.test_client(), applicant.email)  # the owner's password is unchanged


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


def browser_from(app, address):
    """A new browser whose requests come from ``address``."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


MESSAGE = re.compile(rb'<p class="usa-alert__text">(.*?)</p>', re.S)


def test_five_failures_pause_that_client_with_the_same_answers_as_for_an_unknown_email(client, applicant):
    answers = {}
    for email in ("nobody@example.org", applicant.email):
        answers[email] = [client.post_form("/login", {"email": email, "password": "wrong password!!"}) for _ in range(5)]
        answers[email].append(client.post_form("/login", {"email": email, "password": factories.PASSWORD}))
    seen = {email: [(r.status_code, MESSAGE.search(r.data).group(1)) for r in responses] for email, responses in answers.items()}
    assert seen["nobody@example.org"] == seen[applicant.email]
    statuses = [status for status, _ in seen[applicant.email]]
    assert statuses == [200, 200, 200, 200, 200, 429]  # even the right password waits
    assert b"paused for 15 minutes" in seen[applicant.email][-1][1]
    assert b"do not match" in seen[applicant.email][0][1]
    pause = db.session.scalar(sa.select(SignInThrottle).where(SignInThrottle.email == applicant.email))
    assert pause.client == "127.0.0.1" and pause.paused_until > utcnow() + timedelta(minutes=14)


def test_a_stranger_guessing_does_not_lock_the_owner_out(app, applicant):
    stranger = browser_from(app, "203.0.113.9")
    for _ in range(8):
        stranger.post_form("/login", {"email": applicant.email, "password": "wrong password!!"})
    assert stranger.post_form("/login", {"email": applicant.email, "password": factories.PASSWORD}).status_code == 429
    owner = browser_from(app, "198.51.100.20")
    assert owner.post_form("/login", {"email": applicant.email, "password": factories.PASSWORD}).status_code == 302
    # The owner's success does not lift the stranger's pause.
    assert stranger.post_form("/login", {"email": applicant.email, "password": factories.PASSWORD}).status_code == 429


def test_a_pause_ends_after_fifteen_minutes(client, applicant):
    for _ in range(5):
        client.post_form("/login", {"email": applicant.email, "password": "wrong password!!"})
    pause = db.session.scalar(sa.select(SignInThrottle).where(SignInThrottle.email == applicant.email))
    pause.paused_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    login(client, applicant.email)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInThrottle)) == 0


def test_resetting_the_password_ends_the_pause(client, applicant):
    for _ in range(5):
        client.post_form("/login", {"email": applicant.email, "password": "wrong password!!"})
    client.post_form("/password/forgot", {"email": applicant.email})
    link = _reset_link(applicant.email)
    client.post_form(link, {"password": "a brand new password", "confirm": "a brand new password"})
    login(client, applicant.email, "a brand new password")


def test_the_pause_is_stored_in_the_database_so_every_process_sees_it(app, applicant):
    # Two different clients from one address stand in for two server processes.
    first, second = app.test_client(), app.test_client()
    for browser in (first, second, first, second, first):
        browser.post_form("/login", {"email": applicant.email, "password": "wrong password!!"})
    response = app.test_client().post_form("/login", {"email": applicant.email, "password": factories.PASSWORD})
    assert response.status_code == 429  # refused


def _reset_link(email):
    message = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == email).order_by(OutboxMessage.id.desc())).first()
    return re.search(r"http://127.0.0.1:5000(/password/reset/\S+)", message.body).group(1)


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
    link = re.search(r"http://127.0.0.1:5000(/invitations/\S+)", message.body).group(1)
    # The wrong person cannot use it.
    stranger = factories.make_user(email="stranger@example.org")
    db.session.commit()
    make_client(stranger).post_form(link)
    assert not any(m.organization_id == organization.id for m in _user("stranger@example.org").memberships)
    joined = make_client(colleague)
    assert joined.post_form(link).status_code == 302
    assert joined.get(f"/organizations/{organization.id}").status_code == 200
