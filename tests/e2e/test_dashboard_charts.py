"""The program dashboard in a real browser: every chart is drawn, with its numbers in a table."""

import pytest
from playwright.sync_api import expect

from grants.demo import DEMO_PASSWORD
from tests.e2e.helpers import ARTIFACTS, assert_accessible, nav, sign_in

pytestmark = pytest.mark.e2e

# Counts the canvas pixels that are not transparent: a drawn chart has many, a blank one none.
PAINTED = """canvas => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) painted++; }
  return painted;
}"""


def test_program_dashboard_draws_every_chart(page):
    sign_in(page, "officer@example.gov", DEMO_PASSWORD)
    nav(page, "Programs")
    page.get_by_role("link", name="Community Responder Partnerships 2025", exact=True).click()
    page.get_by_role("main").get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Community Responder Partnerships 2025")
    canvases = page.locator("canvas[data-chart]")
    expect(canvases.first).to_be_visible()
    assert canvases.count() >= 4
    page.wait_for_timeout(500)  # Chart.js draws on the next animation frames
    for index in range(canvases.count()):
        canvas = canvases.nth(index)
        assert canvas.get_attribute("role") == "img" and canvas.get_attribute("aria-label")
        assert canvas.evaluate(PAINTED) > 500, f"chart {canvas.get_attribute('aria-label')!r} is blank"
    assert page.locator("table caption").count() >= canvases.count()  # the numbers under every chart
    assert_accessible(page)
    page.screenshot(path=str(ARTIFACTS / "program-dashboard.png"), full_page=True)
