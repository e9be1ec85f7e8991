"""Issue 14, access: a declared conflict of interest outweighs every other role, everywhere.

Conrad holds the program officer and reviewer roles and declared a conflict on application C. Every
page and POST that would show C's scores or act on C answers 404 for him (each URL is listed below),
and C's reference, scores and reviewers' comments appear in none of his lists, dashboards or
workbooks; a colleague officer without the conflict still sees C and decides it.
"""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from grants.applications import services as applications
from grants.applications.models import Application
from grants.awards import services as awards
from grants.awards.models import Award
from grants.extensions import db
from grants.permissions import NotPermitted
from grants.reviews import services as reviews
from grants.reviews.models import Decision, ReviewAssignment
from tests import factories

# Strings only C's reviews carry: none may reach Conrad.
C_MARKERS = ("Heliotrope-C staffing remark", "Heliotrope-C overall verdict")
CONFLICT_NOTICE = "1 application is hidden because you declared a conflict of interest on it"


def _scored(officer, application, reviewer, points, comment):
    assignment = reviews.assign_reviewer(actor=officer, application=application, reviewer=reviewer)
    reviews.declare_conflict(actor=reviewer, assignment=assignment, conflicted=False, reason=None)
    criteria = application.program.criteria
    reviews.save_review(actor=reviewer, assignment=assignment, points={c.id: p for c, p in zip(criteria, points, strict=False)},
                        comments={c.id: f"{comment} ({c.name})" for c in criteria}, overall_comment=comment,
                        recommendation="fund")
    reviews.submit_review(actor=reviewer, assignment_id=assignment.id)
    return assignment


@pytest.fixture
def round_(app):
    colleague = factories.make_user(email="colette@state.gov", name="Colette Colleague", roles={"program_officer"})
    conrad = factories.make_user(email="conrad@state.gov", name="Conrad Both", roles={"program_officer", "reviewer"})
    # Finance and admin who also reviews and declared the same conflict: for the payment side.
    fern = factories.make_user(email="fern@state.gov", name="Fern Both", roles={"finance", "admin", "reviewer"})
    payer = factories.make_user(email="payer@state.gov", name="Pat Payer", roles={"finance"})
    r1 = factories.make_user(email="r1@review.org", name="Rita One", roles={"reviewer"})
    r2 = factories.make_user(email="r2@review.org", name="Raj Two", roles={"reviewer"})
    member = factories.make_user(email="cora@marigold.org", name="Cora Member")
    other = factories.make_user(email="dan@other.org", name="Dan Other")
    program = factories.make_program(officer=colleague, reviewers_per_application=2, total_budget_cents=50_000_000)
    c = factories.make_application(program=program, actor=member,
                                   organization=factories.make_organization(members=[member], legal_name="Marigold Responders"))
    applications.add_attachment(actor=member, application=c, kind="budget_justification", file=factories.pdf_upload("c.pdf"))
    applications.submit_application(actor=member, application_id=c.id, certified=True)
    applications.screen_application(actor=colleague, application=c, eligible=True, reason=None)
    d = factories.make_eligible_application(
        program=program, actor=other, officer=colleague,
        organization=factories.make_organization(members=[other], legal_name="Delta Outreach", ein="12-3456789"))
    # C scores 81.7 and 96.7 (mean 89.2); D 51.7 and 40.0: C's figures are its own.
    c_reviews = [_scored(colleague, c, r1, [9, 17, 23], C_MARKERS[0]), _scored(colleague, c, r2, [10, 19, 29], C_MARKERS[1])]
    _scored(colleague, d, r1, [5, 10, 16], "Delta note one")
    _scored(colleague, d, r2, [4, 8, 12], "Delta note two")
    for who in (conrad, fern):
        factories.review(officer=colleague, application=c, reviewer=who, points=None, conflicted=True)
    db.session.commit()
    c_mean = sum(a.total_score for a in c_reviews) / 2
    return {"colleague": colleague, "conrad": conrad, "fern": fern, "payer": payer, "member": member, "program": program,
            "c": c, "d": d, "c_reviews": c_reviews, "c_scores": tuple(f"{x:.1f}" for x in (c_mean, *(a.total_score for a in c_reviews))),
            "own_conflict": {who.email: db.session.scalar(sa.select(ReviewAssignment).where(
                ReviewAssignment.application_id == c.id, ReviewAssignment.reviewer_id == who.id)) for who in (conrad, fern)}}


