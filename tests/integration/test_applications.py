"""The applicant's journey through the web pages, and what staff see of it."""

import io
import os
from datetime import timedelta

import pytest
import sqlalchemy as sa

from grants.applications.models import Application, Attachment
from grants.audit.models import AuditEvent
from grants.clock import to_local
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from tests import factories

PROJECT = {
    "title": "Libraries and buses: crisis care where people are",
    "summary": "Counselors at two branches and the central bus station.",
    "need": "Library and transit staff call police for mental-health crises.",
    "approach": "Responders co-located with partners; staff trained to call 988 and the team.",
    "counties_served": "Cook, Lake",
    "awareness_component": "yes",
    "awareness_plan": "Posters on buses and in branches.",
    "expected_outcomes": "30% fewer police dispatches to partner sites.",
    "action": "continue",
}


@pytest.fixture
def world(app):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    member = factories.make_user(email="member@example.org")
    organization = factories.make_organization(members=[member], legal_name="Lakeside Responders", county="Lake")
    program = factories.make_program(officer=officer, code="CRP", fiscal_year=2027, slug="crp-2027")
    db.session.commit()
    return {"officer": officer, "member": member, "organization": organization, "program": program}


def _upload(data: bytes, name: str):
    return (io.BytesIO(data), name)


def _start(browser, world) -> Application:
    response = browser.post_form("/opportunities/crp-2027/apply", {"organization_id": world["organization"].id})
    assert response.status_code == 302
    return db.session.scalars(sa.select(Application).order_by(Application.id.desc())).first()


def _partner(browser, application, partner_type, name, letter=factories.PDF_BYTES, filename="letter.pdf"):
    return browser.post_form(
        f"/applications/{application.id}/partners",
        {"partner_type": partner_type, "name": name, "contact_name": "Pat Lee", "contact_email": "pat@example.org",
         "role": "Hosts a responder two days a week", "action": "add", "letter": _upload(letter, filename)},
        content_type="multipart/form-data",
    )


def test_applicant_completes_and_submits_an_application(world, make_client):
    browser = make_client(world["member"])
    application = _start(browser, world)
    assert application.reference == "CRP-2027-0001"
    assert b"CRP-2027-0001" in browser.get(f"/applications/{application.id}/project").data

    response = browser.post_form(f"/applications/{application.id}/project", PROJECT)
    assert response.headers["Location"].endswith(f"/applications/{application.id}/partners")
    assert _partner(browser, application, "library", "Riverside Public Library").status_code == 302
    assert _partner(browser, application, "transit", "Metro Transit", factories.PNG_BYTES, "letter.png").status_code == 302

    budget = {
        "lines-0-category": "personnel", "lines-0-description": "Two counselors", "lines-0-amount": "$60,000.00",
        "lines-1-category": "outreach", "lines-1-description": "Posters", "lines-1-amount": "1234.5",
        "lines-2-category": "", "lines-2-description": "", "lines-2-amount": "",
        "match": "$7,000", "action": "continue",
    }
    assert browser.post_form(f"/applications/{application.id}/budget", budget).status_code == 302
    db.session.refresh(application)
    assert application.requested_cents == 6_123_450 and application.match_cents == 700_000

    upload = browser.post_form(f"/applications/{application.id}/attachments", {"kind": "budget_justification", "file": _upload(factories.PDF_BYTES, "justification.pdf"), "action": "upload"}, content_type="multipart/form-data")
    assert upload.status_code == 302

    review = browser.get(f"/applications/{application.id}/submit")
    assert b"Every section is complete" in review.data
    response = browser.post_form(f"/applications/{application.id}/submit", {"certify": "y"})
    assert response.headers["Location"].endswith(f"/applications/{application.id}/confirmation")
    confirmation = browser.get(response.headers["Location"])
    assert b"CRP-2027-0001" in confirmation.data and b"Application submitted" in confirmation.data
    receipt = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "member@example.org")).one()
    assert "CRP-2027-0001" in receipt.body

    # Read-only from now on: the step pages send the applicant to the read-only view, and
    # a posted change is not saved.
    assert browser.get(f"/applications/{application.id}/project").status_code == 302
    browser.post_form(f"/applications/{application.id}/project", {**PROJECT, "title": "Changed after submission"})
    db.session.refresh(application)
    assert application.title == PROJECT["title"] and application.status == "submitted"

    # The program officer finds it, sees every field and screens it.
    officer = make_client(world["officer"])
    page = officer.get(f"/applications/{application.id}").data.decode()
    for text in ("Riverside Public Library", "Metro Transit", "Posters on buses", "$61,234.50", "$7,000.00", "justification.pdf", "application.submitted"):
        assert text in page, text
    screened = officer.post_form(f"/applications/{application.id}/screen", {"decision": "eligible"})
    assert screened.status_code == 302
    db.session.refresh(application)
    assert application.status == "under_review"


