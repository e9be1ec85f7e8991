"""Journey 1: a new applicant registers, registers an organization, fills every step and submits."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import PDF_BYTES, assert_accessible, choose_file, flash, nav, tick

pytestmark = pytest.mark.e2e

PROGRAM = "Community Responder Partnerships 2027"


def test_applicant_registers_and_submits_an_application(page, tmp_path):
    letter_library = tmp_path / "library-commitment.pdf"
    letter_transit = tmp_path / "transit-commitment.pdf"
    justification = tmp_path / "budget-justification.pdf"
    for path in (letter_library, letter_transit, justification):
        path.write_bytes(PDF_BYTES)

    # Register.
    page.goto("/")
    assert_accessible(page)
    page.get_by_role("link", name="Create an applicant account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an applicant account")
    assert_accessible(page)
    page.get_by_label("Full name").fill("Dana Whitfield")
    page.get_by_label("E-mail address").fill("dana.whitfield@example.org")
    page.get_by_label("Password", exact=True).fill("a long sentence about river otters")
    page.get_by_label("Confirm password").fill("a long sentence about river otters")
    page.get_by_role("button", name="Create account").click()
    # The same answer as for an address that already has an account; then sign in.
    expect(flash(page, "We have sent a message to dana.whitfield@example.org.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("E-mail address").fill("dana.whitfield@example.org")
    page.get_by_label("Password", exact=True).fill("a long sentence about river otters")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My organizations")
    assert_accessible(page)

    # Register the organization.
    page.get_by_role("link", name="Register an organization").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register an organization")
    assert_accessible(page)
    page.get_by_label("Legal name").fill("Peoria Crisis Response Collaborative")
    page.get_by_label("Employer Identification Number (EIN)").fill("12-3456789")
    page.get_by_label("SAM Unique Entity ID (optional)").fill("PCRC12345678")
    page.get_by_label("Organization type").select_option(label="Nonprofit organization")
    page.get_by_label("County (primary service area)").fill("Peoria")
    page.get_by_label("Street address", exact=True).fill("456 Fulton St")
    page.get_by_label("City", exact=True).fill("Peoria")
    page.get_by_label("State", exact=True).select_option("IL")
    page.get_by_label("ZIP code").fill("61602")
    page.get_by_label("Contact person").fill("Dana Whitfield")
    page.get_by_label("Contact e-mail address").fill("dana.whitfield@example.org")
    page.get_by_label("Contact phone (optional)").fill("(309) 555-0142")
    page.get_by_role("button", name="Save organization").click()
    expect(flash(page, "Peoria Crisis Response Collaborative is registered and you are a member.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Peoria Crisis Response Collaborative")
    expect(page.get_by_text("12-3456789")).to_be_visible()
    assert_accessible(page)

    # Find the open program and start an application.
    nav(page, "Funding opportunities")
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding opportunities")
    assert_accessible(page)
    page.get_by_role("heading", name=PROGRAM).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PROGRAM)
    expect(page.get_by_role("heading", name="Open for applications")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Start an application").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Apply to {PROGRAM}")
    assert_accessible(page)
    expect(page.get_by_label("Apply on behalf of")).to_have_value(re.compile(r"\d+"))
    page.get_by_role("button", name="Start application").click()
    started = flash(page, re.compile(r"Application CRP-2027-\d{4} started\."))
    expect(started).to_be_visible()
    reference = re.search(r"CRP-2027-\d{4}", started.inner_text()).group(0)

    # Step 1: the project.
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Application {reference}")
    expect(page.get_by_role("heading", name=re.compile(r"Step\s+1\s+of\s+5\s+Project"))).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Project title").fill("Peoria anchors: libraries and buses as first contact")
    page.get_by_label("Project summary").fill("Crisis counselors work from the main library and the transit center.")
    page.get_by_label("Community need").fill("Library and transit staff call police for behavioral-health crises several times a week.")
    page.get_by_label("Approach", exact=True).fill("Responders hold office hours at partner sites; partner staff call the team directly.")
    page.get_by_label("Counties served").fill("Peoria, Tazewell")
    tick(page.get_by_role("group", name="Does the project include a public-awareness campaign?").get_by_label("Yes"))
    page.get_by_label("Public-awareness plan").fill("Bus cards, library displays and two community forums.")
    page.get_by_label("Expected outcomes").fill("Fewer police dispatches to partner sites; more referrals to care.")
    page.get_by_role("button", name="Save and continue").click()

    # Step 2: two partners of different types, each with a commitment letter.
    expect(page.get_by_role("heading", name=re.compile(r"Step\s+2\s+of\s+5\s+Partners"))).to_be_visible()
    expect(page.get_by_text("No partners yet. Add at least one.")).to_be_visible()
    assert_accessible(page)
    partners = [
        ("Public library", "Peoria Public Library", "Ana Flores", "aflores@example.org", "Hosts weekly office hours.", letter_library),
        ("Transit system", "CityLink Transit", "Ben Ortiz", "bortiz@example.org", "Trains drivers to call the team.", letter_transit),
    ]
    for partner_type, name, contact, email, role, letter in partners:
        page.get_by_label("Partner type").select_option(label=partner_type)
        page.get_by_label("Partner organization name").fill(name)
        page.get_by_label("Contact name").fill(contact)
        page.get_by_label("Contact e-mail").fill(email)
        page.get_by_label("Role in the project").fill(role)
        choose_file(page, "Commitment letter", letter)
        page.get_by_role("button", name="Add partner").click()
        expect(flash(page, f"Partner {name} added.")).to_be_visible()
        row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name))
        expect(row).to_contain_text(partner_type)
        expect(row.get_by_role("link", name=letter.name)).to_be_visible()
        assert_accessible(page)
    expect(page.get_by_role("table", name="Partners added so far").get_by_role("row")).to_have_count(3)
    page.get_by_role("button", name="Save and continue").click()

    # Step 3: the budget, within the award range, with at least the 10% match.
    expect(page.get_by_role("heading", name=re.compile(r"Step\s+3\s+of\s+5\s+Budget"))).to_be_visible()
    expect(page.get_by_text("Awards range from")).to_contain_text("$25,000.00")
    assert_accessible(page)
    page.get_by_label("Line 1 category").select_option(label="Personnel")
    page.get_by_label("Line 1 description").fill("Crisis counselors (1.5 FTE)")
    page.get_by_label("Line 1 amount in dollars").fill("$96,000.00")
    page.get_by_role("button", name="Save and add another line").click()
    expect(flash(page, "Budget saved. A new line has been added below.")).to_be_visible()
    assert_accessible(page)
    expect(page.get_by_label("Line 1 amount in dollars")).to_have_value(re.compile(r"96,?000"))
    page.get_by_label("Line 2 category").select_option(label="Outreach and public awareness")
    page.get_by_label("Line 2 description").fill("Bus cards and library displays")
    page.get_by_label("Line 2 amount in dollars").fill("14,000")
    page.get_by_label("Matching funds (local or in-kind)").fill("12,500")
    page.get_by_role("button", name="Save and continue").click()

    # Step 4: another document.
    expect(page.get_by_role("heading", name=re.compile(r"Step\s+4\s+of\s+5\s+Attachments"))).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Document type").select_option(label="Budget justification")
    choose_file(page, "File", justification)
    page.get_by_role("button", name="Upload").click()
    expect(flash(page, "budget-justification.pdf uploaded.")).to_be_visible()
    expect(page.get_by_role("table", name="Documents uploaded")).to_contain_text("Budget justification")
    assert_accessible(page)
    page.get_by_role("button", name="Save and continue").click()

    # Step 5: review, forget the certification, fix it, submit.
    expect(page.get_by_role("heading", name=re.compile(r"Step\s+5\s+of\s+5\s+Review and submit"))).to_be_visible()
    expect(page.get_by_text("Every section is complete.")).to_be_visible()
    expect(page.get_by_role("table", name="Budget lines")).to_contain_text("$110,000.00")
    expect(page.get_by_role("table", name="Partners")).to_contain_text("Peoria Public Library")
    assert_accessible(page)
    page.get_by_role("button", name="Submit application").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("There is a problem with what you entered")
    expect(summary.get_by_role("link", name=re.compile("Check the certification to submit"))).to_be_visible()
    expect(summary).to_be_focused()
    assert_accessible(page)
    summary.get_by_role("link", name=re.compile("Check the certification to submit")).click()
    tick(page.get_by_label(re.compile(r"^I certify that the information in this application is true")))
    page.get_by_role("button", name="Submit application").click()

    # The confirmation.
    expect(page.get_by_role("heading", level=1)).to_have_text("Application submitted")
    expect(page.get_by_role("status")).to_contain_text(f"Reference {reference}")
    expect(page.get_by_text("A receipt has been e-mailed to the members of Peoria Crisis Response Collaborative.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Back to home").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=reference))
    expect(row).to_contain_text("Submitted")
    assert_accessible(page)
