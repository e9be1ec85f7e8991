"""Journey 5: keyboard only. The applicant's first step can be filled and saved without a mouse, and
after a failed submission the focus lands on the error summary."""

import re

import pytest
from playwright.sync_api import expect

from grants.demo import DEMO_PASSWORD
from tests.e2e.helpers import assert_accessible, flash, sign_in

pytestmark = pytest.mark.e2e

# What has the keyboard focus: its label, or its own text for links and buttons.
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {name: "(body)", errorSummary: false};
  const label = e.labels && e.labels.length ? e.labels[0].innerText : (e.getAttribute("aria-label") || e.innerText || "");
  return {name: label.trim().split("\\n")[0], tag: e.tagName.toLowerCase(), type: e.type || null,
          errorSummary: e.hasAttribute("data-error-summary"), tabindex: e.getAttribute("tabindex")};
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def tab_to(page, name: str, most: int = 12) -> None:
    """Press Tab until the control labelled ``name`` has the focus."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if focused(page)["name"] == name:
            return
    raise AssertionError(f"{most} presses of Tab did not reach {name!r}; the focus is on {focused(page)}")


def skip_to_main_content(page) -> None:
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Skip to main content", f"the first Tab stop is {focused(page)}"
    page.keyboard.press("Enter")


def type_over(page, text: str) -> None:
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(text)


ANSWERS = [
    ("Project title", "Faith communities as first contact"),
    ("Project summary", "Congregations host weekly drop-in hours with the mobile crisis team."),
    ("Community need", "Clergy in Lake County call 911 for members in crisis about twice a week."),
    ("Approach", "A responder pair visits partner congregations on set days and takes direct calls."),
    ("Counties served", "Lake, McHenry"),
]
PLAN = "Bulletins, sermon inserts and a community forum at each partner congregation."
OUTCOMES = "Fewer police dispatches to congregations; more warm hand-offs to care."


def test_keyboard_only(page, new_page):
    _fill_and_save_the_first_step(page)
    _error_summary_takes_the_focus(new_page())


def _fill_and_save_the_first_step(page) -> None:
    # Priya Shah's organization has a draft in the open round with little more than a title.
    sign_in(page, "applicant3@example.org", DEMO_PASSWORD)
    page.get_by_role("link", name="CRP-2027-0003").click()
    page.get_by_role("link", name="Continue editing").click()
    expect(page.get_by_role("heading", name=re.compile(r"Step\s+1\s+of\s+5\s+Project"))).to_be_visible()
    project_url = page.url
    assert_accessible(page)

    # From the top of the page, keyboard only.
    page.goto(project_url)
    skip_to_main_content(page)
    tab_to(page, "Project title")
    for number, (label, text) in enumerate(ANSWERS):
        if number:
            page.keyboard.press("Tab")
        assert focused(page)["name"] == label, f"after {ANSWERS[number - 1][0]!r}, Tab went to {focused(page)}"
        type_over(page, text)
    page.keyboard.press("Tab")
    assert (focused(page)["name"], focused(page)["type"]) == ("Yes", "radio"), f"the awareness question is not next: {focused(page)}"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Public-awareness plan", focused(page)
    type_over(page, PLAN)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Expected outcomes", focused(page)
    type_over(page, OUTCOMES)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Save and continue", focused(page)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Save and come back later", focused(page)
    page.keyboard.press("Enter")

    expect(flash(page, "Your progress is saved. You can come back to this application any time before the deadline.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Priya Shah")
    assert_accessible(page)

    # Everything typed was saved.
    page.goto(project_url)
    for label, text in ANSWERS:
        expect(page.get_by_label(label, exact=True)).to_have_value(text)
    expect(page.get_by_role("group", name="Does the project include a public-awareness campaign?").get_by_label("Yes")).to_be_checked()
    expect(page.get_by_label("Public-awareness plan")).to_have_value(PLAN)
    expect(page.get_by_label("Expected outcomes")).to_have_value(OUTCOMES)


def _submit_empty_sign_in_form(page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    expect(page.locator("[data-error-summary]")).to_be_visible()


def _assert_focus_on_error_summary(page, how: str) -> None:
    now = focused(page)
    assert now["errorSummary"] and now["tabindex"] == "-1", f"{how}: the focus is on {now}, not on the error summary"


def _error_summary_takes_the_focus(page) -> None:
    # Tabbing through the header to the first field.
    page.goto("/login")
    tab_to(page, "E-mail address", most=15)
    _submit_empty_sign_in_form(page)
    _assert_focus_on_error_summary(page, "after tabbing through the header")
    summary = page.locator("[data-error-summary]")
    expect(summary).to_contain_text("There are problems with what you entered")
    assert_accessible(page)
    # The summary's first link takes the focus to the field it names.
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "E-mail address: Enter an e-mail address.", focused(page)
    page.keyboard.press("Enter")
    expect(page.get_by_label("E-mail address")).to_be_focused()

    # Through "Skip to main content", which leaves #main-content in the address.
    page.goto("/login")
    skip_to_main_content(page)
    tab_to(page, "E-mail address")
    _submit_empty_sign_in_form(page)
    _assert_focus_on_error_summary(page, "after using the skip link")
    assert_accessible(page)
