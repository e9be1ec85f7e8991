"""Every page and workbook shows the same money figures and review statistics for one data set, and
they are the figures computed by hand below (issue 14: one query function per figure).

Program CRP, budget $1,000,000.00; every award to Cook Responders:
- PENDING: $20,000 pending agreement, nothing paid: paid 0, pending 0, remaining $20,000;
- ACTIVE: $50,000 amended +$5,000 = $55,000; $10,000 paid, $5,000 requested, $2,500 approved, $3,000
  requested then voided, $1,000 paid then voided: paid $10,000, pending $7,500, remaining $37,500;
- TERMINATED: $40,000, $2,000 paid, $1,000 requested (voided by the termination), amount cut to what
  was paid: paid $2,000, pending 0, remaining 0;
- CLOSED: $30,000, $24,000 paid, closed out (amount cut to $24,000): paid $24,000, pending 0, remaining 0;
- an application approved for $15,000 and not yet awarded.
Program: awarded 20,000 + 55,000 + 2,000 + 24,000 = $101,000; approved not awarded $15,000; committed
$116,000; remaining $884,000; paid $36,000; pending $7,500.

Reviews (rubric C1 max 10 weight 1, C2 max 20 weight 3: total = 2.5·p1 + 3.75·p2):
- A: R1 80, R2 90, R3 70: mean 80, median 80, SD √(200/3) = 8.16497, min 70, max 90;
- B: R1 60, R2 100: mean 80, median 80, SD 20, min 60, max 100;
- W: R1 100, R3 60, then withdrawn: outside the ranking; the scores workbook shows its 2 reviews,
  mean 80, SD 20. Its reviews count nowhere else.
Calibration (ranked applications): R1 80, 60 (mean 70, SD 10); R2 90, 100 (mean 95, SD 5); R3 70
(mean 70, SD 0); everyone 80, 90, 70, 60, 100 (mean 80, SD √200 = 14.1421). No reviewer has three
reviews, so normalized means equal raw means.
"""

from __future__ import annotations

import io
import math
import re
from datetime import date, timedelta

import pytest
from flask import current_app
from openpyxl import load_workbook

from grants.applications import services as applications
from grants.awards import services as awards
from grants.clock import agency_today
from grants.extensions import db
from grants.money import parse_money
from grants.programs import budget
from grants.programs import services as programs
from grants.reviews import services as reviews
from tests import factories
from tests.integration.test_exports import _recalculated_summary

BUDGET = 100_000_000
POINTS = {60: [6, 12], 70: [7, 14], 80: [8, 16], 90: [9, 18], 100: [10, 20]}

EXPECTED_AWARDS = {  # (current amount, paid, pending, remaining) in cents
    "pending": (2_000_000, 0, 0, 2_000_000),
    "active": (5_500_000, 1_000_000, 750_000, 3_750_000),
    "terminated": (200_000, 200_000, 0, 0),
    "closed": (2_400_000, 2_400_000, 0, 0),
}
AWARDED, APPROVED_NOT_AWARDED, PAID, PENDING = 10_100_000, 1_500_000, 3_600_000, 750_000
COMMITTED = AWARDED + APPROVED_NOT_AWARDED
REMAINING = BUDGET - COMMITTED

# (reviews, mean, median, SD, min, max)
EXPECTED_RANKED = {"A": (3, 80, 80, math.sqrt(200 / 3), 70, 90), "B": (2, 80, 80, 20, 60, 100)}
EXPECTED_UNRANKED = {"W": (2, 80, 20)}  # (reviews, mean, SD)
EXPECTED_CALIBRATION = {"R1": (2, 70, 10), "R2": (2, 95, 5), "R3": (1, 70, 0), "Program": (5, 80, math.sqrt(200))}


