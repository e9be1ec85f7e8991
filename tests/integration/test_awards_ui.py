"""Awards through the web pages: making, amending, paying, reporting and closing out, and who may see what."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
import sqlalchemy as sa

from grants.applications.models import Application, Attachment
from grants.awards import services as awards
from grants.awards.models import Amendment, Award, Disbursement
from grants.clock import agency_today
from grants.extensions import db
from grants.money import parse_money
from grants.reviews import services as reviews
from tests import factories

BUDGET = 30_000_000  # $300,000.00
REQUESTED = 5_000_000  # make_application asks for twice the floor: $50,000.00


@pytest.fixture
def world(app):
    officer = factories.make_user(email="po@state.gov", name="Olive Officer", roles={"program_officer"})
    finance = factories.make_user(email="finance@state.gov", name="Fran Finance", roles={"finance"})
    member = factories.make_user(email="member@example.org", name="Mia Member")
    organization = factories.make_organization(members=[member], legal_name="Lakeside Responders")
    outsider = factories.make_user(email="outsider@example.org", name="Otto Outsider")
    factories.make_organization(members=[outsider], legal_name="Other County Crisis Team")
    program = factories.make_program(officer=officer, code="CRP", fiscal_year=2027, total_budget_cents=BUDGET)
    application = _approved_application(officer, program, organization, member)
    db.session.commit()
    return {"officer": officer, "finance": finance, "member": member, "organization": organization, "outsider": outsider,
            "program": program, "application": application}


def _approved_application(officer, program, organization, member) -> Application:
    application = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer)
    reviews.decide(actor=officer, application_id=application.id, outcome="approved", flags_read=True, approved_cents=None, rationale="Strong partnerships")
    db.session.flush()
    return application


def _make_award(world, *, program=None, organization=None, member=None, start=date(2027, 1, 1), end=date(2027, 12, 31)) -> Award:
    """An active award made through the services, for tests about what comes after."""
    officer = world["officer"]
    application = _approved_application(officer, program or world["program"], organization or world["organization"], member or world["member"])
    award = awards.create_award(actor=officer, application_id=application.id, amount_cents=None, start_date=start, end_date=end, conditions="")
    awards.activate_award(actor=officer, award_id=award.id, signed_on=agency_today())
    db.session.commit()
    return award


def _request(world, award, amount_cents, **kwargs) -> Disbursement:
    disbursement = awards.request_payment(actor=world["member"], award_id=award.id, amount_cents=amount_cents, period_start=None,
                                          period_end=None, description=kwargs.get("description", "Counselor salaries"),
                                          documentation=kwargs.get("documentation"))
    db.session.commit()
    return disbursement


def _text(response) -> str:
    return response.get_data(as_text=True)


def _field_error(response, field_id: str) -> str:
    match = re.search(rf'<span class="usa-error-message" id="{field_id}-error" role="alert">(.*?)</span>', _text(response), re.S)
    assert match, f"no error beside {field_id}"
    return match.group(1)


def _cents(cell: str) -> int:
    return -parse_money(cell[1:]) if cell.startswith("-") else parse_money(cell)


def _finance_rows(response) -> tuple[dict[int, list[int]], list[int]]:
    """The finance summary's cells in cents and the totals:
    {program id: [budget, awarded, approved, paid, awaiting approval, approved unpaid, remaining]}."""
    html = _text(response)
    money_cells = r'<td class="money">(.*?)</td>'
    rows = {
        int(program_id): [_cents(cell) for cell in re.findall(money_cells, body)]
        for program_id, body in re.findall(r'<tr data-program="(\d+)">(.*?)</tr>', html, re.S)
    }
    totals_row = re.search(r'<tr class="text-bold" data-totals>(.*?)</tr>', html, re.S).group(1)
    return rows, [_cents(cell) for cell in re.findall(money_cells, totals_row)]


# The whole journey ----------------------------------------------------------------------------


def test_award_made_amended_paid_reported_and_closed_out(world, make_client):
    officer, finance, grantee = make_client(world["officer"]), make_client(world["finance"]), make_client(world["member"])
    application, program = world["application"], world["program"]

    # The summary page offers the award; the award page shows the budget and the approved amount.
    assert f"/applications/{application.id}/award" in _text(officer.get(f"/applications/{application.id}/reviews"))
    page = _text(officer.get(f"/applications/{application.id}/award"))
    assert "$300,000.00" in page and 'value="50,000.00"' in page

    # More than was approved (and the budget): refused beside the amount with the figure, nothing created.
    response = officer.post_form(f"/applications/{application.id}/award", {
        "amount": "400,000", "start_date": "2027-01-01", "end_date": "2027-12-31", "conditions": ""})
    assert response.status_code == 200
    assert "cannot be more than the $50,000.00 approved" in _field_error(response, "amount")
    assert db.session.scalar(sa.select(sa.func.count(Award.id))) == 0
    db.session.refresh(application)
    assert application.status == "approved"

    response = officer.post_form(f"/applications/{application.id}/award", {
        "amount": "50,000", "start_date": "2027-01-01", "end_date": "2027-12-31", "conditions": "Quarterly partner meetings."})
    assert response.status_code == 302
    award = db.session.scalars(sa.select(Award)).one()
    assert response.headers["Location"].endswith(f"/awards/{award.id}")
    assert (award.award_number, award.amount_cents, award.status) == ("CRP-2027-A0001", 5_000_000, "pending_agreement")
    assert len(award.reports) == 4 and award.reports[-1].is_final

    # Activation records the signed date.
    signed = agency_today().isoformat()
    assert officer.post_form(f"/awards/{award.id}/activate", {"signed_on": signed}).status_code == 302
    db.session.refresh(award)
    assert award.status == "active" and award.agreement_signed_on.isoformat() == signed

    # Amend up by $10,000; an increase past the budget is refused beside the amount with the figures.
    assert officer.post_form(f"/awards/{award.id}/amend", {"direction": "increase", "amount_delta": "10,000", "reason": "Second site"}).status_code == 302
    response = officer.post_form(f"/awards/{award.id}/amend", {"direction": "increase", "amount_delta": "250,000", "reason": "Too much"})
    assert "$310,000.00, over its budget of $300,000.00: only $240,000.00 remains" in _field_error(response, "amount_delta")
    db.session.refresh(award)
    assert award.amount_cents == 6_000_000 and [a.number for a in award.amendments] == [1]
    rows, _ = _finance_rows(officer.get("/finance"))
    assert rows[program.id] == [BUDGET, 6_000_000, 0, 0, 0, 0, BUDGET - 6_000_000]

    # The grantee asks for $20,000 with an invoice; finance approves and pays it.
    response = grantee.post_form(f"/awards/{award.id}/payments/request", {
        "amount": "20,000", "period_start": "2027-01-01", "period_end": "2027-03-31", "description": "First quarter salaries",
        "documentation": (io.BytesIO(factories.PDF_BYTES), "invoice-q1.pdf")})
    assert response.status_code == 302
    first = db.session.scalars(sa.select(Disbursement)).one()
    assert (first.status, first.amount_cents, first.period_end) == ("requested", 2_000_000, date(2027, 3, 31))
    document = db.session.scalars(sa.select(Attachment).where(Attachment.disbursement_id == first.id)).one()
    queue = _text(finance.get("/payments"))
    assert "invoice-q1.pdf" in queue and "First quarter salaries" in queue and award.award_number in queue
    assert f'href="/attachments/{document.id}"' in queue
    download = finance.get(f"/attachments/{document.id}")
    assert download.status_code == 200 and download.data == factories.PDF_BYTES
    assert finance.post_form(f"/payments/{first.id}/approve", {"comment": "Matches the invoice"}).status_code == 302
    response = finance.post_form(f"/payments/{first.id}/paid", {"paid_on": f"{agency_today():%Y-%m-%d}", "payment_reference": "V-1001"})
    assert response.headers["Location"].endswith("/payments")
    db.session.refresh(first)
    assert (first.status, first.paid_on, first.payment_reference, first.finance_comment) == ("paid", agency_today(), "V-1001", "Matches the invoice")

    # A second payment, $15,000, paid from the award page.
    grantee.post_form(f"/awards/{award.id}/payments/request", {"amount": "15,000", "description": "Posters and training"})
    second = db.session.scalars(sa.select(Disbursement).order_by(Disbursement.id.desc())).first()
    finance.post_form(f"/payments/{second.id}/approve", {})
    response = finance.post_form(f"/payments/{second.id}/paid", {"paid_on": f"{agency_today():%Y-%m-%d}", "payment_reference": "CHK-2002", "next": "award"})
    assert response.headers["Location"].endswith(f"/awards/{award.id}")
    db.session.refresh(second)
    assert second.status == "paid"

    # A decrease below what is paid is refused with the figures; a smaller one goes through.
    response = officer.post_form(f"/awards/{award.id}/amend", {"direction": "decrease", "amount_delta": "30,000", "reason": "Underspend"})
    assert "would leave $30,000.00, less than the $35,000.00 already paid or pending" in _field_error(response, "amount_delta")
    assert officer.post_form(f"/awards/{award.id}/amend", {"direction": "decrease", "amount_delta": "5,000",
                                                           "new_end_date": "2028-03-31", "reason": "Longer, smaller"}).status_code == 302
    db.session.refresh(award)
    assert (award.amount_cents, award.end_date) == (5_500_000, date(2028, 3, 31))

    # Over-payment, from the grantee or from finance, is refused with the numbers; nothing is added.
    response = grantee.post_form(f"/awards/{award.id}/payments/request", {"amount": "25,000", "description": "Too much"})
    assert "$25,000.00 is more than the $20,000.00 left on award CRP-2027-A0001 ($55,000.00 awarded, $35,000.00 paid, $0.00 pending)" in _field_error(response, "amount")
    response = finance.post_form(f"/awards/{award.id}/payments/record", {"amount": "20,000.01", "paid_on": "2026-08-01", "payment_reference": "V-9"})
    assert "$20,000.01 is more than the $20,000.00 left" in _field_error(response, "amount")
    assert db.session.scalar(sa.select(sa.func.count(Disbursement.id))) == 2

    # Finance records a payment by hand, then voids it from the award page.
    assert finance.post_form(f"/awards/{award.id}/payments/record", {"amount": "1,000", "paid_on": "2026-08-01", "payment_reference": "V-3003",
                                                                     "description": "Duplicate entry"}).status_code == 302
    recorded = db.session.scalars(sa.select(Disbursement).where(Disbursement.payment_reference == "V-3003")).one()
    assert recorded.status == "paid"
    response = finance.post_form(f"/payments/{recorded.id}/void", {"reason": "Entered twice", "next": "award"})
    assert response.headers["Location"].endswith(f"/awards/{award.id}")
    db.session.refresh(recorded)
    assert (recorded.status, recorded.void_reason) == ("void", "Entered twice")

    # The award page adds up, for staff and for the grantee.
    page = _text(finance.get(f"/awards/{award.id}"))
    for figure in ("$55,000.00", "$35,000.00", "$20,000.00", "invoice-q1.pdf", "Entered twice", "Longer, smaller", "Payment voided"):
        assert figure in page, figure
    grantee_page = _text(grantee.get(f"/awards/{award.id}"))
    assert "$20,000.00" in grantee_page and "Request a payment" in grantee_page
    assert "Timeline" not in grantee_page and "Payment queue" not in grantee_page

    # Close-out waits for the final report to be accepted.
    response = officer.post_form(f"/awards/{award.id}/close-out", {})
    assert response.status_code == 302
    assert "The final progress report must be accepted before closeout." in _text(officer.get(response.headers["Location"]))
    db.session.refresh(award)
    assert award.status == "active"

    # The grantee submits the final report; the officer asks for a revision, then accepts the resubmission.
    final = next(r for r in award.reports if r.is_final)
    metrics = {"people_served": "120", "calls_answered": "340", "referrals": "45", "awareness_events": "6", "partner_meetings": "12"}
    assert grantee.post_form(f"/reports/{final.id}", {**metrics, "narrative": "A good year."}).status_code == 302
    db.session.refresh(final)
    assert (final.status, final.people_served) == ("submitted", 120)
    response = officer.post_form(f"/reports/{final.id}/review", {"decision": "revise", "comment": ""})
    assert "Tell the grantee what to revise." in _field_error(response, "comment")
    assert officer.post_form(f"/reports/{final.id}/review", {"decision": "revise", "comment": "Break referrals down by partner."}).status_code == 302
    db.session.refresh(final)
    assert final.status == "revision_requested"
    form_page = _text(grantee.get(f"/reports/{final.id}"))
    assert "Break referrals down by partner." in form_page and 'value="340"' in form_page and "Resubmit the report" in form_page
    assert grantee.post_form(f"/reports/{final.id}", {**metrics, "referrals": "47", "narrative": "Library 30, transit 17."}).status_code == 302
    assert officer.post_form(f"/reports/{final.id}/review", {"decision": "accept", "comment": ""}).status_code == 302
    db.session.refresh(final)
    assert (final.status, final.referrals) == ("accepted", 47)

    # The quarterly reports are still due, so close-out still waits; then they are accepted too.
    response = officer.post_form(f"/awards/{award.id}/close-out", {})
    assert "Every progress report must be accepted before closeout; still open: Jan 1–Mar 31, 2027 (due)" in _text(officer.get(response.headers["Location"]))
    for report in award.reports:
        if report.status == "due":
            assert grantee.post_form(f"/reports/{report.id}", {**metrics, "narrative": "Quarter done."}).status_code == 302
            assert officer.post_form(f"/reports/{report.id}/review", {"decision": "accept", "comment": ""}).status_code == 302

    # Close-out releases the unspent $20,000 as a closeout amendment; the program's remaining shows it.
    assert officer.post_form(f"/awards/{award.id}/close-out", {}).status_code == 302
    db.session.refresh(award)
    closeout = award.amendments[-1]
    assert award.status == "closed" and award.amount_cents == 3_500_000
    assert (closeout.is_closeout, closeout.amount_delta_cents) == (True, -2_000_000)
    rows, totals = _finance_rows(finance.get("/finance"))
    assert rows[program.id] == [BUDGET, 3_500_000, 0, 3_500_000, 0, 0, BUDGET - 3_500_000]
    assert totals == rows[program.id]


# Refusals and details -------------------------------------------------------------------------


def test_finance_rejects_with_a_reason_and_the_grantee_sees_it(world, make_client):
    award = _make_award(world)
    request = _request(world, award, 1_000_000)
    finance = make_client(world["finance"])
    response = finance.post_form(f"/payments/{request.id}/reject", {"comment": ""})
    assert response.status_code == 302
    assert "Tell the grantee why the request is rejected." in _text(finance.get("/payments"))
    db.session.refresh(request)
    assert request.status == "requested"
    finance.post_form(f"/payments/{request.id}/reject", {"comment": "No invoice attached"})
    db.session.refresh(request)
    assert (request.status, request.void_reason) == ("void", "Rejected: No invoice attached")
    assert "Rejected: No invoice attached" in _text(make_client(world["member"]).get(f"/awards/{award.id}"))
    # A second click on an already decided request changes nothing and says why.
    response = finance.post_form(f"/payments/{request.id}/approve", {})
    assert "only a requested payment can be approved" in _text(finance.get(response.headers["Location"]))
    db.session.refresh(request)
    assert request.status == "void"


def test_terminating_voids_pending_payments_and_releases_the_balance(world, make_client):
    award = _make_award(world)
    request = _request(world, award, 1_000_000)
    officer = make_client(world["officer"])
    response = officer.post_form(f"/awards/{award.id}/terminate", {"reason": ""})
    assert "Give the reason for terminating the award." in _field_error(response, "reason")
    assert officer.post_form(f"/awards/{award.id}/terminate", {"reason": "Program ended by the county"}).status_code == 302
    db.session.refresh(award)
    db.session.refresh(request)
    assert (award.status, award.amount_cents, request.status) == ("terminated", 0, "void")


def test_amendment_needs_a_direction_and_a_change(world, make_client):
    award = _make_award(world)
    officer = make_client(world["officer"])
    response = officer.post_form(f"/awards/{award.id}/amend", {"amount_delta": "1,000", "reason": "More"})
    assert "Choose whether the amount increases or decreases." in _field_error(response, "amount_delta")
    response = officer.post_form(f"/awards/{award.id}/amend", {"reason": "Nothing"})
    assert "Change the amount, the end date, or both." in _field_error(response, "amount_delta")
    response = officer.post_form(f"/awards/{award.id}/amend", {"direction": "decrease", "amount_delta": "-5", "reason": "Negative"})
    assert response.status_code == 200 and "usa-error-message" in _text(response)
    assert not db.session.scalars(sa.select(Amendment)).all()


def test_report_metrics_must_be_whole_numbers_of_zero_or_more(world, make_client):
    award = _make_award(world)
    report = award.reports[0]
    grantee = make_client(world["member"])
    response = grantee.post_form(f"/reports/{report.id}", {"people_served": "-1", "calls_answered": "ten", "referrals": "",
                                                           "awareness_events": "0", "partner_meetings": "2", "narrative": "x"})
    assert response.status_code == 200
    for field_id in ("people_served", "calls_answered", "referrals"):
        _field_error(response, field_id)
    db.session.refresh(report)
    assert report.status == "due"


def test_overdue_reports_and_reports_waiting_for_review(world, make_client):
    past = _make_award(world, start=date(2024, 1, 1), end=date(2024, 12, 31))
    first = past.reports[0]
    awards.submit_report(actor=world["member"], report_id=first.id, narrative="Done",
                         metrics={"people_served": 1, "calls_answered": 2, "referrals": 3, "awareness_events": 4, "partner_meetings": 5})
    db.session.commit()
    page = _text(make_client(world["officer"]).get(f"/programs/{world['program'].id}/reports"))
    overdue, waiting = page.split("<h2>Submitted, waiting for review")
    assert "Overdue (3)" in overdue and "Quarterly report 2" in overdue and "Final report" in overdue
    assert "Quarterly report 1" in waiting and "(1)" in waiting
    assert make_client(world["member"]).get(f"/programs/{world['program'].id}/reports").status_code == 403


def test_finance_summary_totals_are_the_sum_of_the_rows(world, make_client):
    award = _make_award(world)
    paid = _request(world, award, 1_500_000)
    awards.approve_payment(actor=world["finance"], disbursement_id=paid.id)
    awards.mark_paid(actor=world["finance"], disbursement_id=paid.id, paid_on=agency_today(), payment_reference="V-1")
    _request(world, award, 700_000)
    approved = _request(world, award, 200_000)
    awards.approve_payment(actor=world["finance"], disbursement_id=approved.id)
    other_program = factories.make_program(officer=world["officer"], code="AWR", fiscal_year=2026, total_budget_cents=12_345_678, award_ceiling_cents=10_000_000)
    _make_award(world, program=other_program)
    factories.make_program(officer=world["officer"], code="EMP", fiscal_year=2027, total_budget_cents=5_000_000, award_ceiling_cents=5_000_000)
    db.session.commit()
    for user in (world["finance"], world["officer"]):
        rows, totals = _finance_rows(make_client(user).get("/finance"))
        assert len(rows) == 3
        assert totals == [sum(column) for column in zip(*rows.values(), strict=False)]
        approved_only = world["application"].approved_cents
        assert rows[world["program"].id] == [BUDGET, REQUESTED, approved_only, 1_500_000, 700_000, 200_000, BUDGET - REQUESTED - approved_only]
    rows, totals = _finance_rows(make_client(world["finance"]).get("/finance?fiscal_year=2026"))
    assert list(rows) == [other_program.id] and totals == rows[other_program.id]


def test_award_list_filters_and_shows_paid_and_pending(world, make_client):
    award = _make_award(world)
    _request(world, award, 1_000_000)
    other_org = factories.make_organization(members=[world["outsider"]], legal_name="Riverbend Mobile Crisis")
    _make_award(world, organization=other_org, member=world["outsider"])
    browser = make_client(world["finance"])
    page = _text(browser.get("/awards"))
    assert "CRP-2027-A0001" in page and "CRP-2027-A0002" in page
    row = re.search(r"CRP-2027-A0001</a></th>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r'<td class="money">(.*?)</td>', row) == ["$50,000.00", "$0.00", "$10,000.00", "$40,000.00"]
    page = _text(browser.get("/awards?q=riverbend"))
    assert "CRP-2027-A0002" in page and "CRP-2027-A0001" not in page
    page = _text(browser.get("/awards?status=closed&fiscal_year=2027"))
    assert "CRP-2027-A000" not in page and "No awards match the filters" in page
    # Junk in the filters is ignored, not a server error.
    for junk in ("program=%C2%B2&fiscal_year=%C2%B2%C2%B2%C2%B2%C2%B2", "program=99999999999999999999999", "page=99999999999"):
        assert browser.get(f"/awards?{junk}").status_code == 200, junk
    assert browser.get("/finance?fiscal_year=%C2%B2%C2%B2%C2%B2%C2%B2").status_code == 200


def test_applicant_dashboard_lists_awards_with_balance_and_next_report(world, make_client):
    award = _make_award(world)
    _request(world, award, 1_000_000)
    page = _text(make_client(world["member"]).get("/home"))
    section = page.split('id="awards-heading"')[1]
    assert "CRP-2027-A0001" in section and "$40,000.00" in section
    assert "Quarterly report 1: April 30, 2027" in section
    assert f"/awards/{award.id}/payments/request" in section and f"/reports/{award.reports[0].id}" in section
    assert 'id="awards-heading"' not in _text(make_client(world["outsider"]).get("/home"))
    browser = make_client(world["member"])
    for _ in range(3):
        _request(world, _make_award(world), 100_000)
    assert _text(browser.get("/home")).count("Request a payment<span") == 4


# Access ---------------------------------------------------------------------------------------


def test_other_organizations_get_404_and_applicants_403_on_staff_pages(world, make_client):
    award = _make_award(world)
    request = _request(world, award, 100_000, documentation=factories.pdf_upload("invoice.pdf"))
    attachment = db.session.scalars(sa.select(Attachment).where(Attachment.disbursement_id == request.id)).one()
    report = award.reports[0]
    outsider = make_client(world["outsider"])
    for url in (f"/awards/{award.id}", f"/reports/{report.id}", f"/awards/{award.id}/payments/request", f"/attachments/{attachment.id}"):
        assert outsider.get(url).status_code == 404, url
    assert outsider.post_form(f"/awards/{award.id}/payments/request", {"amount": "10", "description": "Mine now"}).status_code == 404
    assert outsider.post_form(f"/reports/{report.id}", {"narrative": "x"}).status_code == 404
    member = make_client(world["member"])
    assert f'href="/attachments/{attachment.id}">invoice.pdf' in _text(member.get(f"/awards/{award.id}"))
    assert member.get(f"/attachments/{attachment.id}").status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Disbursement.id))) == 1

    for user in (world["member"], world["outsider"]):
        browser = make_client(user)
        for url in ("/payments", "/finance", "/awards", f"/awards/{award.id}/amend", f"/awards/{award.id}/payments/record"):
            assert browser.get(url).status_code == 403, url
        for url in (f"/payments/{request.id}/approve", f"/awards/{award.id}/close-out", f"/reports/{report.id}/review"):
            assert browser.post_form(url, {}).status_code == 403, url
    # Finance may read the award but not amend it; a missing award is a 404.
    finance = make_client(world["finance"])
    assert finance.get(f"/awards/{award.id}").status_code == 200
    assert finance.get(f"/awards/{award.id}/amend").status_code == 403
    assert finance.get("/awards/999999").status_code == 404
    assert make_client(world["officer"]).get(f"/reports/{report.id + 10_000}").status_code == 404


def test_admin_reads_the_queue_without_action_forms(world, make_client, admin):
    award = _make_award(world)
    request = _request(world, award, 100_000)
    page = _text(make_client(admin).get("/payments"))
    assert award.award_number in page and f"/payments/{request.id}/approve" not in page
    assert make_client(admin).post_form(f"/payments/{request.id}/approve", {}).status_code == 403


# The payment queue (query counts: test_query_counts.py) ----------------------------------------


def test_payment_queue_lists_requests_to_approve_and_approved_payments_to_mark_paid(world, make_client):
    first, second = _make_award(world), _make_award(world)
    _request(world, first, 100_000)
    _request(world, second, 100_000, documentation=factories.pdf_upload("a.pdf"))
    third, fourth = _make_award(world), _make_award(world)
    for award in (first, second, third, fourth):
        _request(world, award, 100_000, documentation=factories.pdf_upload("b.pdf"))
    for award in (third, fourth):
        approved = _request(world, award, 100_000)
        awards.approve_payment(actor=world["finance"], disbursement_id=approved.id)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Disbursement.id))) == 8
    page = make_client(world["finance"]).get("/payments")
    assert _text(page).count("Mark paid<span") == 2 and _text(page).count("Approve<span") == 6
