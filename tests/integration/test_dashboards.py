"""Dashboards and home pages: the figures agree with the award pages and the ledger, each role sees its
numbers, and only the right roles get in (query counts: test_query_counts.py)."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from grants.applications import services as applications
from grants.awards import figures as award_figures
from grants.awards import services as awards
from grants.awards.models import Award, Disbursement, ProgressReport
from grants.clock import format_instant, to_local
from grants.dashboard import services as dashboard
from grants.db import utcnow
from grants.exports.services import LedgerFilters, award_ledger_workbook
from grants.extensions import db
from grants.money import format_money, parse_money
from grants.reviews import services as reviews
from tests import factories

BUDGET = 100_000_000  # $1,000,000.00


# Reading pages --------------------------------------------------------------------------------


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _plain(cell_html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", cell_html).replace("&ndash;", "–").split())


def table(page: str, table_id: str) -> dict[str, list[str]]:
    """A chart's table as {row header: [cell texts]} (the header row is left out, the footer kept)."""
    found = re.search(rf'<table[^>]*id="{re.escape(table_id)}"[^>]*>(.*?)</table>', page, re.S)
    assert found, f"no table {table_id}"
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S):
        header = re.search(r'<th scope="row"[^>]*>(.*?)</th>', row, re.S)
        if header:
            rows[_plain(header.group(1))] = [_plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return rows


def chart_spec(page: str, chart_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{re.escape(chart_id)}-data">(.*?)</script>', page, re.S)
    assert found, f"no chart {chart_id}"
    return json.loads(found.group(1))


def cents(text: str) -> int:
    return parse_money(text)


def today() -> date:
    return to_local(utcnow()).date()


# The world --------------------------------------------------------------------------------------


@pytest.fixture
def world(app):
    officer = factories.make_user(email="po@state.gov", name="Olive Officer", roles={"program_officer"})
    finance = factories.make_user(email="finance@state.gov", name="Fran Finance", roles={"finance"})
    admin = factories.make_user(email="boss@state.gov", name="Ada Admin", roles={"admin"})
    reviewer = factories.make_user(email="rev@state.gov", name="Rita Reviewer", roles={"reviewer"})
    reviewer2 = factories.make_user(email="rev2@state.gov", name="Ravi Reviewer", roles={"reviewer"})
    cook_member = factories.make_user(email="cook@example.org", name="Cody Cook")
    cook = factories.make_organization(members=[cook_member], legal_name="Cook Responders", county="Cook")
    lake_member = factories.make_user(email="lake@example.org", name="Lee Lake")
    lake = factories.make_organization(members=[lake_member], legal_name="Lake Crisis Team", county="Lake")
    program = factories.make_program(officer=officer, code="CRP", fiscal_year=2027, total_budget_cents=BUDGET)
    other = factories.make_program(officer=officer, code="OTH", fiscal_year=2026, total_budget_cents=50_000_000)
    db.session.commit()
    return {"officer": officer, "finance": finance, "admin": admin, "reviewer": reviewer, "reviewer2": reviewer2,
            "cook_member": cook_member, "cook": cook, "lake_member": lake_member, "lake": lake,
            "program": program, "other": other}


def _award(world, *, program=None, county="cook", amount=5_000_000, start=None, end=None, partners=("library", "transit")):
    start = start or date(2027, 1, 1)
    end = end or start + timedelta(days=364)
    member, organization = world[f"{county}_member"], world[county]
    application = factories.make_eligible_application(program=program or world["program"], organization=organization, actor=member,
                                                      officer=world["officer"], requested_cents=amount, partners=partners)
    reviews.decide(actor=world["officer"], application_id=application.id, outcome="approved", flags_read=True, approved_cents=amount, rationale="Strong")
    award = awards.create_award(actor=world["officer"], application_id=application.id, amount_cents=None, start_date=start,
                                end_date=end, conditions="")
    awards.activate_award(actor=world["officer"], award_id=award.id, signed_on=today())
    db.session.flush()
    return award


def _money_world(world):
    """Awards with paid, pending, amended and terminated amounts, an approval not yet awarded, and other statuses."""
    officer, finance = world["officer"], world["finance"]
    first = _award(world, amount=5_000_000)
    awards.record_payment(actor=finance, award_id=first.id, amount_cents=1_000_000, paid_on=today(), payment_reference="V-1", description="Q1")
    awards.request_payment(actor=world["cook_member"], award_id=first.id, amount_cents=500_000, period_start=None, period_end=None, description="Q2")
    approved = awards.request_payment(actor=world["cook_member"], award_id=first.id, amount_cents=250_000, period_start=None, period_end=None, description="Q2b")
    awards.approve_payment(actor=finance, disbursement_id=approved.id)
    second = _award(world, county="lake", amount=3_000_000, partners=("faith_based",))
    awards.amend_award(actor=officer, award_id=second.id, amount_delta_cents=500_000, new_end_date=None, reason="More outreach")
    third = _award(world, county="lake", amount=4_000_000, partners=("library",))
    awards.record_payment(actor=finance, award_id=third.id, amount_cents=200_000, paid_on=today(), payment_reference="V-2", description="Start")
    awards.terminate_award(actor=officer, award_id=third.id, reason="Program ended")
    waiting = factories.make_eligible_application(program=world["program"], organization=world["cook"], actor=world["cook_member"],
                                                  officer=officer, requested_cents=2_600_000)
    reviews.decide(actor=officer, application_id=waiting.id, outcome="approved", flags_read=True, approved_cents=2_600_000, rationale="Good")
    factories.make_application(program=world["program"], organization=world["lake"], actor=world["lake_member"], complete=False)
    ineligible = factories.make_application(program=world["program"], organization=world["lake"], actor=world["lake_member"])
    applications.submit_application(actor=world["lake_member"], application_id=ineligible.id, certified=True)
    applications.screen_application(actor=officer, application=ineligible, eligible=False, reason="Outside the state")
    # Another program's award must not leak into this program's figures.
    _award(world, program=world["other"], amount=3_000_000)
    db.session.commit()
    return {"first": first, "second": second, "third": third, "waiting": waiting}


# Figures agree ----------------------------------------------------------------------------------


def test_program_dashboard_figures_equal_program_figures_the_finance_summary_and_the_ledger(world, make_client):
    _money_world(world)
    program = world["program"]
    expected = award_figures.program_figures([program.id])[0]
    assert (expected.awarded_cents, expected.paid_cents, expected.pending_cents, expected.approved_not_awarded_cents) == (
        5_000_000 + 3_500_000 + 200_000, 1_200_000, 750_000, 2_600_000)

    officer = make_client(world["officer"])
    page = _text(officer.get(f"/programs/{program.id}/dashboard"))
    budget = {label: cents(cells[0]) for label, cells in table(page, "budget-chart-table").items()}
    assert budget == {
        "Total budget": expected.budget_cents, "Awarded": expected.awarded_cents,
        "Approved, not yet awarded": expected.approved_not_awarded_cents,
        "Disbursed (paid)": expected.paid_cents, "Pending approval or payment": expected.pending_cents,
        "Remaining": expected.remaining_cents,
    }
    # The chart draws the very numbers of the table.
    spec = chart_spec(page, "budget-chart")
    assert spec["datasets"][0]["data"] == list(budget.values())

    # The finance summary shows the same figures for the program.
    summary = _text(make_client(world["finance"]).get("/finance"))
    row = re.search(rf'<tr data-program="{program.id}">(.*?)</tr>', summary, re.S).group(1)
    money = [cents(_plain(c)) for c in re.findall(r'<td class="money">(.*?)</td>', row, re.S)]
    assert money == [budget["Total budget"], budget["Awarded"], budget["Approved, not yet awarded"], budget["Disbursed (paid)"],
                     expected.awaiting_approval_cents, expected.approved_unpaid_cents, budget["Remaining"]]
    assert money[4] + money[5] == budget["Pending approval or payment"]
    requested = db.session.scalar(sa.select(sa.func.sum(Disbursement.amount_cents)).join(Award)
                                  .where(Award.program_id == program.id, Disbursement.status == "requested"))
    assert money[4] == requested

    # The ledger's Current amount and Disbursed columns add up to the same awarded and paid.
    target = io.BytesIO()
    award_ledger_workbook(target, filters=LedgerFilters(program=program), generated_by="test")
    target.seek(0)
    sheet = load_workbook(target, read_only=True)["Awards"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    current = sum(round(r[header.index("Current amount")] * 100) for r in rows[1:])
    disbursed = sum(round(r[header.index("Disbursed (paid)")] * 100) for r in rows[1:])
    assert (current, disbursed) == (budget["Awarded"], budget["Disbursed (paid)"])

    # By county the awarded amounts add up to the program's awarded total too.
    counties = table(page, "county-chart-table")
    assert cents(counties["Total"][3]) == expected.awarded_cents
    assert {name: cents(cells[3]) for name, cells in counties.items()} == {"Cook": 5_000_000, "Lake": 3_700_000, "Total": 8_700_000}


def test_cross_program_dashboard_rows_and_totals_equal_program_figures(world, make_client):
    _money_world(world)
    page = _text(make_client(world["admin"]).get("/dashboard/programs"))
    rows = table(page, "programs-budget-chart-table")
    every = award_figures.program_figures()
    for figures in every:
        cells = rows[f"{figures.name} (FY {figures.fiscal_year})"]
        assert [cents(c) for c in cells] == [figures.budget_cents, figures.awarded_cents, figures.approved_not_awarded_cents,
                                             figures.paid_cents, figures.pending_cents, figures.remaining_cents]
    assert cents(rows["Total"][1]) == sum(f.awarded_cents for f in every)
    totals = {label: cents(cells[0]) for label, cells in table(page, "budget-chart-table").items()}
    assert totals["Disbursed (paid)"] == sum(f.paid_cents for f in every) == 1_200_000
    # Each program's row links to its own dashboard; a fiscal year narrows the page to its programs.
    assert f'href="/programs/{world["program"].id}/dashboard"' in page
    narrowed = _text(make_client(world["admin"]).get("/dashboard/programs?fiscal_year=2026"))
    assert list(table(narrowed, "programs-budget-chart-table")) == [f"{world['other'].name} (FY 2026)", "Total"]
    assert _text(make_client(world["admin"]).get("/dashboard/programs?fiscal_year=junk"))


def test_on_demo_data_every_program_dashboard_agrees_with_program_figures_and_the_ledger(make_client):
    from grants.demo import DEMO_PASSWORD, load
    from grants.programs.models import Program
    from tests.conftest import login

    load(seed=2026)
    db.session.commit()
    officer = make_client(None)
    login(officer, "officer@example.gov", DEMO_PASSWORD)
    for program in db.session.scalars(sa.select(Program).order_by(Program.id)):
        expected = award_figures.program_figures([program.id])[0]
        page = _text(officer.get(f"/programs/{program.id}/dashboard"))
        budget = {label: cents(cells[0]) for label, cells in table(page, "budget-chart-table").items()}
        assert (budget["Awarded"], budget["Disbursed (paid)"], budget["Remaining"]) == (
            expected.awarded_cents, expected.paid_cents, expected.remaining_cents), program.name
        target = io.BytesIO()
        counts = award_ledger_workbook(target, filters=LedgerFilters(program=program), generated_by="test")
        assert (counts.totals["current"], counts.totals["paid"]) == (budget["Awarded"], budget["Disbursed (paid)"]), program.name
        # Every awarded application has its award counted under a county.
        counties = table(page, "county-chart-table")
        awards_by_county = int(counties["Total"][2]) if "Total" in counties else 0
        assert int(table(page, "pipeline-chart-table")["Awarded"][0]) == awards_by_county == counts.awards, program.name
    # The demo's awarded round has money on it, so the comparison above is not between zeros.
    assert any(f.awarded_cents and f.paid_cents for f in award_figures.program_figures())


def _set_review_deadline(world, program, when) -> None:
    from grants.programs import services as programs

    fields = {field: getattr(program, field) for field in programs.PROGRAM_FIELDS}
    programs.update_program(actor=world["officer"], program=program, fields={**fields, "review_deadline": when})


def test_program_dashboard_sections(world, make_client):
    officer, program = world["officer"], world["program"]
    _money_world(world)
    # Reviews: one submitted, one in progress, one not started, one recused, under a deadline that has passed.
    _set_review_deadline(world, program, utcnow() - timedelta(days=2))
    under_review = [factories.make_eligible_application(program=program, organization=world["cook"], actor=world["cook_member"], officer=officer)
                    for _ in range(2)]
    factories.review(officer=officer, application=under_review[0], reviewer=world["reviewer"], points=[8, 15, 25])
    started = factories.review(officer=officer, application=under_review[1], reviewer=world["reviewer"], points=None)
    reviews.save_review(actor=world["reviewer"], assignment=started, points={}, comments={}, overall_comment="", recommendation=None)
    factories.review(officer=officer, application=under_review[0], reviewer=world["reviewer2"], points=None, conflicted=True)
    reviews.assign_reviewer(actor=officer, application=under_review[1], reviewer=world["reviewer2"])
    # Reports: awards that started 200 and 100 days ago have reports overdue and due soon.
    for county, days in (("cook", 200), ("lake", 100)):
        _award(world, county=county, start=today() - timedelta(days=days), end=today() + timedelta(days=400))
    db.session.commit()
    open_reports = db.session.scalars(
        sa.select(ProgressReport).join(Award).where(Award.program_id == program.id, Award.status.in_(("active", "pending_agreement")),
                                                    ProgressReport.status.in_(("due", "revision_requested")))).all()
    overdue = sum(r.due_on < today() for r in open_reports)
    week = sum(today() <= r.due_on <= today() + timedelta(days=7) for r in open_reports)
    later = sum(today() + timedelta(days=7) < r.due_on <= today() + timedelta(days=30) for r in open_reports)
    assert overdue >= 1 and week + later >= 1

    page = _text(make_client(officer).get(f"/programs/{program.id}/dashboard"))
    pipeline = {k: v[0] for k, v in table(page, "pipeline-chart-table").items()}
    assert pipeline == {
        "Draft": "1", "Submitted": "0", "Ineligible": "1", "Under review": "2", "Approved": "1", "Declined": "0",
        "Waitlisted": "0", "Awarded": "5", "Withdrawn": "0", "Total": "10"}
    assert list(pipeline)[:9] == ["Draft", "Submitted", "Ineligible", "Under review", "Approved", "Declined", "Waitlisted", "Awarded", "Withdrawn"]

    types = table(page, "partner-type-chart-table")
    # Library and transit: the first award, the terminated one (library only), the approval, the ineligible
    # application, the two under review and the two new awards; drafts never count.
    assert types["Public library"] == ["8", "$366,000.00", "4", "$152,000.00"]
    assert types["Transit system"] == ["7", "$326,000.00", "3", "$150,000.00"]
    assert types["Faith-based organization"] == ["1", "$30,000.00", "1", "$35,000.00"]
    assert types["Business improvement district"] == ["0", "$0.00", "0", "$0.00"]

    assert re.search(r"<strong>1 of 3</strong> assigned reviews submitted", page)
    progress = {k: v[0] for k, v in table(page, "review-chart-table").items()}
    assert progress == {"Submitted": "1", "In progress": "1", "Not started": "1", "Recused": "1"}
    reviewers = re.search(r"<table[^>]*data-overdue-reviewers[^>]*>(.*?)</table>", page, re.S).group(1)
    assert "Rita Reviewer" in reviewers and "Ravi Reviewer" in reviewers
    assert "Reviewers past the review deadline (2)" in page

    due = {k: int(v[0]) for k, v in table(page, "reports-chart-table").items()}
    assert due == {"Overdue": overdue, "Due in the next 7 days": week, "Due in 8 to 30 days": later}
    # The program's own progress-reports page lists as many overdue reports.
    reports_page = _text(make_client(officer).get(f"/programs/{program.id}/reports"))
    assert f"<h2>Overdue ({overdue})</h2>" in reports_page


def test_charts_are_drawn_from_json_blocks_with_accessible_tables_and_no_inline_script(world, make_client):
    _money_world(world)
    page = _text(make_client(world["officer"]).get(f"/programs/{world['program'].id}/dashboard"))
    canvases = re.findall(r"<canvas([^>]*)>", page)
    assert len(canvases) == 6
    for attributes in canvases:
        assert 'role="img"' in attributes and 'aria-label="' in attributes
        source = re.search(r'data-chart="([^"]+)"', attributes).group(1)
        spec = chart_spec(page, source.removesuffix("-data"))
        assert spec["title"] and spec["category_title"] and spec["value_title"]
        assert f'id="{spec["id"]}-table"' in page
    # The Content-Security-Policy allows no inline script: every script is a file or a JSON data block.
    for attributes, _body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
        assert 'src="/static/' in attributes or 'type="application/json"' in attributes, attributes
    assert "/static/vendor/chartjs/chart.umd.js" in page and "/static/js/charts.js" in page
    assert re.findall(r"<caption>", page) and 'scope="col"' in page and 'scope="row"' in page
    assert "default-src 'self'" in make_client(world["officer"]).get("/dashboard/programs").headers["Content-Security-Policy"]


# Each role's home -------------------------------------------------------------------------------


def test_finance_home_shows_waiting_payments_payments_made_budgets_and_awards_needing_attention(world, make_client):
    money = _money_world(world)
    finance = world["finance"]
    fy_start = dashboard.fiscal_year_start(today())
    # A payment on the first day of the fiscal year counts this year; one the day before does not.
    early = _award(world, program=world["other"], county="lake", amount=3_000_000, start=fy_start - timedelta(days=30))
    awards.record_payment(actor=finance, award_id=early.id, amount_cents=2_900_000 - 100_000, paid_on=fy_start - timedelta(days=1),
                          payment_reference="V-OLD", description="Last year")
    awards.record_payment(actor=finance, award_id=early.id, amount_cents=100_000, paid_on=fy_start, payment_reference="V-FY", description="This year")
    # Ending soon: an award whose period ends in 30 days.
    ending = _award(world, county="cook", amount=2_600_000, start=today() - timedelta(days=300), end=today() + timedelta(days=30))
    db.session.commit()

    page = _text(make_client(finance).get("/home"))
    assert "What needs your attention" in page
    requested = re.search(r'data-figure="requested">(.*?)</li>', page, re.S).group(1)
    assert ">1</span>" in requested and "$5,000.00" in requested
    approved = re.search(r'data-figure="approved">(.*?)</li>', page, re.S).group(1)
    assert ">1</span>" in approved and "$2,500.00" in approved
    paid_this_month = 1_000_000 + 200_000 + (100_000 if fy_start.month == today().month and fy_start.year == today().year else 0)
    month = re.search(r'data-figure="paid-month">(.*?)</li>', page, re.S).group(1)
    assert f">{format_money(paid_this_month)}</span>" in month
    year = re.search(r'data-figure="paid-year">(.*?)</li>', page, re.S).group(1)
    assert f">{format_money(1_300_000)}</span>" in year and f"fiscal year {dashboard.fiscal_year_of(today())}" in year
    assert dashboard.fiscal_year_start(date(2027, 6, 30)) == date(2026, 7, 1) and dashboard.fiscal_year_of(date(2026, 7, 1)) == 2027

    attention = re.search(r"<table[^>]*data-attention[^>]*>(.*?)</table>", page, re.S).group(1)
    listed = re.findall(r"/awards/(\d+)\"", attention)
    # The early award has 0% left; the ending award ends within 60 days; the first award has 65% left and runs long.
    assert str(early.id) in listed and str(ending.id) in listed and str(money["first"].id) not in listed
    assert str(money["third"].id) not in listed  # terminated awards need no attention
    budget = table(page, "finance-programs-chart-table")
    for figures in award_figures.program_figures():
        assert cents(budget[f"{figures.name} (FY {figures.fiscal_year})"][5]) == figures.remaining_cents
    # The same section is a page of its own, for admins too.
    assert "Awards with little left or ending soon (2)" in _text(make_client(world["admin"]).get("/dashboard/finance"))


def test_reviewer_home_counts_assignments_with_deadlines(world, make_client):
    officer, program = world["officer"], world["program"]
    _set_review_deadline(world, program, utcnow() + timedelta(days=10))
    apps = [factories.make_eligible_application(program=program, organization=world["cook"], actor=world["cook_member"], officer=officer)
            for _ in range(4)]
    factories.review(officer=officer, application=apps[0], reviewer=world["reviewer"], points=[8, 15, 25])
    started = factories.review(officer=officer, application=apps[1], reviewer=world["reviewer"], points=None)
    reviews.save_review(actor=world["reviewer"], assignment=started, points={}, comments={}, overall_comment="", recommendation=None)
    reviews.assign_reviewer(actor=officer, application=apps[2], reviewer=world["reviewer"])
    factories.review(officer=officer, application=apps[3], reviewer=world["reviewer"], points=None, conflicted=True)
    db.session.commit()

    page = _text(make_client(world["reviewer"]).get("/home"))
    rows = table(page, "my-reviews-chart-table")
    assert rows[program.name][1:] == ["1", "1", "2"]  # to do, in progress, done (submitted + recused)
    assert rows[program.name][0] == format_instant(program.review_deadline)
    assert apps[2].reference in page and "Declare any conflict of interest" in page and "Finish and submit" in page
    assert apps[0].reference not in page.split("Still to submit")[1]


def test_applicant_home_shows_each_organizations_next_steps(world, make_client):
    money = _money_world(world)
    member = world["cook_member"]
    page = _text(make_client(member).get("/home"))
    glance = re.search(r'id="glance-heading".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    cook_row = [_plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", re.search(r"Cook Responders</th>(.*?)</tr>", glance, re.S).group(1), re.S)]
    # drafts, waiting for a decision, approved, open awards, payments pending, reports overdue, due in 30 days
    assert cook_row[:5] == ["0", "0", "1", "2", "2"]  # the other program's award is Cook's too
    awards_section = page.split('id="awards-heading"')[1]
    assert money["first"].award_number in awards_section and "$32,500.00" in awards_section  # 50,000 − 10,000 paid − 7,500 pending
    spec = chart_spec(page, "my-awards-chart")
    first = spec["labels"].index(money["first"].award_number)
    assert [series["data"][first] for series in spec["datasets"]] == [1_000_000, 750_000, 3_250_000]
    payments = page.split('id="payments-heading"')[1]
    assert "waiting for finance to approve" in payments and "approved, payment on its way" in payments and "Paid on" in payments
    # Each application's next step, with the deadline for a draft.
    draft = factories.make_application(program=world["program"], organization=world["cook"], actor=member, complete=False)
    db.session.commit()
    page = _text(make_client(member).get("/home"))
    row = re.search(rf"{draft.reference}</a></th>(.*?)</tr>", page, re.S).group(1)
    assert "Finish and submit before" in row and format_instant(world["program"].closes_at, "%B %-d, %Y") in row
    assert "Nothing for now: approved" in page
    # Another organization's member sees none of it.
    assert money["first"].award_number not in _text(make_client(world["lake_member"]).get("/home"))


def test_program_officer_home_shows_the_pipeline_and_links_the_dashboard(world, make_client):
    _money_world(world)
    page = _text(make_client(world["officer"]).get("/home"))
    pipeline = {k: v[0] for k, v in table(page, "home-pipeline-chart-table").items()}
    assert (pipeline["Awarded"], pipeline["Approved"], pipeline["Draft"], pipeline["Ineligible"], pipeline["Total"]) == ("4", "1", "1", "1", "7")
    assert 'href="/dashboard/programs"' in page
    nav = re.search(r'<nav aria-label="Primary navigation".*?</nav>', page, re.S).group(0)
    assert ">Dashboard</span>" in nav
    assert ">Dashboard</span>" not in _text(make_client(world["cook_member"]).get("/home"))
    detail = _text(make_client(world["officer"]).get(f"/programs/{world['program'].id}"))
    assert f'href="/programs/{world["program"].id}/dashboard"' in detail


def test_calibration_chart_on_the_review_page_keeps_the_table(world, make_client):
    officer, program = world["officer"], world["program"]
    apps = [factories.make_eligible_application(program=program, organization=world["cook"], actor=world["cook_member"], officer=officer)
            for _ in range(2)]
    for application, (first, second) in zip(apps, (([10, 20, 30], [5, 10, 15]), ([8, 16, 24], [2, 4, 6])), strict=False):
        factories.review(officer=officer, application=application, reviewer=world["reviewer"], points=first)
        factories.review(officer=officer, application=application, reviewer=world["reviewer2"], points=second)
    db.session.commit()
    per_reviewer, overall = reviews.calibration(program)
    page = _text(make_client(officer).get(f"/programs/{program.id}/reviews"))
    spec = chart_spec(page, "calibration-chart")
    assert spec["labels"] == [c.name for c in per_reviewer] + ["Program (all reviewers)"]
    kinds = {d["kind"]: d["data"] for d in spec["datasets"]}
    assert kinds["point"] == [round(c.mean, 2) for c in [*per_reviewer, overall]]
    assert kinds["range"][0] == [round(per_reviewer[0].mean - per_reviewer[0].stdev, 2), round(per_reviewer[0].mean + per_reviewer[0].stdev, 2)]
    assert kinds["reference"] == [round(overall.mean, 2)] * 3
    assert "Standard deviation</th>" in page and f"{overall.mean:.1f}" in page  # the table stays
    # Without submitted reviews there is no chart, only the (empty) table.
    bare = _text(make_client(officer).get(f"/programs/{world['other'].id}/reviews"))
    assert "calibration-chart" not in bare and "Standard deviation</th>" in bare


# Who may see what -------------------------------------------------------------------------------


def test_only_program_staff_see_program_dashboards_and_only_finance_and_admins_the_finance_page(world, make_client):
    program_url = f"/programs/{world['program'].id}/dashboard"
    for role in ("cook_member", "reviewer", "finance"):
        browser = make_client(world[role])
        assert browser.get(program_url).status_code == 403, role
        assert browser.get("/dashboard/programs").status_code == 403, role
    for role in ("cook_member", "reviewer", "officer"):
        assert make_client(world[role]).get("/dashboard/finance").status_code == 403, role
    for role in ("officer", "admin"):
        browser = make_client(world[role])
        assert browser.get(program_url).status_code == 200
        assert browser.get("/dashboard/programs").status_code == 200
        assert browser.get("/programs/999999/dashboard").status_code == 404
    assert make_client(world["finance"]).get("/dashboard/finance").status_code == 200
    anonymous = make_client(None).get(program_url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
