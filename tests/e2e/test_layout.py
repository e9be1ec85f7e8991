"""Layout at a phone's, a tablet's and a laptop's width: nothing a user needs is covered, and the
page itself never scrolls sideways (a wide table scrolls inside its own container)."""

import re

import pytest
from playwright.sync_api import expect

from grants.demo import DEMO_PASSWORD
from tests.e2e.helpers import assert_accessible, sign_in

pytestmark = pytest.mark.e2e

WIDTHS = (320, 768, 1280)
PILOT_REFERENCE = "RPP-2026-0001"  # reviewed by reviewer2 in the demo data; its review is submitted
AWARD = "CRPX-2025-A0001"  # an award with payments in every status

# The element at the centre of `element` (of each line of it, when a link wraps) is the element itself
# or inside it: nothing lies on top.
UNCOVERED = """element => {
  const result = {inViewport: true, uncovered: true, hit: null};
  for (const box of element.getClientRects()) {
    const x = box.left + box.width / 2, y = box.top + box.height / 2;
    const hit = document.elementFromPoint(x, y);
    result.inViewport &&= x >= 0 && y >= 0 && x <= window.innerWidth && y <= window.innerHeight;
    if (hit === null || !element.contains(hit)) { result.uncovered = false; result.hit = hit ? hit.outerHTML.slice(0, 120) : null; }
  }
  return result;
}"""
PAGE_WIDTH = "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})"


# Tables that stick out of their column, unless they are inside a container that scrolls them.
TABLES_OUT_OF_THEIR_COLUMN = """() => [...document.querySelectorAll('main table')].flatMap(table => {
  let box = table, parent = table.parentElement;
  for (let node = parent; node && node.tagName !== 'MAIN'; node = node.parentElement) {
    if (['auto', 'scroll'].includes(getComputedStyle(node).overflowX)) { box = node; parent = node.parentElement; break; }
  }
  const right = box.getBoundingClientRect().right, limit = parent.getBoundingClientRect().right;
  return right > limit + 1 ? [`${table.caption ? table.caption.textContent.trim() : 'a table'} ends at ${Math.round(right)} px, its column at ${Math.round(limit)} px`] : [];
})"""


def assert_no_horizontal_scroll(page, width):
    sizes = page.evaluate(PAGE_WIDTH)
    assert sizes["scroll"] <= sizes["client"], f"{page.url} at {width} px scrolls sideways: {sizes}"
    sticking_out = page.evaluate(TABLES_OUT_OF_THEIR_COLUMN)
    assert not sticking_out, f"{page.url} at {width} px: {sticking_out}"


def test_commitment_letters_on_the_scoring_page_are_visible_at_every_width(page):
    sign_in(page, "reviewer2@example.gov", DEMO_PASSWORD)
    page.goto("/reviews")
    page.get_by_role("table", name="Done", exact=True).get_by_role("link", name=PILOT_REFERENCE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Review of {PILOT_REFERENCE}")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        partners = page.get_by_role("table", name="Partners")
        if width >= 480:  # narrower, the table is stacked: each cell shows its column's name (USWDS data-label)
            expect(partners.get_by_role("columnheader", name="Commitment letter")).to_be_visible()
        letters = partners.get_by_role("link", name=re.compile(r"\.pdf$"))
        expect(letters.first).to_be_visible()
        assert letters.count() >= 1
        for index in range(letters.count()):
            letter = letters.nth(index)
            letter.scroll_into_view_if_needed()
            where = letter.evaluate(UNCOVERED)
            assert where["inViewport"] and where["uncovered"], (
                f"at {width} px commitment letter {index + 1} is covered or off screen; at its centre: {where['hit']}")
        assert_no_horizontal_scroll(page, width)
    assert_accessible(page)


@pytest.mark.parametrize("width", (1280, 320))
def test_finance_award_page_with_payments_never_scrolls_sideways(new_page, width):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "finance@example.gov", DEMO_PASSWORD)
    page.goto("/awards")
    page.get_by_role("link", name=AWARD).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Award {AWARD}")
    payments = page.get_by_role("table", name="Payments, oldest first")
    expect(payments.get_by_role("button", name="Void").first).to_be_attached()
    assert_no_horizontal_scroll(page, width)
    # The void form stays reachable: scrolled to, inside the table's own container, nothing covers it.
    void = payments.get_by_role("button", name="Void").first
    void.scroll_into_view_if_needed()
    where = void.evaluate(UNCOVERED)
    assert where["inViewport"] and where["uncovered"], f"at {width} px the Void button is covered: {where['hit']}"
    assert_no_horizontal_scroll(page, width)
    assert_accessible(page)