@pytest.fixture
def world(app):
    today = agency_today()
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    member = factories.make_user(email="grantee@example.org")
    organization = factories.make_organization(members=[member], legal_name="Cook Responders", county="Cook")
    program = factories.make_program(officer=officer, status="draft", criteria=0, code="CRP", fiscal_year=2027,
                                     total_budget_cents=BUDGET, award_floor_cents=1_000_000, award_ceiling_cents=BUDGET)
    programs.add_criterion(actor=officer, program=program, name="C1", guidance="", max_points=10, weight=1)
    programs.add_criterion(actor=officer, program=program, name="C2", guidance="", max_points=20, weight=3)
    programs.change_program_status(actor=officer, program=program, status="published")

    def award(amount, *, active=True, start=today - timedelta(days=100), end=today + timedelta(days=30)):
        return factories.make_award(officer=officer, program=program, member=member, organization=organization,
                                    amount_cents=amount, active=active, start_date=start, end_date=end)

    made = {"pending": award(2_000_000, active=False)}

    active = made["active"] = award(5_000_000)
    awards.amend_award(actor=officer, award_id=active.id, amount_delta_cents=500_000, new_end_date=None, reason="More outreach")
    awards.record_payment(actor=finance, award_id=active.id, amount_cents=1_000_000, paid_on=today, payment_reference="V-1", description="Q1")
    wrong = awards.record_payment(actor=finance, award_id=active.id, amount_cents=100_000, paid_on=today, payment_reference="V-2", description="Typo")
    awards.void_payment(actor=finance, disbursement_id=wrong.id, reason="Entered twice")
    awards.request_payment(actor=member, award_id=active.id, amount_cents=500_000, period_start=None, period_end=None, description="Q2")
    approved = awards.request_payment(actor=member, award_id=active.id, amount_cents=250_000, period_start=None, period_end=None, description="Q2b")
    awards.approve_payment(actor=finance, disbursement_id=approved.id)
    dropped = awards.request_payment(actor=member, award_id=active.id, amount_cents=300_000, period_start=None, period_end=None, description="Q2c")
    awards.void_payment(actor=finance, disbursement_id=dropped.id, reason="Asked twice")

    terminated = made["terminated"] = award(4_000_000)
    awards.record_payment(actor=finance, award_id=terminated.id, amount_cents=200_000, paid_on=today, payment_reference="V-3", description="Start")
    awards.request_payment(actor=member, award_id=terminated.id, amount_cents=100_000, period_start=None, period_end=None, description="More")
    awards.terminate_award(actor=officer, award_id=terminated.id, reason="Partner left")

    closed = made["closed"] = award(3_000_000, start=date(2027, 1, 1), end=date(2027, 3, 31))
    awards.record_payment(actor=finance, award_id=closed.id, amount_cents=2_400_000, paid_on=today, payment_reference="V-4", description="All")
    final = closed.reports[-1]
    awards.submit_report(actor=member, report_id=final.id, narrative="Done", metrics={
        "people_served": 120, "calls_answered": 300, "referrals": 40, "awareness_events": 3, "partner_meetings": 6})
    awards.review_report(actor=officer, report_id=final.id, accept=True, comment="")
    awards.close_out_award(actor=officer, award_id=closed.id)

    waiting = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer,
                                                  requested_cents=1_500_000)
    reviews.decide(actor=officer, application_id=waiting.id, outcome="approved", approved_cents=1_500_000, rationale="Good", flags_read=True)

    r1, r2, r3 = (factories.make_user(name=name, email=f"{name.lower()}@state.gov", roles={"reviewer"}) for name in ("R1", "R2", "R3"))
    scored = {}
    for key, marks in (("A", ((r1, 80), (r2, 90), (r3, 70))), ("B", ((r1, 60), (r2, 100))), ("W", ((r1, 100), (r3, 60)))):
        other = factories.make_organization(members=[member], legal_name=f"Applicant {key}")
        scored[key] = factories.make_eligible_application(program=program, organization=other, actor=member, officer=officer)
        for reviewer, total in marks:
            factories.review(officer=officer, application=scored[key], reviewer=reviewer, points=POINTS[total])
    applications.withdraw_application(actor=member, application=scored["W"], reason="Merged with another application")
    db.session.commit()
    return {"program": program, "officer": officer, "finance": finance, "member": member, "awards": made,
            "scored": {key: application.reference for key, application in scored.items()}}


# Reading pages and workbooks ---------------------------------------------------------------------


