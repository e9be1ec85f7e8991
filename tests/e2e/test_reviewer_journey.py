"""Journey 2: a reviewer declares no conflict, scores and submits; a second declares a conflict and is shut out."""

import re

import pytest
from playwright.sync_api import expect

from grants.demo import DEMO_PASSWORD
from tests.e2e.helpers import assert_accessible, flash, nav, sign_in, tick

pytestmark = pytest.mark.e2e

REFERENCE = "CRP-2027-0001"  # the open round's submitted application, under review, declarations pending
# The demo rubric: (criterion, maximum points, points this reviewer gives).
SCORES = [
    ("Community need", 20, 17),
    ("Partnership strength", 20, 18),
    ("Approach and feasibility", 20, 15),
    ("Public awareness", 10, 8),
    ("Budget and sustainability", 10, 7),
]


def _assignment_row(page, section: str):
    """The row of REFERENCE in one section ("To do", "In progress", "Done") of My reviews."""
    table = page.get_by_role("table", name=section, exact=True)
    return table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=REFERENCE))


def test_reviewer_scores_and_conflicted_reviewer_is_shut_out(page, new_page, live_server):
    # The first reviewer: declare no conflict, score every criterion, submit.
    sign_in(page, "reviewer@example.gov", DEMO_PASSWORD)
    nav(page, "My reviews")
    expect(page.get_by_role("heading", level=1)).to_have_text("My reviews")
    to_do = _assignment_row(page, "To do")
    expect(to_do).to_contain_text("(declaration needed)")
    assert_accessible(page)
    to_do.get_by_role("link", name=REFERENCE).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Conflict-of-interest declaration")
    expect(page.get_by_text("City of Riverside Community Response")).to_be_visible()
    # Before the declaration the application's content is not on the page.
    expect(page.get_by_role("heading", name="Budget")).to_have_count(0)
    assert_accessible(page)
    tick(page.get_by_label("No, I have no conflict of interest"))
    page.get_by_role("button", name="Record my declaration").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Review of {REFERENCE}")
    expect(page.get_by_role("heading", name="Budget")).to_be_visible()
    assert_accessible(page)
    for criterion, maximum, points in SCORES:
        page.get_by_label(f"{criterion}: points (0 to {maximum})").fill(str(points))
        page.get_by_label(f"{criterion}: comment (optional)").fill(f"{criterion}: well supported.")
    page.get_by_label("Overall comment").fill("A credible plan with committed partners of every type.")
    tick(page.get_by_role("group", name="Recommendation").get_by_label("Fund", exact=True))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Submit review").click()

    expect(flash(page, f"Your review of {REFERENCE} is submitted and locked. Thank you.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Done \(\d+\)$"))).to_be_visible()
    expect(_assignment_row(page, "Done")).to_contain_text("Submitted")
    expect(_assignment_row(page, "To do")).to_have_count(0)
    assert_accessible(page)
    _assignment_row(page, "Done").get_by_role("link", name=REFERENCE).click()
    expect(page.get_by_text("The review is locked.")).to_be_visible()
    # Weighted: 17/20×25 + 18/20×30 + 15/20×20 + 8/10×10 + 7/10×15 = 81.75 of 100.
    expect(page.get_by_text(re.compile(r"with a total of 81\.[78] of 100"))).to_be_visible()
    expect(page.get_by_role("button", name="Submit review")).to_have_count(0)
    assert_accessible(page)

    # The second reviewer declares a conflict and cannot reach the application.
    other = new_page()
    sign_in(other, "reviewer3@example.gov", DEMO_PASSWORD)
    nav(other, "My reviews")
    _assignment_row(other, "To do").get_by_role("link", name=REFERENCE).click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Conflict-of-interest declaration")
    assignment_url = other.url
    assert_accessible(other)
    tick(other.get_by_label("Yes, I have a conflict of interest"))
    other.get_by_label("If yes, describe the conflict").fill("I sat on the Riverside library board until last spring.")
    other.get_by_role("button", name="Record my declaration").click()

    expect(flash(other, "You are recused from this application.")).to_be_visible()
    expect(_assignment_row(other, "Done")).to_contain_text("Recused")
    assert_accessible(other)
    _assignment_row(other, "Done").get_by_role("link", name=REFERENCE).click()
    assert other.url == assignment_url
    expect(other.get_by_role("heading", level=1)).to_have_text(f"You are recused from {REFERENCE}")
    expect(other.get_by_text("I sat on the Riverside library board until last spring.")).to_be_visible()
    expect(other.get_by_role("heading", name="Budget")).to_have_count(0)
    assert_accessible(other)

    application_id = live_server.application_id(REFERENCE)
    response = other.goto(f"/applications/{application_id}")
    assert response.status == 404, f"a recused reviewer reached /applications/{application_id}: HTTP {response.status}"
    expect(other.get_by_text("Budget")).to_have_count(0)
    assert_accessible(other)
    for attachment_id in live_server.attachment_ids(REFERENCE):
        response = other.goto(f"/attachments/{attachment_id}")
        assert response.status == 404, f"a recused reviewer downloaded attachment {attachment_id}: HTTP {response.status}"
    response = other.goto(f"/applications/{application_id}/reviews")
    assert response.status in (403, 404), f"a recused reviewer reached the review summary: HTTP {response.status}"