def _seen(body: bytes, round_) -> list[str]:
    text = body.decode(errors="replace")
    return [s for s in (round_["c"].reference, *C_MARKERS, *round_["c_scores"]) if s in text]


def _workbook_text(response) -> str:
    assert response.status_code == 200, response.status_code
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                     for cell in row if cell is not None)


VALID_DECISION = {"outcome": "approved", "rationale": "Strong plan", "approved_amount": ""}


def test_every_page_and_post_about_c_is_not_found_for_the_conflicted_officer(round_, make_client):
    c, conrad = round_["c"], round_["conrad"]
    letter = next(a for a in c.attachments if a.partner_id is not None)
    attachment = next(a for a in c.attachments if a.partner_id is None)
    scored = round_["c_reviews"][0]
    browser = make_client(conrad)
    gets = [
        f"/applications/{c.id}", f"/applications/{c.id}/reviews", f"/applications/{c.id}/award",
        f"/applications/{c.id}/extension", f"/applications/{c.id}/confirmation", f"/applications/{c.id}/withdraw",
        f"/applications/{c.id}/project", f"/applications/{c.id}/partners", f"/applications/{c.id}/budget",
        f"/applications/{c.id}/attachments", f"/applications/{c.id}/submit",
        f"/attachments/{letter.id}", f"/attachments/{attachment.id}",
        f"/reviews/{scored.id}/reopen", f"/reviews/{scored.id}/replace",
    ]
    posts = [
        (f"/applications/{c.id}/decide", {}),
        (f"/applications/{c.id}/decide", VALID_DECISION),
        (f"/applications/{c.id}/decide", {"outcome": "declined", "rationale": ""}),
        (f"/applications/{c.id}/award", {}),
        (f"/applications/{c.id}/award", {"amount": "1000", "start_date": "2027-01-01", "end_date": "2027-12-31"}),
        (f"/applications/{c.id}/screen", {"decision": "eligible"}),
        (f"/applications/{c.id}/extension", {}),
        (f"/applications/{c.id}/withdraw", {"reason": "x"}),
        (f"/reviews/{scored.id}/reopen", {"reason": "Look again"}),
        (f"/reviews/{scored.id}/replace", {}),
        (f"/reviews/{scored.id}/remove", {}),
    ]
    problems = []
    for url in gets:
        response = browser.get(url)
        if response.status_code != 404 or _seen(response.data, round_):
            problems.append(f"GET {url}: {response.status_code}, shows {_seen(response.data, round_)}")
    for url, data in posts:
        response = browser.post_form(url, data)
        if response.status_code != 404 or _seen(response.data, round_):
            problems.append(f"POST {url} {data}: {response.status_code}, shows {_seen(response.data, round_)}")
    # Decisions are POST only: a GET is refused for everyone alike and shows nothing.
    response = browser.get(f"/applications/{c.id}/decide")
    if response.status_code not in (404, 405) or _seen(response.data, round_):
        problems.append(f"GET /applications/{c.id}/decide: {response.status_code}")
    assert not problems, "\n".join(problems)
    db.session.refresh(c)
    assert c.status == "under_review"
    assert db.session.scalars(sa.select(Decision).where(Decision.application_id == c.id)).all() == []
    assert db.session.scalar(sa.select(ReviewAssignment).where(ReviewAssignment.id == scored.id)).status == "submitted"

    # Assigning a reviewer to C through the program's form: C is not among the choices.
    extra = factories.make_user(email="r3@review.org", name="Ros Three", roles={"reviewer"})
    db.session.commit()
    browser.post_form(f"/programs/{round_['program'].id}/reviews/assign",
                      {"application_ids": [str(c.id)], "reviewer_ids": [str(extra.id)]})
    assert db.session.scalar(sa.select(ReviewAssignment).where(ReviewAssignment.reviewer_id == extra.id)) is None

    # His own (recused) assignment is the one page about C that is his: it names the application he
    # declared on and says he is recused, nothing more.
    own = browser.get(f"/reviews/{round_['own_conflict'][conrad.email].id}")
    assert own.status_code == 200 and "You are recused" in own.get_data(as_text=True)
    assert [s for s in _seen(own.data, round_) if s != c.reference] == []


