"""Invariant 8: a creating form sent again after a lost answer changes nothing and gets the first result.

Each form here is posted twice with the same one-time key, as a browser resends a page whose
answer was lost: one row is created, and the second answer leads where the first did.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from grants.accounts.models import Organization, User
from grants.applications.models import Application, Attachment, Partner
from grants.audit.models import AuditEvent
from grants.awards.models import Amendment, Award, Disbursement
from grants.db import utcnow
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.programs.models import Criterion, Program
from grants.reviews.models import Decision
from grants.submissions import SubmissionKey, new_submission_key
from tests import factories
from tests.race import race
from tests.security.hostile import Upload
from tests.security.test_hostile_input import (
    METRICS,
    ORGANIZATION,
    PARTNER,
    _active_award,
    _approved,
    _draft_program,
    _program_form,
    _under_review,
)
from tests.security.world import World, build_world

PDF = Upload(factories.PDF_BYTES, "receipt.pdf")
ALREADY = "This was already submitted; here is what was recorded."


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


@dataclass
class CreatingForm:
    name: str
    user: str
    url: Callable[[World, dict], str]
    data: Callable[[World, dict], dict]          # called for every post (files are fresh streams)
    made: Callable[[World, dict], int]           # how many of what the form creates exist
    setup: Callable[[World], dict] | None = None
    multipart: bool = False
    resent_message: str = ALREADY  # what the resend is told on the page it is sent to


FORMS = [
    CreatingForm("payment request", "owner", lambda w, x: f"/awards/{w.award.id}/payments/request",
                 lambda w, x: {"amount": "1,000.00", "description": "Counselor salaries", "documentation": PDF.as_form_value()},
                 lambda w, x: count(Disbursement, Disbursement.award_id == w.award.id), multipart=True),
    CreatingForm("payment recorded by hand", "finance", lambda w, x: f"/awards/{w.award.id}/payments/record",
                 lambda w, x: {"amount": "1,000.00", "paid_on": "2026-11-20", "payment_reference": "CHK-1001", "description": ""},
                 lambda w, x: count(Disbursement, Disbursement.award_id == w.award.id)),
    CreatingForm("amendment", "officer", lambda w, x: f"/awards/{w.award.id}/amend",
                 lambda w, x: {"direction": "decrease", "amount_delta": "1,000", "reason": "Smaller scope"},
                 lambda w, x: count(Amendment, Amendment.award_id == w.award.id)),
    CreatingForm("progress report", "owner", lambda w, x: f"/reports/{x['report'].id}",
                 lambda w, x: {**METRICS, "narrative": "A busy quarter."},
                 lambda w, x: count(AuditEvent, AuditEvent.action == "report.submitted"), setup=_active_award),
    CreatingForm("award", "officer", lambda w, x: f"/applications/{x['application'].id}/award",
                 lambda w, x: {"amount": "50,000", "start_date": "2027-01-01", "end_date": "2027-12-31", "conditions": ""},
                 lambda w, x: count(Award, Award.application_id == x["application"].id), setup=_approved,
                 resent_message="already has award"),  # the page's own check for an awarded application answers first
    CreatingForm("decision", "officer", lambda w, x: f"/applications/{x['application'].id}/decide",
                 lambda w, x: {"outcome": "waitlisted", "rationale": "Strong, but the budget is spent."},
                 lambda w, x: count(Decision, Decision.application_id == x["application"].id), setup=_under_review),
    CreatingForm("new application", "owner", lambda w, x: f"/opportunities/{w.program.slug}/apply",
                 lambda w, x: {"organization_id": str(w.organization.id)},
                 lambda w, x: count(Application, Application.organization_id == w.organization.id)),
    CreatingForm("partner", "owner", lambda w, x: f"/applications/{w.draft.id}/partners",
                 lambda w, x: {**PARTNER, "letter": PARTNER["letter"].as_form_value(), "action": "add"},
                 lambda w, x: count(Partner, Partner.application_id == w.draft.id), multipart=True),
    CreatingForm("attachment", "owner", lambda w, x: f"/applications/{w.draft.id}/attachments",
                 lambda w, x: {"kind": "other", "file": PDF.as_form_value(), "action": "upload"},
                 lambda w, x: count(Attachment, Attachment.application_id == w.draft.id), multipart=True),
    CreatingForm("new organization", "owner", lambda w, x: "/organizations/new", lambda w, x: dict(ORGANIZATION),
                 lambda w, x: count(Organization)),
    CreatingForm("invitation", "owner", lambda w, x: f"/organizations/{w.organization.id}/invite",
                 lambda w, x: {"email": "new.colleague@example.org"},
                 lambda w, x: count(OutboxMessage, OutboxMessage.to_address == "new.colleague@example.org")),
    CreatingForm("program", "officer", lambda w, x: "/programs/new", lambda w, x: _program_form("transit-2027", "TRP"),
                 lambda w, x: count(Program)),
    CreatingForm("criterion", "officer", lambda w, x: f"/programs/{x['program'].id}/rubric",
                 lambda w, x: {"name": "Partnership strength", "guidance": "", "max_points": "10", "weight": "2"},
                 lambda w, x: count(Criterion, Criterion.program_id == x["program"].id), setup=_draft_program),
    CreatingForm("staff account", "admin", lambda w, x: "/admin/users/new",
                 lambda w, x: {"name": "Nia New", "email": "nia@state.gov", "roles": ["finance"]},
                 lambda w, x: count(User)),
]


def _prepare(app, make_client, form: CreatingForm):
    world = build_world()
    extra = form.setup(world) if form.setup else {}
    db.session.commit()
    return world, extra, make_client(world.users[form.user])


def _post(browser, form: CreatingForm, world, extra, key: str | None, **overrides):
    return _send(browser, form, form.url(world, extra), {**form.data(world, extra), **overrides}, key)


def _send(browser, form: CreatingForm, url: str, data: dict, key: str | None):
    if key is not None:
        data["submission_key"] = key
    kwargs = {"content_type": "multipart/form-data"} if form.multipart else {}
    return browser.post_form(url, data, **kwargs)


def _flashes(browser) -> list[str]:
    with browser.session_transaction() as session:
        return [message for _category, message in session.pop("_flashes", [])]


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.name)
def test_the_same_submission_sent_twice_creates_one_and_answers_with_the_first_result(app, make_client, form):
    world, extra, browser = _prepare(app, make_client, form)
    before = form.made(world, extra)
    key = new_submission_key()

    first = _post(browser, form, world, extra, key)
    assert first.status_code == 302, re.findall(r"usa-error-message[^>]*>([^<]*)|<li>([^<]*)</li>|usa-alert__text[^>]*>([^<]*)", first.get_data(as_text=True))
    assert form.made(world, extra) == before + 1
    assert ALREADY not in _flashes(browser)

    resent = _post(browser, form, world, extra, key)
    assert resent.status_code == 302
    assert resent.headers["Location"] == first.headers["Location"]
    assert form.made(world, extra) == before + 1
    assert any(form.resent_message in message for message in _flashes(browser))


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.name)
def test_each_creating_page_carries_its_key(app, make_client, form):
    world, extra, browser = _prepare(app, make_client, form)
    page = browser.get(form.url(world, extra) if form.name != "invitation" else f"/organizations/{world.organization.id}")
    if form.name == "decision":
        page = browser.get(f"/applications/{extra['application'].id}/reviews")
    assert page.status_code == 200
    keys = re.findall(r'<input id="submission_key" name="submission_key" type="hidden" value="([^"]+)">', page.get_data(as_text=True))
    assert len(keys) == 1 and len(keys[0]) >= 40


def test_a_payment_request_without_a_key_is_refused_with_a_message_and_a_new_key(app, make_client):
    form = FORMS[0]
    world, extra, browser = _prepare(app, make_client, form)
    before = form.made(world, extra)
    for key in ("", "not a key", "x" * 65):
        response = _post(browser, form, world, extra, key)
        text = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "This form was out of date and nothing was saved." in text
        assert 'value="Counselor salaries"' in text or "Counselor salaries</textarea>" in text  # what was typed is kept
        fresh = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', text).group(1)
        assert fresh != key and len(fresh) >= 40
    assert form.made(world, extra) == before
    assert count(SubmissionKey) == 0


def test_a_form_shown_again_with_a_mistake_keeps_its_key_and_the_corrected_one_is_created(app, make_client):
    form = FORMS[0]
    world, extra, browser = _prepare(app, make_client, form)
    before = form.made(world, extra)
    key = new_submission_key()
    refused = _post(browser, form, world, extra, key, amount="a lot")
    assert refused.status_code == 200
    assert f'value="{key}"' in refused.get_data(as_text=True)
    # A refusal by the service (more than remains on the award) also leaves the key unused.
    too_much = _post(browser, form, world, extra, key, amount="999,999,999.00")
    assert too_much.status_code == 200 and f'value="{key}"' in too_much.get_data(as_text=True)
    assert count(SubmissionKey) == 0
    corrected = _post(browser, form, world, extra, key)
    assert corrected.status_code == 302
    assert form.made(world, extra) == before + 1


def test_another_users_key_neither_reveals_nor_blocks_their_submission(app, make_client):
    form = FORMS[4]  # an award: the officer makes it
    world, extra, officer = _prepare(app, make_client, form)
    key = new_submission_key()
    assert _post(officer, form, world, extra, key).status_code == 302
    # The same key sent by someone else's browser is theirs to use: it is not the officer's submission.
    other = factories.make_user(email="second.officer@state.gov", roles={"program_officer"})
    program = _draft_program(world)["program"]
    db.session.commit()
    browser = make_client(other)
    response = browser.post_form(f"/programs/{program.id}/rubric",
                                 {"name": "Reach", "guidance": "", "max_points": "5", "weight": "1", "submission_key": key})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/programs/{program.id}/rubric")
    assert ALREADY not in _flashes(browser)
    assert count(SubmissionKey, SubmissionKey.key == key) == 2


@pytest.mark.parametrize("form", [FORMS[0], FORMS[5], FORMS[9]], ids=lambda form: form.name)
def test_two_identical_submissions_at_once_create_one(app, make_client, form):
    world, extra, _ = _prepare(app, make_client, form)
    user = world.users[form.user]
    browsers = [make_client(user), make_client(user)]  # two connections of one browser: same user, same key
    before = form.made(world, extra)
    key = new_submission_key()
    # Everything read from the test's objects is read here: the threads only send.
    url, sendings = form.url(world, extra), [form.data(world, extra) for _ in browsers]
    for browser in browsers:
        browser.csrf_token()
    answers = []
    outcomes, errors = race(app, [lambda b=b, d=d: answers.append(_send(b, form, url, d, key)) for b, d in zip(browsers, sendings, strict=False)])
    assert errors == [] and outcomes == ["ok", "ok"]
    assert sorted(answer.status_code for answer in answers) == [302, 302]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert form.made(world, extra) == before + 1


def test_old_keys_are_pruned(app, make_client):
    form = FORMS[10]
    world, extra, browser = _prepare(app, make_client, form)
    assert _post(browser, form, world, extra, new_submission_key()).status_code == 302
    db.session.execute(sa.update(SubmissionKey).values(created_at=utcnow() - timedelta(days=8)))
    assert _post(browser, form, world, extra, new_submission_key(), email="another@example.org").status_code == 302
    result = CliRunner().invoke(app.cli, ["grants", "prune-submission-keys"], catch_exceptions=False)
    assert "Removed 1 submission key(s) older than 7 days." in result.output
    assert count(SubmissionKey) == 1
