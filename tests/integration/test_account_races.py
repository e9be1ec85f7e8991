"""Double submissions on accounts: a unique key hit at the same moment is a form message or an
idempotent success, never a 500 (issue 13, item 11)."""

from __future__ import annotations

import re

import sqlalchemy as sa

from grants.accounts import services as accounts
from grants.accounts.models import Membership, Organization, User
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from tests import factories
from tests.race import race

FORM = {"name": "Ada Applicant", "email": "ada@example.org", "password": "a long enough password", "confirm": "a long enough password"}


def test_the_same_email_registered_twice_at_once_makes_one_account(app):
    browsers = [app.test_client(), app.test_client()]
    answers = []

    def register(browser):
        def attempt():
            answers.append(browser.post_form("/register", FORM))
        return attempt

    outcomes, errors = race(app, [register(browser) for browser in browsers])
    assert errors == [] and outcomes == ["ok", "ok"]
    assert [(r.status_code, r.headers.get("Location")) for r in answers] == [(302, "/login?next=/organizations")] * 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == "ada@example.org")) == 1


def test_the_same_staff_email_created_twice_at_once_is_refused_once(app, admin):
    admin_id = admin.id

    def create():
        accounts.create_staff_user(actor=db.session.get(User, admin_id), email="staff@state.gov", name="Sam Staff", roles={"reviewer"})

    outcomes, errors = race(app, [create, create])
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == "staff@state.gov")) == 1


def test_two_organizations_with_one_ein_at_once_register_one(app):
    first, second = factories.make_user(email="one@example.org"), factories.make_user(email="two@example.org")
    db.session.commit()
    ids = (first.id, second.id)
    refusals = []

    def create(user_id):
        def attempt():
            try:
                accounts.create_organization(actor=db.session.get(User, user_id), fields=factories.organization_fields(ein="98-7654321"))
            except accounts.DomainError as error:
                refusals.append((error.field, error.message))
                raise
        return attempt

    outcomes, errors = race(app, [create(user_id) for user_id in ids])
    assert errors == []
    assert sorted(outcomes) == ["ok", "refused"]
    assert refusals == [("ein", accounts.EIN_TAKEN_MESSAGE)]
    organization = db.session.scalars(sa.select(Organization).where(Organization.ein == "98-7654321")).one()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(Membership.organization_id == organization.id)) == 1


def test_accepting_one_invitation_twice_at_once_joins_once(app, make_client, applicant):
    organization = applicant.memberships[0].organization
    colleague = factories.make_user(email="colleague@example.org", roles={"reviewer"})  # gains the applicant role too
    db.session.commit()
    accounts.invite_member(actor=applicant, organization=organization, email=colleague.email)
    db.session.commit()
    body = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == colleague.email)).one().body
    link = re.search(r"http://127.0.0.1:5000(/invitations/\S+)", body).group(1)
    browsers = [make_client(colleague), make_client(colleague)]
    answers = []

    def accept(browser):
        def attempt():
            answers.append(browser.post_form(link))
        return attempt

    outcomes, errors = race(app, [accept(browser) for browser in browsers])
    assert errors == [] and outcomes == ["ok", "ok"]
    assert [(r.status_code, r.headers["Location"]) for r in answers] == [(302, f"/organizations/{organization.id}")] * 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Membership).where(
        Membership.user_id == colleague.id, Membership.organization_id == organization.id)) == 1
    db.session.expire_all()
    assert db.session.get(User, colleague.id).roles == {"reviewer", "applicant"}
