"""Journey 4: finance approves a grantee's payment request, marks it paid, downloads the award
ledger and finds the award and the payment in it."""

import io
import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from grants.demo import DEMO_PASSWORD
from tests.e2e.helpers import assert_accessible, flash, nav, sign_in

pytestmark = pytest.mark.e2e

AWARD = "CRPX-2025-A0001"


def test_finance_journey(page):
    sign_in(page, "finance@example.gov", DEMO_PASSWORD)
    nav(page, "Payments")
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment queue")
    assert_accessible(page)

    # The grantee's request for the third quarter waits for approval.
    waiting = page.locator("section", has=page.get_by_role("heading", name=re.compile("Requests waiting for approval")))
    request = waiting.get_by_role("row").filter(has_text="Third quarter: outreach materials")
    expect(request).to_contain_text(AWARD)
    amount = re.search(r"\$[\d,]+\.\d\d", request.inner_text()).group(0)
    request.get_by_label("Comment (optional)").fill("Invoice checked.")
    request.get_by_role("button", name=re.compile("^Approve")).click()
    expect(flash(page, re.compile("approved", re.I))).to_be_visible()
    assert_accessible(page)

    # It moves to "Approved, awaiting payment"; pay it with a check number.
    approved = page.locator("section", has=page.get_by_role("heading", name=re.compile("Approved, awaiting payment")))
    row = approved.get_by_role("row").filter(has_text="Third quarter: outreach materials")
    expect(row).to_contain_text(amount)
    row.get_by_label("Voucher or check number").fill("CHK-E2E-1")
    row.get_by_role("button", name=re.compile("^Mark paid")).click()
    expect(flash(page, re.compile("paid", re.I))).to_be_visible()
    expect(approved.get_by_role("row").filter(has_text="Third quarter: outreach materials")).to_have_count(0)
    assert_accessible(page)

    # The ledger for fiscal year 2025 has the award and the payment.
    nav(page, "Exports")
    expect(page.get_by_role("heading", level=1)).to_have_text("Exports")
    assert_accessible(page)
    page.get_by_label("Fiscal year").fill("2025")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download award ledger").click()
    download = download_info.value
    assert re.match(r"award-ledger-all-programs-fy2025-\d{4}-\d\d-\d\d\.xlsx$", download.suggested_filename)
    book = load_workbook(io.BytesIO(open(download.path(), "rb").read()))
    awards = list(book["Awards"].iter_rows(values_only=True))
    header = awards[0]
    row = dict(zip(header, next(r for r in awards[1:] if r[0] == AWARD), strict=False))
    assert row["Fiscal year"] == 2025 and row["Status"] == "Active"
    payment_rows = list(book["Disbursements"].iter_rows(values_only=True))
    payment_header = payment_rows[0]
    ours = [dict(zip(payment_header, r, strict=False)) for r in payment_rows[1:] if r[0] == AWARD and r[6] == "CHK-E2E-1"]
    assert len(ours) == 1 and ours[0]["Status"] == "Paid"
    assert f"${ours[0]['Amount']:,.2f}" == amount
    paid_total = sum(round(dict(zip(payment_header, r, strict=False))["Amount"] * 100) for r in payment_rows[1:]
                     if r[0] == AWARD and dict(zip(payment_header, r, strict=False))["Status"] == "Paid")
    assert round(row["Disbursed (paid)"] * 100) == paid_total