def _page(browser, url: str) -> str:
    response = browser.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _plain(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _rows(html: str) -> dict[str, list[str]]:
    """Every table row with a row header: {header text: [its cells' texts]}."""
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        header = re.search(r'<th scope="row"[^>]*>(.*?)</th>', row, re.S)
        if header:
            rows[_plain(header.group(1))] = [_plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return rows


def _table(html: str, marker: str) -> str:
    """The table whose opening tag or caption holds ``marker``."""
    for found in re.findall(r"<table[^>]*>.*?</table>", html, re.S):
        if marker in found[:400]:
            return found
    raise AssertionError(f"no table with {marker}")


def _sheet(data: bytes, name: str) -> list[dict]:
    header, *rows = list(load_workbook(io.BytesIO(data), read_only=True)[name].iter_rows(values_only=True))
    return [dict(zip(header, row, strict=False)) for row in rows]


def _cents(dollars) -> int:
    return round(dollars * 100)


def _score(value: float) -> str:
    return f"{value:.1f}"


# Money ------------------------------------------------------------------------------------------


def test_award_and_program_money_figures_agree_everywhere(world, make_client, tmp_path):
    finance, officer, program = make_client(world["finance"]), make_client(world["officer"]), world["program"]
    numbers = {key: award.award_number for key, award in world["awards"].items()}
    expected = {numbers[key]: figures for key, figures in EXPECTED_AWARDS.items()}

    # The award page of each award.
    for key, award in world["awards"].items():
        rows = _rows(_table(_page(finance, f"/awards/{award.id}"), "Award amounts"))
        shown = tuple(parse_money(rows[label][0]) for label in ("Awarded", "Paid", "Pending (requested or approved)", "Remaining to request"))
        assert shown == EXPECTED_AWARDS[key], key

    # The awards list: Amount, Paid, Pending, Remaining.
    rows = _rows(_page(finance, "/awards"))
    assert {number: tuple(parse_money(c) for c in rows[number][3:7]) for number in expected} == expected

    # The grantee's home: the same columns for their own awards.
    rows = _rows(_table(_page(make_client(world["member"]), "/home"), "Awards to your organizations"))
    assert {number: tuple(parse_money(c) for c in rows[number][2:6]) for number in expected} == expected

    # The finance home lists the open awards ending within 60 days (pending agreement and active),
    # and the payments waiting: the active award's requested $5,000 and approved $2,500.
    finance_home = _page(finance, "/dashboard/finance")
    waiting = {figure: parse_money(re.search(rf'data-figure="{figure}">.*?<strong>(.*?)</strong>', finance_home, re.S).group(1))
               for figure in ("requested", "approved")}
    assert waiting == {"requested": 500_000, "approved": 250_000}
    rows = _rows(_table(finance_home, "data-attention"))
    open_awards = {numbers["pending"]: expected[numbers["pending"]], numbers["active"]: expected[numbers["active"]]}
    assert {number: tuple(parse_money(c) for c in cells[2:6]) for number, cells in rows.items()} == open_awards

    # The ledger's Awards sheet, one row per award.
    ledger = finance.get("/exports/award-ledger.xlsx").data
    awards_sheet = {r["Award number"]: r for r in _sheet(ledger, "Awards")}
    assert {number: tuple(_cents(r[c]) for c in ("Current amount", "Disbursed (paid)", "Pending (requested or approved)", "Remaining"))
            for number, r in awards_sheet.items()} == expected

    # 360Giving: awarded and disbursed.
    prefix = current_app.config["ORG_ID_PREFIX"]
    giving = {r["Identifier"]: (_cents(r["Amount Awarded"]), _cents(r["Amount Disbursed"]))
              for r in _sheet(finance.get("/exports/360giving.xlsx").data, "grants")}
    assert giving == {f"{prefix}-{number}": (amount, paid) for number, (amount, paid, _pending, _remaining) in expected.items()}

    # Program figures: the finance page's row (budget, awarded, approved not awarded, paid, requested,
    # approved unpaid, remaining) and its total row.
    summary = _page(finance, "/finance")
    row = re.search(rf'<tr data-program="{program.id}">(.*?)</tr>', summary, re.S).group(1)
    money = [parse_money(_plain(c)) for c in re.findall(r'<td class="money">(.*?)</td>', row, re.S)]
    assert money == [BUDGET, AWARDED, APPROVED_NOT_AWARDED, PAID, waiting["requested"], waiting["approved"], REMAINING]
    total = re.search(r"<tr[^>]*data-totals>(.*?)</tr>", summary, re.S).group(1)
    assert [parse_money(_plain(c)) for c in re.findall(r'<td class="money">(.*?)</td>', total, re.S)] == money

    # The program dashboard's budget table, the programs dashboard and the finance home's chart table.
    label = f"{program.name} (FY {program.fiscal_year})"
    by_figure = {name: parse_money(cells[0]) for name, cells in _rows(_table(_page(officer, f"/programs/{program.id}/dashboard"), 'id="budget-chart-table"')).items()}
    assert by_figure == {"Total budget": BUDGET, "Awarded": AWARDED, "Approved, not yet awarded": APPROVED_NOT_AWARDED,
                         "Disbursed (paid)": PAID, "Pending approval or payment": PENDING, "Remaining": REMAINING}
    programs_page = _page(officer, "/dashboard/programs")
    assert [parse_money(c) for c in _rows(_table(programs_page, 'id="programs-budget-chart-table"'))[label]] == [
        BUDGET, AWARDED, APPROVED_NOT_AWARDED, PAID, PENDING, REMAINING]
    assert {name: parse_money(cells[0]) for name, cells in _rows(_table(programs_page, 'id="budget-chart-table"')).items()} == by_figure
    assert [parse_money(c) for c in _rows(_table(_page(finance, "/dashboard/finance"), 'id="finance-programs-chart-table"'))[label]] == [
        BUDGET, AWARDED, APPROVED_NOT_AWARDED, PAID, PENDING, REMAINING]

    # The ledger's rows add up to the program's awarded and paid, and so does its Summary once a
    # spreadsheet recalculates its formulas (awards, awarded, disbursed).
    assert sum(_cents(r["Current amount"]) for r in awards_sheet.values()) == AWARDED
    assert sum(_cents(r["Disbursed (paid)"]) for r in awards_sheet.values()) == PAID
    recalculated = {r[0]: r for r in _recalculated_summary(ledger, tmp_path) if r}
    assert [recalculated[program.name][1], _dollars(recalculated[program.name][2]), _dollars(recalculated[program.name][3])] == ["4", AWARDED, PAID]

    # What a new award may use is the same remaining, on the form that makes one.
    assert budget.committed_cents(program.id) == COMMITTED


def _dollars(text: str) -> int:
    return round(float(text.replace("$", "").replace(",", "")) * 100)


# Review statistics ------------------------------------------------------------------------------


def test_review_statistics_agree_on_the_ranking_the_review_page_and_the_scores_workbook(world, make_client):
    officer, program, refs = make_client(world["officer"]), world["program"], world["scored"]

    ranking = _rows(_page(officer, f"/programs/{program.id}/ranking"))
    for key, (n, mean, median, sd, low, high) in EXPECTED_RANKED.items():
        # Rank, organization, requested, reviews, raw mean, normalized, median, SD, min, max, …
        assert ranking[refs[key]][3:10] == [str(n), _score(mean), _score(mean), _score(median), _score(sd), _score(low), _score(high)], key
    assert refs["W"] not in ranking

    book = officer.get(f"/exports/programs/{program.id}/applications-and-scores.xlsx").data
    sheet = {r["Reference"]: r for r in _sheet(book, "Applications")}
    for key, (n, mean, _median, sd, _low, _high) in EXPECTED_RANKED.items():
        row = sheet[refs[key]]
        assert (row["Reviews submitted"], row["Raw mean"], row["Normalized mean"], row["Standard deviation"]) == (
            n, round(mean, 2), round(mean, 2), round(sd, 2)), key
        # The page shows the workbook's figures to one decimal.
        assert ranking[refs[key]][4] == _score(row["Raw mean"]) and ranking[refs[key]][7] == _score(row["Standard deviation"])
    row = sheet[refs["W"]]
    assert (row["Reviews submitted"], row["Raw mean"], row["Standard deviation"]) == (2, 80, 20)

    calibration = _rows(_table(_page(officer, f"/programs/{program.id}/reviews"), "Reviewer calibration"))
    workbook = {r["Reviewer"]: r for r in _sheet(book, "Reviewer calibration")}
    for name, (n, mean, sd) in EXPECTED_CALIBRATION.items():
        assert calibration[name] == [str(n), _score(mean), _score(sd)], name
        row = workbook["Program (all reviewers)" if name == "Program" else name]
        assert (row["Reviews"], row["Mean"], row["Standard deviation"]) == (n, round(mean, 2), round(sd, 2)), name
