"""The workbooks finance and program staff download: exact, typed, and safe from formulas."""

import io
import shutil
import subprocess
import tempfile
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from grants.accounts.models import Organization
from grants.awards import services as awards
from grants.awards.models import Award, Disbursement
from grants.clock import agency_today
from grants.extensions import db
from tests import factories

HOSTILE = '=HYPERLINK("http://example.com","x")'


@pytest.fixture
def ledger(app):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    program = factories.make_program(officer=officer, code="CRP", fiscal_year=2027, total_budget_cents=500_000_000)
    other = factories.make_program(officer=officer, code="OLD", fiscal_year=2026, total_budget_cents=500_000_000)
    made = []
    for index, (name, county, prog) in enumerate([
        (HOSTILE, "Cook", program), ("+1 Crisis Co", "Lake", program), ("@Risk Response", "Cook", program),
        ("Plain Responders", "Champaign", other),
    ]):
        member = factories.make_user()
        organization = factories.make_organization(members=[member], legal_name=name, county=county)
        award = factories.make_award(officer=officer, program=prog, member=member, organization=organization,
                                     amount_cents=3_000_000 + index * 123_457)
        awards.record_payment(actor=finance, award_id=award.id, amount_cents=1_000_001 + index, paid_on=date(2026, 2, 1 + index),
                              payment_reference=f"-V{index}", description="\tTabbed description")
        request = awards.request_payment(actor=member, award_id=award.id, amount_cents=50_000, period_start=None, period_end=None, description="=1+1")
        if index == 0:
            awards.approve_payment(actor=finance, disbursement_id=request.id)
            awards.mark_paid(actor=finance, disbursement_id=request.id, paid_on=agency_today(), payment_reference="CHK-77")
            awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=-10_000, new_end_date=None, reason="\rTrim")
        made.append(award)
    db.session.commit()
    return {"program": program, "other": other, "awards": made, "finance": finance, "officer": officer}


def _book(data: bytes):
    return load_workbook(io.BytesIO(data))


def _rows(sheet):
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=False)) for row in rows]