def test_c_is_in_none_of_the_conflicted_officers_lists_dashboards_or_workbooks(round_, make_client):
    program, c, d = round_["program"], round_["c"], round_["d"]
    browser = make_client(round_["conrad"])
    pages = [
        f"/programs/{program.id}/ranking", f"/programs/{program.id}/ranking?order=normalized",
        f"/programs/{program.id}/funding-line", f"/programs/{program.id}/funding-line?reserve=y&order=normalized",
        f"/programs/{program.id}/reviews", f"/programs/{program.id}/applications", f"/programs/{program.id}",
        f"/programs/{program.id}/dashboard", "/dashboard/programs", "/home", "/awards", "/finance",
        f"/programs/{program.id}/reports",
    ]
    problems = []
    for url in pages:
        response = browser.get(url)
        if response.status_code != 200 or _seen(response.data, round_):
            problems.append(f"GET {url}: {response.status_code}, shows {_seen(response.data, round_)}")
    assert not problems, "\n".join(problems)
    for url in pages[:4]:
        page = browser.get(url).get_data(as_text=True)
        assert CONFLICT_NOTICE in page and d.reference in page, url
    response = browser.get(f"/exports/programs/{program.id}/applications-and-scores.xlsx")
    workbook = _workbook_text(response)
    assert d.reference in workbook
    assert [s for s in (c.reference, *C_MARKERS) if s in workbook] == []
    # Rita reviewed C and D: for him her calibration is D's review alone, not a figure that includes C's.
    book = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    rows = {row[0]: row for row in book["Reviewer calibration"].iter_rows(values_only=True)}
    assert rows["Rita One"][1] == 1
    c_totals = {round(a.total_score, 2) for a in round_["c_reviews"]} | {round(sum(a.total_score for a in round_["c_reviews"]) / 2, 2)}
    numbers = {cell for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row
               if isinstance(cell, float)}
    assert numbers & c_totals == set()

    # The colleague sees C, its scores and its reviewers' comments, and no notice.
    colleague = make_client(round_["colleague"])
    ranking = colleague.get(f"/programs/{program.id}/ranking").get_data(as_text=True)
    assert c.reference in ranking and round_["c_scores"][0] in ranking and CONFLICT_NOTICE not in ranking
    summary = colleague.get(f"/applications/{c.id}/reviews").get_data(as_text=True)
    assert all(marker in summary for marker in C_MARKERS)
    assert c.reference in _workbook_text(colleague.get(f"/exports/programs/{program.id}/applications-and-scores.xlsx"))


