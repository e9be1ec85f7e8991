"""When the upload folder cannot be written (a full disk, a lost network share, wrong permissions).

The person is told that nothing was saved and to try again, beside the file field of the form they
filled in, which comes back with what they typed; nothing half-made is kept.
"""

from __future__ import annotations

import html
import io
import logging
import re

import pytest
import sqlalchemy as sa

from grants.applications.models import Attachment, Partner
from grants.awards.models import Disbursement
from grants.extensions import db
from tests import factories


@pytest.fixture
def uploads_break(app, tmp_path):
    """From now on the upload folder cannot be written (a full disk, a lost share)."""

    def unwritable():
        # The tests run as root, whom permissions do not stop: a folder under a plain file cannot be made.
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        app.config["UPLOAD_FOLDER"] = str(blocker / "uploads")

    return unwritable


def _error_beside(response, field: str) -> str:
    match = re.search(rf'id="{field}-error" role="alert">(.*?)</span>', response.get_data(as_text=True), re.S)
    assert match, f"no error beside {field}"
    return html.unescape(match.group(1)).strip()


STORAGE_MESSAGE = "We could not store your file just now, so nothing was saved."


def test_a_payment_request_keeps_what_was_typed_when_its_file_cannot_be_stored(make_client, uploads_break, caplog):
    member = factories.make_user(email="member@example.org")
    award = factories.make_award(member=member)
    db.session.commit()
    uploads_break()

    with caplog.at_level(logging.ERROR):
        response = make_client(member).post_form(f"/awards/{award.id}/payments/request", {
            "amount": "12,345.67", "period_start": "2027-01-01", "period_end": "2027-03-31",
            "description": "Counselor salaries for the first quarter",
            "documentation": (io.BytesIO(factories.PDF_BYTES), "invoice.pdf")})

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _error_beside(response, "documentation").startswith(STORAGE_MESSAGE)
    assert "try again in a moment" in _error_beside(response, "documentation")
    assert 'value="12,345.67"' in page and "Counselor salaries for the first quarter" in page and 'value="2027-03-31"' in page
    assert db.session.scalar(sa.select(sa.func.count(Disbursement.id))) == 0
    assert "could not store an upload" in caplog.text  # the operator learns why


def test_attachments_and_commitment_letters_say_the_same_and_save_nothing(make_client, uploads_break):
    owner = factories.make_user(email="owner@example.org")
    organization = factories.make_organization(members=[owner])
    program = factories.make_program(officer=factories.make_user(email="po@state.gov", roles={"program_officer"}))
    application = factories.make_application(program=program, organization=organization, actor=owner, partners=())
    db.session.commit()
    browser = make_client(owner)
    uploads_break()

    attached = browser.post_form(f"/applications/{application.id}/attachments", {
        "kind": "other", "file": (io.BytesIO(factories.PDF_BYTES), "plan.pdf")})
    assert attached.status_code == 200
    assert _error_beside(attached, "file").startswith(STORAGE_MESSAGE)

    partner = browser.post_form(f"/applications/{application.id}/partners", {
        "partner_type": "library", "name": "Riverside Public Library", "contact_name": "Rita Reader",
        "contact_email": "rita@library.example.org", "role": "Hosts weekly drop-in hours",
        "letter": (io.BytesIO(factories.PDF_BYTES), "letter.pdf")})
    assert partner.status_code == 200
    assert _error_beside(partner, "letter").startswith(STORAGE_MESSAGE)
    assert "Riverside Public Library" in partner.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Attachment.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Partner.id))) == 0
