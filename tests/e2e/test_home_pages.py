"""Every role's home page after signing in: what it offers, accessible, and a screenshot for people."""


import pytest
from playwright.sync_api import expect

from grants.demo import DEMO_PASSWORD, LOGINS, USERS
from tests.e2e.helpers import ARTIFACTS, assert_accessible, sign_in

pytestmark = pytest.mark.e2e

NAMES = {email: name for email, name, _roles in USERS}
# Links each role's header navigation must offer (sections still being built are left out).
NAVIGATION = {
    "applicant": ["Home", "Funding opportunities", "My organizations"],
    "reviewer": ["Home", "My reviews"],
    "program_officer": ["Home", "Programs"],
    "finance": ["Home"],
    "admin": ["Home", "Programs", "Users", "Audit log", "Outbox"],
}


@pytest.mark.parametrize(("role", "email"), LOGINS, ids=[role for role, _email in LOGINS])
def test_home_page_of_each_role(page, role, email):
    sign_in(page, email, DEMO_PASSWORD)

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {NAMES[email]}")
    primary = page.get_by_role("navigation", name="Primary navigation")
    for label in NAVIGATION[role]:
        expect(primary.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(primary.get_by_role("button", name="Sign out")).to_be_visible()
    if role == "applicant":
        expect(page.get_by_role("heading", name="Your applications")).to_be_visible()
        expect(page.get_by_role("row").filter(has_text="CRP-2027-0001")).to_contain_text("Under review")
    assert_accessible(page)
    page.screenshot(path=str(ARTIFACTS / f"home-{role}.png"), full_page=True)
    assert (ARTIFACTS / f"home-{role}.png").stat().st_size > 0