def test_approving_the_line_leaves_c_for_a_colleague_who_decides_and_awards_it(round_, make_client):
    program, c, d = round_["program"], round_["c"], round_["d"]
    browser = make_client(round_["conrad"])
    page = browser.get(f"/programs/{program.id}/funding-line").get_data(as_text=True)
    assert "Approve 1 application<" in page  # D only: C is funded, but not through him
    digest = page.split('name="line" value="')[1].split('"')[0]
    answer = browser.post_form(f"/programs/{program.id}/funding-line/approve",
                               {"order": "raw", "line": digest, "confirm": "y"}, follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert "1 application approved" in text
    assert "1 funded application was not approved because you declared a conflict of interest" in text
    assert _seen(answer.data, round_) == []
    db.session.refresh(c)
    db.session.refresh(d)
    assert (c.status, d.status) == ("under_review", "approved")

    # The colleague still sees C on the line and decides it, then makes its award.
    colleague = make_client(round_["colleague"])
    assert c.reference in colleague.get(f"/programs/{program.id}/funding-line").get_data(as_text=True)
    assert colleague.post_form(f"/applications/{c.id}/decide", VALID_DECISION).status_code == 302
    db.session.refresh(c)
    assert c.status == "approved"
    made = colleague.post_form(f"/applications/{c.id}/award", {
        "amount": f"{c.approved_cents / 100:.2f}", "start_date": "2027-01-01", "end_date": "2027-12-31"})
    assert made.status_code == 302, made.get_data(as_text=True)


def test_the_award_of_c_and_its_payments_are_not_found_for_conflicted_staff(round_, make_client):
    c, colleague = round_["c"], round_["colleague"]
    reviews.decide(actor=colleague, application_id=c.id, outcome="approved", approved_cents=None, rationale="Strong")
    # Ending within weeks, so finance's home lists it among the awards needing attention (for those who may see it).
    award = awards.create_award(actor=colleague, application_id=c.id, amount_cents=None, start_date=date(2026, 10, 1),
                                end_date=date(2027, 1, 15), conditions="")
    awards.activate_award(actor=colleague, award_id=award.id, signed_on=date(2026, 10, 1))
    payment = awards.request_payment(actor=round_["member"], award_id=award.id, amount_cents=100_000, period_start=None,
                                     period_end=None, description="Salaries", documentation=factories.pdf_upload("invoice.pdf"))
    db.session.commit()
    report = min(award.reports, key=lambda r: r.sequence)
    invoice = next(a for a in c.attachments if a.disbursement_id == payment.id)
    number = award.award_number

    officer = make_client(round_["conrad"])
    finance = make_client(round_["fern"])  # finance, admin and reviewer, conflicted on C too
    problems = []
    for browser, who, method, url, data in [
        (officer, "officer", "GET", f"/awards/{award.id}", None),
        (officer, "officer", "GET", f"/awards/{award.id}/amend", None),
        (officer, "officer", "POST", f"/awards/{award.id}/amend", {}),
        (officer, "officer", "POST", f"/awards/{award.id}/activate", {}),
        (officer, "officer", "POST", f"/awards/{award.id}/terminate", {"reason": "Stop"}),
        (officer, "officer", "POST", f"/awards/{award.id}/close-out", {}),
        (officer, "officer", "GET", f"/reports/{report.id}", None),
        (officer, "officer", "POST", f"/reports/{report.id}/review", {"decision": "accept"}),
        (officer, "officer", "GET", f"/applications/{c.id}/award", None),
        (finance, "finance", "GET", f"/awards/{award.id}", None),
        (finance, "finance", "GET", f"/awards/{award.id}/payments/record", None),
        (finance, "finance", "POST", f"/awards/{award.id}/payments/record", {}),
        (finance, "finance", "POST", f"/payments/{payment.id}/approve", {}),
        (finance, "finance", "POST", f"/payments/{payment.id}/reject", {"comment": "No"}),
        (finance, "finance", "POST", f"/payments/{payment.id}/paid", {}),
        (finance, "finance", "POST", f"/payments/{payment.id}/void", {"reason": "No"}),
        (finance, "finance", "GET", f"/attachments/{invoice.id}", None),
        (finance, "finance", "GET", f"/applications/{c.id}", None),
        (finance, "finance", "GET", f"/applications/{c.id}/reviews", None),
    ]:
        response = browser.get(url) if method == "GET" else browser.post_form(url, data)
        if response.status_code != 404 or number.encode() in response.data or _seen(response.data, round_):
            problems.append(f"{method} {url} as {who}: {response.status_code}")
    for browser, url in [(officer, "/awards"), (finance, "/awards"), (finance, "/payments"), (finance, "/dashboard/finance"),
                         (officer, f"/programs/{round_['program'].id}/reports")]:
        response = browser.get(url)
        if response.status_code != 200 or number.encode() in response.data or _seen(response.data, round_):
            problems.append(f"GET {url}: {response.status_code}, shows the award or C")
    assert not problems, "\n".join(problems)
    db.session.refresh(payment)
    assert payment.status == "requested"

    # A finance colleague without the conflict works the same payment.
    payer = make_client(round_["payer"])
    assert number in payer.get("/payments").get_data(as_text=True)
    assert number in payer.get("/dashboard/finance").get_data(as_text=True)
    assert payer.post_form(f"/payments/{payment.id}/approve", {}).status_code == 302
    db.session.refresh(payment)
    assert payment.status == "approved"


def test_services_refuse_the_conflicted_actor_too(round_):
    """The routes' loaders are not the only gate: each service asks the predicate again for its actor."""
    c, conrad, colleague = round_["c"], round_["conrad"], round_["colleague"]
    with pytest.raises(NotPermitted):
        reviews.decide(actor=conrad, application_id=c.id, outcome="approved", approved_cents=None, rationale="Mine")
    db.session.rollback()
    with pytest.raises(NotPermitted):
        reviews.reopen_review(actor=conrad, assignment=round_["c_reviews"][0], reason="Again")
    db.session.rollback()
    reviews.decide(actor=colleague, application_id=c.id, outcome="approved", approved_cents=None, rationale="Strong")
    db.session.commit()
    with pytest.raises(NotPermitted):
        awards.create_award(actor=conrad, application_id=c.id, amount_cents=None, start_date=date(2027, 1, 1),
                            end_date=date(2027, 12, 31), conditions="")
    db.session.rollback()
    assert db.session.scalar(sa.select(Award).where(Award.application_id == c.id)) is None
    assert db.session.get(Application, c.id).status == "approved"