def test_submitting_twice_changes_nothing_and_says_why(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    browser = make_client(world["member"])
    token = browser.csrf_token()
    first = browser.post(f"/applications/{application.id}/submit", data={"certify": "y", "csrf_token": token})
    replay = browser.post(f"/applications/{application.id}/submit", data={"certify": "y", "csrf_token": token}, follow_redirects=True)
    assert first.status_code == 302
    assert b"already submitted" in replay.data
    count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "application.submitted"))
    assert count == 1
    receipts = sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.subject.contains("received"), OutboxMessage.to_address == "member@example.org")
    assert db.session.scalar(receipts) == 1


def test_submission_after_the_close_is_refused(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    world["program"].closes_at = factories.utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = make_client(world["member"]).post_form(f"/applications/{application.id}/submit", {"certify": "y"})
    assert response.status_code == 200
    assert b"deadline passed" in response.data
    db.session.refresh(application)
    assert application.status == "draft"


def test_certification_is_required(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    response = make_client(world["member"]).post_form(f"/applications/{application.id}/submit", {})
    assert b"Check the certification" in response.data
    db.session.refresh(application)
    assert application.status == "draft"


def test_bad_money_is_explained_and_saved_budget_is_kept(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    before = application.requested_cents
    browser = make_client(world["member"])
    response = browser.post_form(f"/applications/{application.id}/budget", {
        "lines-0-category": "personnel", "lines-0-description": "Staff", "lines-0-amount": "12abc",
        "lines-1-category": "training", "lines-1-description": "", "lines-1-amount": "-50",
        "match": "lots", "action": "continue",
    })
    html = response.data.decode()
    assert response.status_code == 200
    assert "Enter an amount in dollars" in html and "zero or more" in html and "Describe this line." in html
    assert 'value="12abc"' in html  # the typed text comes back for correction
    db.session.refresh(application)
    assert application.requested_cents == before and len(application.budget_lines) == 2


def test_over_long_answers_are_refused_beside_the_field(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    response = make_client(world["member"]).post_form(f"/applications/{application.id}/project", {**PROJECT, "summary": "x" * 2001})
    assert response.status_code == 200
    assert b"cannot be longer than 2000 characters" in response.data
    db.session.refresh(application)
    assert application.summary == ""


@pytest.mark.parametrize("payload, name", [
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "letter.pdf"),  # a Windows executable renamed
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "letter.pdf"),          # a Linux executable renamed
    (b"%PDF-1.4\n" + b"MZ" + b"\x00" * 100, "polyglot.pdf"),           # a PDF header glued onto something else
    (b"", "empty.pdf"),
])
def test_files_are_judged_by_their_content(world, make_client, payload, name):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    browser = make_client(world["member"])
    response = browser.post_form(f"/applications/{application.id}/attachments", {"kind": "other", "file": _upload(payload, name), "action": "upload"}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert b"not a PDF" in response.data or b"empty" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0
    assert os.listdir(world_upload_folder()) == []


def world_upload_folder():
    from flask import current_app

    return current_app.config["UPLOAD_FOLDER"]


def test_file_name_with_a_path_is_stored_safely(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    browser = make_client(world["member"])
    browser.post_form(f"/applications/{application.id}/attachments", {"kind": "other", "file": _upload(factories.PDF_BYTES, "../../evil.pdf"), "action": "upload"}, content_type="multipart/form-data")
    attachment = db.session.scalars(sa.select(Attachment)).one()
    assert attachment.original_name == "evil.pdf"
    assert os.listdir(world_upload_folder()) == [attachment.stored_name]
    download = browser.get(f"/attachments/{attachment.id}")
    assert download.data == factories.PDF_BYTES
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"] == "application/pdf"


def test_over_size_upload_gets_a_friendly_page(world, make_client, app):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    big = factories.PDF_BYTES + b"0" * 5000
    response = make_client(world["member"]).post_form(f"/applications/{application.id}/attachments", {"kind": "other", "file": _upload(big, "big.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 413
    assert b"File too large" in response.data and b"nothing you saved before has been lost" in response.data


def test_per_file_limit_applies_below_the_request_limit(world, make_client, app):
    app.config["MAX_UPLOAD_MB"] = 0  # every non-empty file is over the per-file limit
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    response = make_client(world["member"]).post_form(f"/applications/{application.id}/attachments", {"kind": "other", "file": _upload(factories.PDF_BYTES, "a.pdf"), "action": "upload"}, content_type="multipart/form-data")
    assert b"larger than 0 MB" in response.data
    assert os.listdir(world_upload_folder()) == []


def test_other_organizations_get_404_for_everything(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    attachment = application.attachments[0]
    outsider = factories.make_user(email="outsider@example.org")
    factories.make_organization(members=[outsider])
    db.session.commit()
    browser = make_client(outsider)
    for url in (f"/applications/{application.id}", f"/applications/{application.id}/project", f"/applications/{application.id}/budget",
                f"/applications/{application.id}/submit", f"/attachments/{attachment.id}"):
        response = browser.get(url)
        assert response.status_code == 404, url
        assert b"Library and transit crisis partnership" not in response.data
    assert browser.post_form(f"/applications/{application.id}/submit", {"certify": "y"}).status_code == 404
    db.session.refresh(application)
    assert application.status == "draft"


def test_every_member_of_the_organization_edits_the_draft(world, make_client):
    colleague = factories.make_user(email="colleague@example.org")
    from grants.accounts.models import Membership

    db.session.add(Membership(user=colleague, organization=world["organization"]))
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    response = make_client(colleague).post_form(f"/applications/{application.id}/project", {**PROJECT, "title": "Edited by a colleague", "action": "later"})
    assert response.status_code == 302
    db.session.refresh(application)
    assert application.title == "Edited by a colleague"


def test_applicant_withdraws_with_a_reason(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    browser = make_client(world["member"])
    browser.post_form(f"/applications/{application.id}/submit", {"certify": "y"})
    assert b"Give a reason." in browser.post_form(f"/applications/{application.id}/withdraw", {"reason": ""}).data
    browser.post_form(f"/applications/{application.id}/withdraw", {"reason": "Partner pulled out"})
    db.session.refresh(application)
    assert application.status == "withdrawn" and application.withdrawn_reason == "Partner pulled out"


def test_officer_grants_an_extension_typed_in_agency_time(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    officer = make_client(world["officer"])
    local = (world["program"].closes_at + timedelta(days=3)).astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago"))
    response = officer.post_form(f"/applications/{application.id}/extension", {"until": local.strftime("%Y-%m-%dT%H:%M"), "reason": "Storm closed the office"})
    assert response.status_code == 302
    db.session.refresh(application)
    assert abs((application.extension_until - local.replace(second=0, microsecond=0)).total_seconds()) < 1
    assert make_client(world["member"]).get(f"/applications/{application.id}/extension").status_code == 403


def test_applicant_home_lists_applications_with_the_next_step(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    page = make_client(world["member"]).get("/home").data.decode()
    assert application.reference in page and "Finish and submit before" in page


def _budget_post(lines: int, action: str) -> dict:
    form = {"match": "$20,000", "action": action}
    for i in range(lines):
        form.update({f"lines-{i}-category": "personnel", f"lines-{i}-description": f"Counselor {i + 1}", f"lines-{i}-amount": "1,000"})
    return form


def test_a_full_budget_offers_no_blank_line_and_says_why(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    browser = make_client(world["member"])
    url = f"/applications/{application.id}/budget"
    assert browser.post_form(url, _budget_post(59, "add_line")).status_code == 302
    page = browser.get(url).data.decode()
    assert 'name="lines-59-category"' in page and "Save and add another line" in page  # the 60th, blank

    saved = browser.post_form(url, _budget_post(60, "add_line"), follow_redirects=True)
    assert saved.status_code == 200
    page = saved.data.decode()
    assert "It has 60 lines, the most a budget can have, so no line was added." in page
    assert 'name="lines-59-category"' in page and 'name="lines-60-category"' not in page
    assert "Save and add another line" not in page
    assert "This budget has 60 lines, the most a budget can have." in page
    assert browser.get(url).status_code == 200  # and on every later visit
    db.session.refresh(application)
    assert len(application.budget_lines) == 60 and application.requested_cents == 6_000_000


def test_more_budget_lines_than_the_limit_are_refused_and_nothing_is_lost(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    before = [(line.description, line.amount_cents) for line in application.budget_lines]
    requested = application.requested_cents
    response = make_client(world["member"]).post_form(f"/applications/{application.id}/budget", _budget_post(61, "continue"))
    assert response.status_code == 200
    page = response.data.decode()
    assert "A budget can have at most 60 lines and 61 were sent. Nothing was saved" in page
    assert 'id="budget-lines-error"' in page and 'href="#budget-lines-error"' in page  # beside the table, linked from the summary
    db.session.expire_all()
    application = db.session.get(Application, application.id)
    assert [(line.description, line.amount_cents) for line in application.budget_lines] == before
    assert application.requested_cents == requested


PARTNER = {"partner_type": "library", "name": "Northside Branch Library", "contact_name": "Sam Reyes",
           "contact_email": "sam@example.org", "role": "Hosts office hours"}


def test_save_and_continue_adds_the_partner_typed_in(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    browser = make_client(world["member"])
    url = f"/applications/{application.id}/partners"
    page = browser.get(url).data.decode()
    form = page[page.index("<h2>Add a partner</h2>"):]
    form = form[:form.index("</form>")]
    assert 'name="partner_type"' in form and 'value="continue"' in form  # one form: continuing sends the fields

    response = browser.post_form(url, {**PARTNER, "letter": _upload(factories.PDF_BYTES, "commitment.pdf"), "action": "continue"},
                                 content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/applications/{application.id}/budget")
    db.session.refresh(application)
    assert [p.name for p in application.partners] == ["Northside Branch Library"]
    assert application.partners[0].commitment_letter.original_name == "commitment.pdf"

    # Nothing typed: continuing just moves on.
    assert browser.post_form(url, {"partner_type": "", "name": "", "action": "later"}).status_code == 302
    db.session.refresh(application)
    assert len(application.partners) == 1


def test_save_and_continue_with_an_invalid_partner_stays_and_explains(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    response = make_client(world["member"]).post_form(
        f"/applications/{application.id}/partners",
        {**PARTNER, "contact_email": "not an address", "letter": _upload(factories.PDF_BYTES, "commitment.pdf"), "action": "continue"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    page = response.data.decode()
    assert "data-error-summary" in page and 'href="#contact_email"' in page
    assert 'id="contact_email-error"' in page and "Enter an e-mail address like name@example.org." in page
    assert 'value="Northside Branch Library"' in page  # what was typed comes back
    assert "Choose commitment.pdf again" in page and 'id="letter-error"' in page
    db.session.refresh(application)
    assert application.partners == []
    assert os.listdir(world_upload_folder()) == []


def test_save_and_continue_uploads_the_chosen_file(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"], complete=False)
    db.session.commit()
    browser = make_client(world["member"])
    url = f"/applications/{application.id}/attachments"
    # A file without its type: refused beside the type, nothing stored.
    refused = browser.post_form(url, {"kind": "", "file": _upload(factories.PDF_BYTES, "chart.pdf"), "action": "continue"},
                                content_type="multipart/form-data")
    assert refused.status_code == 200
    assert b"Choose the document type." in refused.data and b"Choose chart.pdf again" in refused.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0

    response = browser.post_form(url, {"kind": "organizational_chart", "file": _upload(factories.PDF_BYTES, "chart.pdf"), "action": "continue"},
                                 content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/applications/{application.id}/submit")
    db.session.refresh(application)
    assert [(a.original_name, a.kind) for a in application.attachments] == [("chart.pdf", "organizational_chart")]


def test_a_replayed_submit_without_the_certification_says_it_was_submitted(world, make_client):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    browser = make_client(world["member"])
    assert browser.post_form(f"/applications/{application.id}/submit", {"certify": "y"}).status_code == 302
    replay = browser.post_form(f"/applications/{application.id}/submit", {}, follow_redirects=True)
    assert replay.status_code == 200
    assert b"already submitted" in replay.data and b"Check the certification" not in replay.data
    count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "application.submitted"))
    assert count == 1


def test_an_extension_outlasts_the_program_closing(world, make_client):
    from grants.applications import services
    from grants.programs import services as programs

    program = world["program"]
    extended = factories.make_application(program=program, organization=world["organization"], actor=world["member"])
    other = factories.make_application(program=program, organization=world["organization"], actor=world["member"])
    services.grant_extension(actor=world["officer"], application=extended, until=factories.utcnow() + timedelta(days=40), reason="Flooded office")
    programs.change_program_status(actor=world["officer"], program=program, status="closed")
    db.session.commit()
    browser = make_client(world["member"])
    page = browser.get(f"/applications/{extended.id}/submit").data.decode()
    assert "not accepting applications" not in page
    assert browser.post_form(f"/applications/{extended.id}/submit", {"certify": "y"}).status_code == 302
    refused = browser.post_form(f"/applications/{other.id}/submit", {"certify": "y"})
    assert b"not accepting applications" in refused.data
    db.session.refresh(extended)
    db.session.refresh(other)
    assert (extended.status, other.status) == ("submitted", "draft")


def test_an_extension_must_end_in_the_future_and_not_on_an_archived_program(world, make_client):
    from grants.programs import services as programs

    def local(instant):
        return to_local(instant).strftime("%Y-%m-%dT%H:%M")

    program = world["program"]
    draft = factories.make_application(program=program, organization=world["organization"], actor=world["member"])
    program.closes_at = factories.utcnow() - timedelta(days=10)
    db.session.commit()
    officer = make_client(world["officer"])
    past = factories.utcnow() - timedelta(days=2)
    response = officer.post_form(f"/applications/{draft.id}/extension", {"until": local(past), "reason": "Flooded office"})
    assert response.status_code == 200 and b"An extension must end in the future." in response.data
    programs.change_program_status(actor=world["officer"], program=program, status="closed")
    programs.change_program_status(actor=world["officer"], program=program, status="archived")
    db.session.commit()
    response = officer.post_form(f"/applications/{draft.id}/extension",
                                 {"until": local(factories.utcnow() + timedelta(days=5)), "reason": "Flooded office"}, follow_redirects=True)
    assert b"an extension applies only while the program is published or closed" in response.data
    db.session.refresh(draft)
    assert draft.extension_until is None


def test_admin_reads_an_application_but_gets_no_officer_actions(world, make_client, admin):
    application = factories.make_application(program=world["program"], organization=world["organization"], actor=world["member"])
    db.session.commit()
    browser = make_client(admin)
    listing = browser.get(f"/programs/{world['program'].id}/applications").data.decode()
    assert f'href="/applications/{application.id}"' in listing
    page = browser.get(f"/applications/{application.id}").data.decode()
    assert "Library and transit crisis partnership" in page and "Library Partner" in page
    assert "application.started" in page  # the history, as a program officer sees it
    for action in ("Program officer actions", "Grant a deadline extension", "Record screening", "Continue editing",
                   "Review and submit", "Withdraw this application", f"/applications/{application.id}/screen"):
        assert action not in page, action
    letter = application.partners[0].commitment_letter
    download = browser.get(f"/attachments/{letter.id}")
    assert download.status_code == 200 and download.data == factories.PDF_BYTES
    assert browser.get(f"/applications/{application.id}/extension").status_code == 403
    assert browser.get(f"/applications/{application.id}/project").status_code == 403

    # Submitted, it is screened by a program officer only.
    from grants.applications import services

    services.submit_application(actor=world["member"], application_id=application.id, certified=True)
    db.session.commit()
    page = browser.get(f"/applications/{application.id}").data.decode()
    assert "Submitted" in page and "Record screening" not in page and "Program officer actions" not in page
    assert browser.post_form(f"/applications/{application.id}/screen", {"decision": "eligible"}).status_code == 403
    db.session.refresh(application)
    assert application.status == "submitted"