def test_finance_downloads_the_ledger_for_one_fiscal_year(ledger, make_client):
    browser = make_client(ledger["finance"])
    response = browser.get("/exports/award-ledger.xlsx?fiscal_year=2027")
    assert response.status_code == 200
    assert "award-ledger-all-programs-fy2027-" in response.headers["Content-Disposition"]
    book = _book(response.data)
    assert book.sheetnames == ["Awards", "Disbursements", "Amendments", "Summary", "About"]
    rows = _rows(book["Awards"])
    assert len(rows) == 3 and all(r["Fiscal year"] == 2027 for r in rows)
    sheet = book["Awards"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:U4"


def test_user_text_that_looks_like_a_formula_stays_text(ledger, make_client):
    book = _book(make_client(ledger["finance"]).get("/exports/award-ledger.xlsx").data)
    awards_sheet = book["Awards"]
    cells = {cell.value: cell for row in awards_sheet.iter_rows() for cell in row if isinstance(cell.value, str)}
    for text in (HOSTILE, "+1 Crisis Co", "@Risk Response"):
        assert cells[text].data_type == "s", text
    payments = {cell.value: cell for row in book["Disbursements"].iter_rows() for cell in row if isinstance(cell.value, str)}
    for text in ("=1+1", "-V0"):
        assert payments[text].data_type == "s", repr(text)


def test_amounts_reconcile_to_the_cent(ledger, make_client):
    book = _book(make_client(ledger["finance"]).get("/exports/award-ledger.xlsx").data)
    rows = _rows(book["Awards"])
    payments = _rows(book["Disbursements"])
    cents = lambda value: round(value * 100)  # noqa: E731
    for row in rows:
        paid_rows = [p for p in payments if p["Award number"] == row["Award number"] and p["Status"] == "Paid"]
        assert cents(row["Disbursed (paid)"]) == sum(cents(p["Amount"]) for p in paid_rows)
        assert cents(row["Remaining"]) == cents(row["Current amount"]) - cents(row["Disbursed (paid)"]) - cents(row["Pending (requested or approved)"])
        assert cents(row["Net amendments"]) == cents(row["Current amount"]) - cents(row["Original amount"])
    database_total = db.session.scalar(sa.select(sa.func.sum(Award.amount_cents)))
    database_paid = db.session.scalar(sa.select(sa.func.sum(Disbursement.amount_cents)).where(Disbursement.status == "paid"))
    assert sum(cents(r["Current amount"]) for r in rows) == database_total
    assert sum(cents(r["Disbursed (paid)"]) for r in rows) == database_paid
    first = next(r for r in rows if r["Recipient"] == HOSTILE)
    assert isinstance(first["Period start"], type(first["Award date"])) and first["Last payment date"].date() == agency_today()


def test_summary_is_formulas_over_the_awards_sheet_with_a_chart(ledger, make_client):
    data = make_client(ledger["finance"]).get("/exports/award-ledger.xlsx").data
    book = _book(data)
    formulas = [c.value for row in book["Summary"].iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert any(f.startswith("=SUMIFS(Awards!$Q$2:$Q$5,Awards!$B$2:$B$5") for f in formulas)
    assert any('"*"&' in f for f in formulas)  # partner types match within the list
    assert b"xl/charts/chart1.xml" in data


def _recalculated_summary(workbook: bytes, tmp_path) -> list[list[str]]:
    """The Summary sheet as LibreOffice computes it (skipped without LibreOffice, except in CI)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        import os

        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("LibreOffice (soffice) is required in CI to recalculate the Summary sheet")
        pytest.skip("LibreOffice not installed: apt-get install libreoffice-calc-nogui")
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(workbook)
    sheet_index = 4  # Summary
    subprocess.run([soffice, "--headless", "--convert-to", f"csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,{sheet_index}",
                    "--outdir", str(tmp_path), str(path)], check=True, capture_output=True, timeout=180,
                   env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    csv_files = list(tmp_path.glob("*.csv"))
    assert csv_files, "LibreOffice wrote no CSV"
    import csv

    return list(csv.reader(csv_files[0].open(encoding="utf-8")))


def _dollars(text: str) -> int:
    return round(float(text.replace("$", "").replace(",", "")) * 100)


def test_summary_totals_equal_the_database_when_a_spreadsheet_recalculates(ledger, make_client, tmp_path):
    rows = _recalculated_summary(make_client(ledger["finance"]).get("/exports/award-ledger.xlsx").data, tmp_path)
    total = next(r for r in rows if r and r[0] == "Total")
    assert _dollars(total[2]) == db.session.scalar(sa.select(sa.func.sum(Award.amount_cents)))
    by_program = {r[0]: r for r in rows if r and r[0] in (ledger["program"].name, ledger["other"].name)}
    program_total = db.session.scalar(sa.select(sa.func.sum(Award.amount_cents)).where(Award.program_id == ledger["program"].id))
    assert _dollars(by_program[ledger["program"].name][2]) == program_total


def test_summary_matches_names_with_wildcard_characters_exactly(app, make_client, tmp_path):
    # Unescaped, "Crisis* Teams" would also count "Crisis Response Teams", "Lake?" would count
    # "Lakes", and "North~South" would count nothing; the long name exceeds Excel's criterion limit.
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    long_name = "Teams " + "*" * 130
    cases = [("Crisis* Teams", "Lake?", 3_000_000), ("Crisis Response Teams", "Lakes", 4_000_000),
             ("North~South", "Will~", 5_000_000), ("NorthSouth", "Will", 6_000_000), (long_name, "Cook*", 7_000_000),
             ("Teams ?", "Cook", 8_000_000)]
    for name, county, amount in cases:
        program = factories.make_program(officer=officer, name=name, total_budget_cents=500_000_000)
        member = factories.make_user()
        organization = factories.make_organization(members=[member], county=county)
        factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=amount)
    db.session.commit()
    data = make_client(finance).get("/exports/award-ledger.xlsx").data
    formulas = [c.value for row in _book(data)["Summary"].iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert any('SUBSTITUTE(SUBSTITUTE(SUBSTITUTE($A' in f for f in formulas)
    rows = _recalculated_summary(data, tmp_path)
    programs = {r[0]: r for r in rows[:rows.index(next(r for r in rows if r and r[0].startswith("By fiscal year")))]}
    counties = {r[0]: r for r in rows[rows.index(next(r for r in rows if r and r[0].startswith("By county"))):]}
    for name, county, amount in cases:
        assert (programs[name][1], _dollars(programs[name][2])) == ("1", amount), name
        assert (counties[county][1], _dollars(counties[county][2])) == ("1", amount), county


def test_ledger_filters_by_program_and_status(ledger, make_client):
    browser = make_client(ledger["finance"])
    book = _book(browser.get(f"/exports/award-ledger.xlsx?program={ledger['other'].slug}").data)
    assert [r["Recipient"] for r in _rows(book["Awards"])] == ["Plain Responders"]
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["Filter: Program"] == ledger["other"].name and about["Rows: Awards"] == 1
    assert (about["Rows: Disbursements"], about["Rows: Amendments"]) == (2, 0)  # numbers, not text
    assert browser.get("/exports/award-ledger.xlsx?fiscal_year=abc").status_code == 400


def test_applications_and_scores_workbook(ledger, make_client):
    program = ledger["program"]
    book = _book(make_client(ledger["officer"]).get(f"/exports/programs/{program.id}/applications-and-scores.xlsx").data)
    assert book.sheetnames == ["Applications", "Criterion averages", "Reviewer calibration", "About"]
    rows = _rows(book["Applications"])
    assert {r["Organization"] for r in rows} == {HOSTILE, "+1 Crisis Co", "@Risk Response"}
    assert all(r["Decision"] == "Awarded" for r in rows)


def test_360giving_layout_and_identifiers(ledger, make_client, app):
    book = _book(make_client(ledger["finance"]).get("/exports/360giving.xlsx").data)
    rows = _rows(book["grants"])
    assert len(rows) == 4
    first = rows[0]
    prefix = app.config["ORG_ID_PREFIX"]
    assert first["Identifier"].startswith(f"{prefix}-") and first["Currency"] == "USD"
    assert first["Recipient Org:Identifier"].startswith("US-EIN-") and first["Funding Org:Identifier"] == prefix
    for column in ("Amount Applied For", "Amount Awarded", "Amount Disbursed", "Award Date", "Planned Dates:Start Date",
                   "Planned Dates:End Date", "Recipient Org:Name", "Beneficiary Location:Name", "Grant Programme:Code", "Grant Programme:Title"):
        assert column in first


def test_exports_are_for_finance_and_program_staff(ledger, make_client):
    applicant = factories.make_user(roles={"applicant"})
    reviewer = factories.make_user(roles={"reviewer"})
    db.session.commit()
    for user in (applicant, reviewer):
        browser = make_client(user)
        for url in ("/exports", "/exports/award-ledger.xlsx", "/exports/360giving.xlsx", f"/exports/programs/{ledger['program'].id}/applications-and-scores.xlsx"):
            assert browser.get(url).status_code == 403, (user.email, url)
    assert make_client(ledger["finance"]).get(f"/exports/programs/{ledger['program'].id}/applications-and-scores.xlsx").status_code == 403


def test_cli_exports_write_files_with_progress(ledger, app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["grants", "export-ledger", str(tmp_path / "l.xlsx"), "--fiscal-year", "2027"])
    assert result.exit_code == 0, result.output
    assert "3 awards" in result.output
    assert len(_rows(load_workbook(tmp_path / "l.xlsx")["Awards"])) == 3
    result = runner.invoke(args=["grants", "export-360giving", str(tmp_path / "g.xlsx"), "--program", ledger["program"].slug])
    assert result.exit_code == 0 and "3 grants" in result.output
    bad = runner.invoke(args=["grants", "export-ledger", str(tmp_path / "x.xlsx"), "--program", "nope"])
    assert bad.exit_code != 0 and "No program" in bad.output


def test_control_characters_in_user_text_do_not_break_any_export(app, make_client):
    """XML 1.0 forbids most control characters: they are taken out of the cell, and every export opens."""
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    member = factories.make_user(email="lee@example.org")
    program = factories.make_program(officer=officer, code="CTL", fiscal_year=2027, total_budget_cents=500_000_000)
    db.session.commit()
    # The forms take control characters out of what is typed; text stored before that, or by
    # another path, may still hold them, so they are put back in the rows here.
    response = make_client(member).post_form("/organizations/new", {
        "legal_name": "Lakeside\x0bCrisis Response", "ein": "12-3456789", "uei": "", "org_type": "nonprofit",
        "county": "Lake\x1b", "address_line1": "9 Shore Rd", "address_line2": "", "city": "Waukegan", "state": "IL",
        "postal_code": "60085", "contact_name": "Lee", "contact_email": "lee@example.org", "contact_phone": "",
    })
    assert response.status_code == 302
    organization = db.session.scalar(sa.select(Organization).where(Organization.ein == "12-3456789"))
    assert organization.legal_name == "LakesideCrisis Response"
    organization.legal_name, organization.county = "Lakeside\x0bCrisis Response", "Lake\x1b"
    award = factories.make_award(officer=officer, program=program, member=member, organization=organization, amount_cents=3_000_000)
    db.session.commit()
    finance_browser = make_client(finance)
    response = finance_browser.post_form(f"/awards/{award.id}/payments/record", {
        "amount": "1,000", "paid_on": "2026-08-01", "payment_reference": "V\x1b1", "description": "=cmd\x1b|' /C calc'!A0\x0cnow"})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(Disbursement.payment_reference)) == "V1"
    db.session.execute(sa.update(Disbursement).values(payment_reference="V\x1b1", description="=cmd\x1b|' /C calc'!A0\x0cnow"))
    db.session.commit()

    ledger = _book(finance_browser.get("/exports/award-ledger.xlsx").data)
    row = _rows(ledger["Awards"])[0]
    assert (row["Recipient"], row["County"]) == ("Lakeside Crisis Response", "Lake")
    payment = _rows(ledger["Disbursements"])[0]
    assert payment["Payment reference"] == "V1"
    description = next(c for r in ledger["Disbursements"].iter_rows(min_row=2) for c in r if c.column_letter == "H")
    assert description.value == "=cmd|' /C calc'!A0 now" and description.data_type == "s"  # still text, never a formula
    summary = [r for r in ledger["Summary"].iter_rows(values_only=True) if r[0] == "Lake"]
    assert summary, "the county label is written without its control character"

    giving = _book(finance_browser.get("/exports/360giving.xlsx").data)
    assert _rows(giving["grants"])[0]["Recipient Org:Name"] == "Lakeside Crisis Response"

    scores = _book(make_client(officer).get(f"/exports/programs/{program.id}/applications-and-scores.xlsx").data)
    assert [r["Organization"] for r in _rows(scores["Applications"])] == ["Lakeside Crisis Response"]


def test_a_failed_export_leaves_no_temporary_file(ledger, make_client, monkeypatch, tmp_path):
    from grants.exports import services as export_services

    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))

    def broken(path, **_kwargs):
        with open(path, "wb") as handle:
            handle.write(b"half a workbook")
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_services, "award_ledger_workbook", broken)
    with pytest.raises(RuntimeError):
        make_client(ledger["finance"]).get("/exports/award-ledger.xlsx")
    assert list(spool.iterdir()) == []


@pytest.mark.parametrize("url", ["/exports/360giving.xlsx?program=nope", "/exports/award-ledger.xlsx?program=nope"])
def test_an_unknown_program_is_an_error_on_the_exports_page_not_every_program(ledger, make_client, url):
    response = make_client(ledger["finance"]).get(url)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "There is no program with that name; choose one from the list." in page
    assert page.count("usa-alert--error") == 1  # in the section of the download that failed


def test_applications_and_scores_has_every_application_but_drafts(app, make_client):
    from grants.applications import services as applications

    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    reviewer = factories.make_user(email="rev@state.gov", roles={"reviewer"})
    program = factories.make_program(officer=officer, code="ALL", criteria=2)

    def application(name, *, submit=True):
        member = factories.make_user()
        organization = factories.make_organization(members=[member], legal_name=name)
        made = factories.make_application(program=program, organization=organization, actor=member)
        if submit:
            applications.submit_application(actor=member, application_id=made.id, certified=True)
        return made, member

    ranked, _ = application("Ranked Responders")
    applications.screen_application(actor=officer, application=ranked, eligible=True, reason=None)
    factories.review(officer=officer, application=ranked, reviewer=reviewer, points=[10, 20])
    application("Waiting Responders")  # submitted, not yet screened
    ineligible, _ = application("Ineligible Responders")
    applications.screen_application(actor=officer, application=ineligible, eligible=False, reason="No partner letters")
    withdrawn, member = application("Withdrawn Responders")
    applications.screen_application(actor=officer, application=withdrawn, eligible=True, reason=None)
    factories.review(officer=officer, application=withdrawn, reviewer=reviewer, points=[5, 10])
    applications.withdraw_application(actor=member, application=withdrawn, reason="Merged with a neighbour")
    application("Draft Responders", submit=False)
    db.session.commit()

    book = _book(make_client(officer).get(f"/exports/programs/{program.id}/applications-and-scores.xlsx").data)
    rows = {r["Organization"]: r for r in _rows(book["Applications"])}
    # The ranking first, then the applications outside it by reference; never the draft.
    assert list(rows)[0] == "Ranked Responders" and "Draft Responders" not in rows
    others = [r["Reference"] for r in list(rows.values())[1:]]
    assert others == sorted(others)
    assert {name: r["Status"] for name, r in rows.items()} == {
        "Ranked Responders": "Under review", "Waiting Responders": "Submitted", "Ineligible Responders": "Ineligible",
        "Withdrawn Responders": "Withdrawn"}
    assert (rows["Ranked Responders"]["Reviews submitted"], rows["Ranked Responders"]["Raw mean"]) == (1, 100)
    for name in ("Waiting Responders", "Ineligible Responders"):
        assert rows[name]["Reviews submitted"] == 0
        assert (rows[name]["Raw mean"], rows[name]["Normalized mean"], rows[name]["Standard deviation"], rows[name]["Decision"]) == (None,) * 4
        assert rows[name]["Partner types"] == "Public library, Transit system"
    # Withdrawn after a review: its raw figures stay, the ranking's normalization does not apply.
    assert (rows["Withdrawn Responders"]["Reviews submitted"], rows["Withdrawn Responders"]["Raw mean"]) == (1, 50)
    assert rows["Withdrawn Responders"]["Normalized mean"] is None
    averages = {r["Reference"]: r for r in _rows(book["Criterion averages"])}
    assert set(averages) == {r["Reference"] for r in rows.values()}
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["Rows: Applications"] == 4
    assert "except drafts" in about["Applications included"]


def test_ledger_progress_counts_every_row_written(ledger, tmp_path):
    from grants.exports.services import LedgerFilters, award_ledger_workbook, count_ledger_rows

    for filters in (LedgerFilters(), LedgerFilters(program=ledger["program"])):
        steps = []
        counts = award_ledger_workbook(tmp_path / "l.xlsx", filters=filters, generated_by="test", progress=steps.append)
        assert counts.disbursements > counts.awards and counts.amendments == 1
        # The bar ends when the last disbursement and amendment are written, not after the awards.
        assert sum(steps) == counts.awards + counts.disbursements + counts.amendments == count_ledger_rows(filters)
