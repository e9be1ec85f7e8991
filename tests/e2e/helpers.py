"""What the browser journeys share: the accessibility check, signing in, USWDS controls, a small PDF."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_REPORT = ARTIFACTS / "axe-report.jsonl"

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = (
    f"async () => (await axe.run(document, {{runOnly: {{type: 'tag', values: {json.dumps(AXE_TAGS)}}}}})).violations"
    ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"
)
BLOCKING_IMPACTS = {"serious", "critical"}

# A tiny but well-formed PDF: uploads are accepted by their content, not by their name.
PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def assert_accessible(page: Page) -> None:
    """Fail on any serious or critical axe-core violation (WCAG 2.1 A and AA) of the current page,
    naming the page, the rule, its impact and the elements; and on any script error, CSP block or
    HTTP 5xx the page has met since it opened (collected by the page fixture in conftest.py)."""
    page.wait_for_load_state("load")
    if page.evaluate("typeof window.axe") == "undefined":
        # A document the context's init script missed. page.add_script_tag() would write an inline
        # <script>, which the app's Content-Security-Policy blocks; evaluating the source is not blocked.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    violations = page.evaluate(AXE_RUN)
    _record(page.url, violations)
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe-core: serious or critical violations on {page.url}:\n" + "\n".join(
        f"  - {v['id']} ({v['impact']}): {v['help']}; elements: {', '.join(v['nodes'])}" for v in blocking
    )
    errors = getattr(page, "script_errors", [])
    assert not errors, f"errors met on the way to {page.url}: {errors}"


def _record(url: str, violations: list[dict]) -> None:
    """Every violation of any impact goes to test-artifacts/e2e/axe-report.jsonl, for people to read."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(AXE_REPORT, "a", encoding="utf-8") as out:
        out.write(json.dumps({"url": url, "violations": violations}) + "\n")


def flash(page: Page, text: str | re.Pattern):
    """The alert or status message at the top of the page."""
    return page.locator(".usa-alert").filter(has_text=text)


def sign_in(page: Page, email: str, password: str) -> None:
    """Sign in through the form, checking the sign-in page and the home page on the way."""
    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert_accessible(page)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Welcome, "))
    assert_accessible(page)


def nav(page: Page, label: str) -> None:
    """Follow a link in the header's primary navigation."""
    page.get_by_role("navigation", name="Primary navigation").get_by_role("link", name=label, exact=True).click()


def tick(control) -> None:
    """Check a USWDS radio button or checkbox the way a mouse user does: by clicking its label.

    USWDS hides the native input off-screen and draws its own box inside the label."""
    control_id = control.get_attribute("id")
    control.page.locator(f'label[for="{control_id}"]').click()
    expect(control).to_be_checked()


def choose_file(page: Page, label: str, path) -> None:
    """Choose a file in the USWDS file input named ``label`` and check that the name survives.

    USWDS's script sets aria-label ("Drag file here or choose from folder") on the input, which
    hides the visible label from assistive technology unless the input points at its label."""
    file_input = page.locator("input[type=file]")
    expect(file_input, f"the file input must be named {label!r} by its label, not by USWDS's instructions").to_have_accessible_name(label)
    page.get_by_label(label, exact=True).set_input_files(path)
