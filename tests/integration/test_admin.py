"""Staff accounts, roles and the outbox, as an administrator manages them."""

import re

import sqlalchemy as sa

from grants.accounts.models import User
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from tests import factories


def test_admin_creates_a_staff_account_with_several_roles(make_client, admin):
    browser = make_client(admin)
    response = browser.post_form("/admin/users/new", {"name": "Rae Reviewer", "email": "Rae@State.gov", "roles": ["reviewer", "program_officer"]})
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.email == "rae@state.gov"))
    assert user.roles == {"reviewer", "program_officer"}
    message = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "rae@state.gov")).one()
    link = re.search(r"http://127.0.0.1:5000(/password/reset/\S+)", message.body).group(1)
    newcomer = make_client()
    assert newcomer.post_form(link, {"password": "my own long password", "confirm": "my own long password"}).status_code == 302
    from tests.conftest import login

    login(newcomer, "rae@state.gov", "my own long password")


def test_staff_account_needs_a_role(make_client, admin):
    response = make_client(admin).post_form("/admin/users/new", {"name": "No Role", "email": "norole@state.gov"})
    assert response.status_code == 200
    assert b"Choose at least one role." in response.data


def test_admin_deactivates_a_user_who_can_no_longer_sign_in(make_client, admin):
    staff = factories.make_user(email="leaving@state.gov", roles={"finance"})
    db.session.commit()
    session = make_client(staff)
    response = make_client(admin).post_form(f"/admin/users/{staff.id}", {"name": staff.name, "roles": ["finance"]})  # active unchecked
    assert response.status_code == 302
    assert session.get("/home").status_code == 302
    refused = make_client().post_form("/login", {"email": "leaving@state.gov", "password": factories.PASSWORD})
    assert refused.status_code == 200


def test_admin_cannot_remove_their_own_admin_role(make_client, admin):
    response = make_client(admin).post_form(f"/admin/users/{admin.id}", {"name": admin.name, "roles": ["finance"], "active": "y"})
    assert response.status_code == 200
    assert b"your own administrator access" in response.data
    db.session.refresh(admin)
    assert "admin" in admin.roles


def test_user_list_filters_by_role_and_search(make_client, admin):
    factories.make_user(email="fin@state.gov", name="Fran Finance", roles={"finance"})
    db.session.commit()
    browser = make_client(admin)
    assert b"fin@state.gov" in browser.get("/admin/users?role=finance").data
    assert b"fin@state.gov" not in browser.get("/admin/users?role=reviewer").data
    assert b"fin@state.gov" in browser.get("/admin/users?q=fran").data


def test_outbox_send_now_delivers_and_a_failure_stays_queued(app, make_client, admin, monkeypatch):
    from grants.notifications import services

    factories.make_user()  # nothing queued by a user with a password
    services.queue_message(to="a@example.org", subject="Hello", body="Body")
    db.session.commit()
    browser = make_client(admin)

    def broken(_message):
        raise OSError("mail server unreachable")

    monkeypatch.setattr(services, "_send", broken)
    browser.post_form("/admin/outbox/send")
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    assert message.sent_at is None and "unreachable" in message.last_error and message.attempts == 1
    monkeypatch.undo()
    browser.post_form("/admin/outbox/send")
    db.session.refresh(message)
    assert message.sent_at is not None and message.last_error is None
    assert b"a@example.org" in browser.get("/admin/outbox/").data


def test_admin_navigation_links_every_page_an_admin_may_open(make_client, admin):
    browser = make_client(admin)
    page = browser.get("/home").data.decode()
    nav = re.search(r'<nav aria-label="Primary navigation".*?</nav>', page, re.S).group(0)
    links = dict((label, href) for href, label in re.findall(r'href="([^"]+)"[^>]*>\s*<span>([^<]+)</span>', nav))
    assert {"Awards", "Exports", "Users", "Audit log", "Outbox", "Programs", "Dashboard"} <= set(links)
    for href in links.values():
        assert browser.get(href).status_code == 200, href
