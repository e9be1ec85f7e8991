"""Hostile input: generated payloads to every form, hostile uploads, formula injection, open redirects.

The property for every form: the app never answers 500; a POST either succeeds (a redirect, as
every form here does after a change) or is refused with a message the user can see (on the page,
or flashed for the page a button-like form redirects to), and then nothing in the database or the
upload folder has changed. Filters (GET) answer 200 and change nothing. Each test builds its
objects once; hypothesis then sends its examples one after another. Every POST endpoint of the app
is in FORMS or, with its reason, in NOT_FORMS.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from grants.accounts import services as accounts
from grants.accounts.models import Organization, User
from grants.applications import services as applications
from grants.applications.models import Application, Attachment, Partner
from grants.awards import services as awards
from grants.awards.models import Award, Disbursement
from grants.clock import agency_today, to_local
from grants.db import utcnow
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.programs.models import Program
from grants.reviews import services as reviews
from grants.reviews.models import ReviewAssignment
from grants.submissions import new_submission_key
from tests import factories
from tests.security.hostile import (
    HOSTILE_FILES,
    Upload,
    changed_tables,
    database_state,
    extra_field_names,
    form_data,
    payloads,
    shows_a_message,
)
from tests.security.world import World, build_world, complete_application

# Enough to find the easy breakages on every run; GRANTS_HYPOTHESIS_EXAMPLES=300 for a deeper search.
EXAMPLES = int(os.environ.get("GRANTS_HYPOTHESIS_EXAMPLES", "30"))
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ files; a failure prints its seed and minimal example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.function_scoped_fixture],
)
CSRF = object()  # stands for the browser's real CSRF token (which a mutation may replace or drop)
KEY = object()  # stands for a freshly shown page's one-time submission key (likewise)
PDF = Upload(factories.PDF_BYTES, "letter.pdf")


def local(instant) -> str:
    return to_local(instant).strftime("%Y-%m-%dT%H:%M")


# Objects some forms need besides the world -------------------------------------------------------


def _submitted_unscreened(world: World) -> dict:
    owner = world.users["owner"]
    application = complete_application(program=world.program, organization=world.organization, actor=owner,
                                       title="Awaiting screening", partners=[("library", "Screening Library")])
    applications.submit_application(actor=owner, application_id=application.id, certified=True)
    return {"application": application}


def _approved(world: World) -> dict:
    owner, officer = world.users["owner"], world.users["officer"]
    application = complete_application(program=world.program, organization=world.organization, actor=owner,
                                       title="Approved, not yet awarded", partners=[("transit", "Approved Transit")], attachment=False)
    applications.submit_application(actor=owner, application_id=application.id, certified=True)
    applications.screen_application(actor=officer, application=application, eligible=True, reason=None)
    reviews.decide(actor=officer, application_id=application.id, outcome="approved", flags_read=True, approved_cents=None, rationale="Good")
    return {"application": application}


def _under_review(world: World) -> dict:
    owner = world.users["owner"]
    application = complete_application(program=world.program, organization=world.organization, actor=owner,
                                       title="Under review", partners=[("library", "Review Library")], attachment=False)
    applications.submit_application(actor=owner, application_id=application.id, certified=True)
    applications.screen_application(actor=world.users["officer"], application=application, eligible=True, reason=None)
    return {"application": application}


def _replaceable(world: World) -> dict:
    """A pending assignment and a reviewer free to take it over (a replacement uses the assignment up)."""
    leaving, arriving = (factories.make_user(roles={"reviewer"}) for _ in range(2))
    assignment = reviews.assign_reviewer(actor=world.users["officer"], application=world.submitted, reviewer=leaving)
    return {"assignment": assignment, "reviewer": arriving}


def _active_award(world: World) -> dict:
    officer = world.users["officer"]
    application = _approved(world)["application"]
    award = awards.create_award(actor=officer, application_id=application.id, amount_cents=None,
                                start_date=date(2027, 1, 1), end_date=date(2027, 12, 31), conditions="")
    awards.activate_award(actor=officer, award_id=award.id, signed_on=date(2026, 11, 1))
    return {"award": award, "report": min(award.reports, key=lambda r: r.sequence)}


def _empty_draft(world: World) -> dict:
    return {"application": applications.start_application(actor=world.users["owner"], program=world.program,
                                                          organization=world.organization)}


def _draft_program(world: World) -> dict:
    program = factories.make_program(officer=world.users["officer"], status="draft", name="Draft round", slug="draft-round", code="DRF")
    return {"program": program, "criterion": program.criteria[0]}


def _fresh_draft_program(world: World) -> dict:
    """A draft program of its own (unique slug and code), its middle criterion movable either way."""
    program = factories.make_program(officer=world.users["officer"], status="draft")
    return {"program": program, "criterion": program.criteria[1]}


def _reset_token(world: World) -> dict:
    # A successful reset changes the password, which spends the link: the next example needs a new one.
    return {"token": accounts.password_reset_token(world.users["owner"])}


def _invitee(world: World) -> dict:
    invitee = factories.make_user(email="invitee@nowhere.org", name="Ivy Invitee")
    return {"invitee": invitee, "token": world.invitation_token}


def _pending_award(world: World) -> dict:
    application = _approved(world)["application"]
    award = awards.create_award(actor=world.users["officer"], application_id=application.id, amount_cents=None,
                                start_date=date(2027, 1, 1), end_date=date(2027, 12, 31), conditions="")
    return {"award": award}


def _requested_payment(world: World) -> dict:
    payment = awards.request_payment(actor=world.users["owner"], award_id=world.award.id, amount_cents=10_000, period_start=None,
                                     period_end=None, description="Mileage", documentation=factories.pdf_upload("receipt.pdf"))
    return {"payment": payment}


def _approved_payment(world: World) -> dict:
    payment = _requested_payment(world)["payment"]
    awards.approve_payment(actor=world.users["finance"], disbursement_id=payment.id, comment="")
    return {"payment": payment}


def _submitted_report(world: World) -> dict:
    report = _active_award(world)["report"]
    awards.submit_report(actor=world.users["owner"], report_id=report.id, metrics={key: 1 for key in METRICS},
                         narrative="A quiet quarter.")
    return {"report": report}


def _scored_round(world: World) -> dict:
    """A program of its own with one scored application, so approving above its line approves that one."""
    officer = world.users["officer"]
    program = factories.make_program(officer=officer)
    application = factories.make_eligible_application(program=program, organization=world.organization,
                                                      actor=world.users["owner"], officer=officer)
    factories.review(officer=officer, application=application, reviewer=factories.make_user(roles={"reviewer"}), points=[8, 15, 25])
    return {"program": program, "line": reviews.funding_line(program, order="raw", reserve_partner_types=True).digest}


def _program_form(slug: str, code: str) -> dict:
    now = utcnow()
    return {
        "name": "Transit Partnerships", "slug": slug, "code": code, "description": "Responders at transit hubs.",
        "fiscal_year": "2027", "funding_source_code": "GF-4410", "total_budget_cents": "$1,000,000.00",
        "award_floor_cents": "25,000", "award_ceiling_cents": "250000.50", "match_percent": "10",
        "opens_at": local(now - timedelta(days=1)), "closes_at": local(now + timedelta(days=30)),
        "review_deadline": local(now + timedelta(days=60)), "eligible_partner_types": ["library", "transit"],
        "reviewers_per_application": "3", "score_spread_threshold": "20", "share_reviewer_comments": "y",
    }


ORGANIZATION = {
    "legal_name": "Lakeside Crisis Response", "ein": "12-3456789", "uei": "ABCD1234EFGH", "org_type": "nonprofit",
    "county": "Lake", "address_line1": "9 Shore Rd", "address_line2": "", "city": "Waukegan", "state": "IL",
    "postal_code": "60085", "contact_name": "Lee", "contact_email": "lee@example.org", "contact_phone": "(312) 555-0100",
}
PROJECT = {
    "title": "Buses and branches", "summary": "Counselors at branches.", "need": "Crises at stations.",
    "approach": "Co-located responders.", "counties_served": "Cook, Lake", "awareness_component": "yes",
    "awareness_plan": "Posters.", "expected_outcomes": "Fewer dispatches.", "action": "continue",
}
PARTNER = {"partner_type": "library", "name": "North Branch Library", "contact_name": "Pat Lee",
           "contact_email": "pat@example.org", "role": "Hosts a responder", "letter": PDF}
METRICS = {"people_served": "120", "calls_answered": "300", "referrals": "40", "awareness_events": "3", "partner_meetings": "6"}


def _budget_indices() -> st.SearchStrategy[str]:
    """Budget line field names with odd indices: unicode digits, huge, negative, missing parts."""
    index = st.sampled_from(["²", "٣", "１", "99999999999999999999", "-1", "", "0x1", "60", "61", "1000"])
    part = st.sampled_from(["category", "description", "amount", "csrf_token", "", "x"])
    return st.one_of(st.builds(lambda i, p: f"lines-{i}-{p}", index, part), extra_field_names())


@dataclass
class Form:
    name: str
    endpoint: str                    # the view it posts to (checked against the URL; see test_every_post_endpoint_is_in_forms)
    user: str | None                 # the kind of user who fills it in, from the world or the setup's objects
                                     # (None: a new anonymous browser each time)
    url: Callable[[World, dict], str]
    base: Callable[[World, dict], dict]
    setup: Callable[[World], dict] | None = None
    method: str = "POST"
    multipart: bool = False
    fixed: dict = field(default_factory=dict)     # sent as is, never mutated
    may_change: tuple[str, ...] = ()              # tables a refusal may legitimately change
    extra_names: Callable[[], st.SearchStrategy] | None = None
    file_fields: tuple[str, ...] = ()
    # For forms whose success uses up their object (a decision, a termination): a new one, so the
    # next example meets the form in the state it is made for, where a refusal can be shown.
    fresh: Callable[[World], dict] | None = None
    # For forms that answer every POST with a redirect: a refusal is a flashed message on the next page.
    flashes: bool = False


FORMS = [
    # Accounts
    Form("registration", "accounts.register", None, lambda w, x: "/register",
         lambda w, x: {"name": "Rita Register", "email": "rita@example.org", "password": "a long enough password",
                       "confirm": "a long enough password"}),
    # A wrong password for a real account counts a failure (and, repeated, pauses that address from
    # this client with a 429): that change is the point of throttling.
    Form("login", "accounts.login", None, lambda w, x: "/login",
         lambda w, x: {"email": w.users["owner"].email, "password": factories.PASSWORD},
         may_change=("user", "sign_in_throttle", "audit_event", "audit_head")),
    Form("forgot password", "accounts.forgot_password", None, lambda w, x: "/password/forgot",
         lambda w, x: {"email": w.users["owner"].email}),
    Form("reset password", "accounts.reset_password", None, lambda w, x: f"/password/reset/{x['token']}",
         lambda w, x: {"password": "a fresh long password", "confirm": "a fresh long password"},
         setup=_reset_token, fresh=_reset_token),
    Form("change password", "accounts.change_password", "owner", lambda w, x: "/account/password",
         lambda w, x: {"current_password": factories.PASSWORD, "password": "another long password", "confirm": "another long password"}),
    Form("new organization", "accounts.new_organization", "owner", lambda w, x: "/organizations/new", lambda w, x: dict(ORGANIZATION)),
    Form("edit organization", "accounts.edit_organization", "owner", lambda w, x: f"/organizations/{w.organization.id}/edit",
         lambda w, x: {**ORGANIZATION, "ein": w.organization.ein}),
    Form("invite member", "accounts.invite_member", "owner", lambda w, x: f"/organizations/{w.organization.id}/invite",
         lambda w, x: {"email": "new@example.org"}),
    # Accepting twice is a success that changes nothing; a refusal (wrong address, bad link) is flashed.
    Form("accept invitation", "accounts.accept_invitation", "invitee", lambda w, x: f"/invitations/{x['token']}",
         lambda w, x: {}, setup=_invitee, flashes=True),
    # Programs
    Form("new program", "programs.new_program", "officer", lambda w, x: "/programs/new", lambda w, x: _program_form("transit-2027", "TRP")),
    Form("edit program", "programs.edit_program", "officer", lambda w, x: f"/programs/{x['program'].id}/edit",
         lambda w, x: _program_form("draft-round", "DRF"), setup=_draft_program),
    Form("add criterion", "programs.rubric", "officer", lambda w, x: f"/programs/{x['program'].id}/rubric",
         lambda w, x: {"name": "Partnership strength", "guidance": "Strong letters", "max_points": "10", "weight": "2"},
         setup=_draft_program),
    Form("edit criterion", "programs.edit_criterion", "officer",
         lambda w, x: f"/programs/{x['program'].id}/rubric/{x['criterion'].id}/edit",
         lambda w, x: {"name": "Renamed", "guidance": "", "max_points": "20", "weight": "3"}, setup=_draft_program),
    Form("program status", "programs.change_status", "officer", lambda w, x: f"/programs/{x['program'].id}/status",
         lambda w, x: {"status": "published"}, setup=_fresh_draft_program, fresh=_fresh_draft_program, flashes=True),
    Form("move criterion", "programs.move_criterion", "officer",
         lambda w, x: f"/programs/{x['program'].id}/rubric/{x['criterion'].id}/move",
         lambda w, x: {"direction": "up"}, setup=_fresh_draft_program, fresh=_fresh_draft_program, flashes=True),
    # Application steps
    Form("start application", "applications.start", "owner", lambda w, x: f"/opportunities/{w.program.slug}/apply",
         lambda w, x: {"organization_id": str(w.organization.id)}),
    Form("project", "applications.project", "owner", lambda w, x: f"/applications/{w.draft.id}/project", lambda w, x: dict(PROJECT)),
    Form("add partner", "applications.partners", "owner", lambda w, x: f"/applications/{w.draft.id}/partners", lambda w, x: dict(PARTNER),
         multipart=True, fixed={"action": "add"}, file_fields=("letter",)),
    Form("edit partner", "applications.edit_partner", "owner", lambda w, x: f"/applications/{w.draft.id}/partners/{w.draft_partner.id}",
         lambda w, x: dict(PARTNER), multipart=True, file_fields=("letter",)),
    Form("budget", "applications.budget", "owner", lambda w, x: f"/applications/{w.draft.id}/budget",
         lambda w, x: {"lines-0-category": "personnel", "lines-0-description": "Counselors", "lines-0-amount": "$40,000.00",
                       "lines-1-category": "outreach", "lines-1-description": "Posters", "lines-1-amount": "1234.5",
                       "match": "$7,000", "action": "continue"},
         extra_names=_budget_indices),
    Form("attachment", "applications.attachments", "owner", lambda w, x: f"/applications/{w.draft.id}/attachments",
         lambda w, x: {"kind": "other", "file": PDF}, multipart=True, fixed={"action": "upload"}, file_fields=("file",)),
    Form("submit", "applications.review_submit", "owner", lambda w, x: f"/applications/{x['application'].id}/submit",
         lambda w, x: {"certify": "y"},
         setup=_empty_draft),
    Form("withdraw", "applications.withdraw", "owner", lambda w, x: f"/applications/{x['application'].id}/withdraw",
         lambda w, x: {"reason": "Our partner library closed"}, setup=_submitted_unscreened, fresh=_submitted_unscreened),
    # Program officers on applications
    Form("extension", "applications.extension", "officer", lambda w, x: f"/applications/{w.draft.id}/extension",
         lambda w, x: {"until": local(w.program.closes_at + timedelta(days=7)), "reason": "Flooded office"}),
    Form("screening", "applications.screen", "officer", lambda w, x: f"/applications/{x['application'].id}/screen",
         lambda w, x: {"decision": "ineligible", "reason": "Outside the state"}, setup=_submitted_unscreened,
         fresh=_submitted_unscreened),
    # Reviews
    Form("conflict declaration", "reviews.declare", "pending", lambda w, x: f"/reviews/{w.assignments['pending'].id}/declare",
         lambda w, x: {"declaration": "none", "reason": ""}),
    Form("review scoring", "reviews.assignment", "cleared", lambda w, x: f"/reviews/{w.assignments['cleared'].id}",
         lambda w, x: {**{f"points_{c.id}": str(c.max_points // 2) for c in w.criteria},
                       **{f"comment_{c.id}": "Fine" for c in w.criteria},
                       "overall_comment": "Solid", "recommendation": "fund"},
         fixed={"action": "save"}),  # a submitted review is locked; saving keeps every example scoring
    Form("affiliations", "reviews.affiliations", "unassigned", lambda w, x: "/reviews/affiliations",
         lambda w, x: {"names": "Lakeside Responders\nCity EMS"}),
    Form("assign reviewers", "reviews.assign", "officer", lambda w, x: f"/programs/{w.program.id}/reviews/assign",
         lambda w, x: {"application_ids": [str(w.submitted.id)], "reviewer_ids": [str(w.users["unassigned"].id)]},
         flashes=True),
    Form("replace reviewer", "reviews.replace", "officer", lambda w, x: f"/reviews/{x['assignment'].id}/replace",
         lambda w, x: {"reviewer_id": str(x["reviewer"].id)}, setup=_replaceable, fresh=_replaceable),
    Form("reopen review", "reviews.reopen", "officer", lambda w, x: f"/reviews/{w.assignments['scored'].id}/reopen",
         lambda w, x: {"reason": "Check scores"}),
    Form("decision", "reviews.decide", "officer", lambda w, x: f"/applications/{x['application'].id}/decide",
         lambda w, x: {"outcome": "approved", "approved_amount": "40,000", "rationale": "Strong partnerships", "flags_read": "y"},
         setup=_under_review, fresh=_under_review),
    Form("approve above the line", "reviews.approve_above_line", "officer",
         lambda w, x: f"/programs/{x['program'].id}/funding-line/approve",
         lambda w, x: {"order": "raw", "reserve": "y", "confirm": "y", "line": x["line"]}, setup=_scored_round, fresh=_scored_round,
         flashes=True),
    # Awards and payments
    Form("activate award", "awards.activate", "officer", lambda w, x: f"/awards/{x['award'].id}/activate",
         lambda w, x: {"signed_on": agency_today().isoformat()}, setup=_pending_award, fresh=_pending_award),
    Form("award creation", "awards.create_award", "officer", lambda w, x: f"/applications/{x['application'].id}/award",
         lambda w, x: {"amount": "45,000", "start_date": "2027-01-01", "end_date": "2027-12-31", "conditions": "Quarterly calls"},
         setup=_approved, fresh=_approved),
    Form("amend", "awards.amend", "officer", lambda w, x: f"/awards/{w.award.id}/amend",
         lambda w, x: {"direction": "increase", "amount_delta": "1,000", "new_end_date": "2028-03-31", "reason": "More sites"}),
    Form("terminate", "awards.terminate", "officer", lambda w, x: f"/awards/{x['award'].id}/terminate",
         lambda w, x: {"reason": "Agreement breached"},
         setup=_active_award, fresh=_active_award),
    Form("payment request", "awards.request_payment", "owner", lambda w, x: f"/awards/{w.award.id}/payments/request",
         lambda w, x: {"amount": "1,000", "period_start": "2027-01-01", "period_end": "2027-03-31", "description": "Salaries",
                       "documentation": PDF},
         multipart=True, file_fields=("documentation",)),
    Form("record payment", "awards.record_payment", "finance", lambda w, x: f"/awards/{w.award.id}/payments/record",
         lambda w, x: {"amount": "1,000", "paid_on": agency_today().isoformat(), "payment_reference": "V-1001", "description": "Q1"}),
    Form("approve payment", "awards.approve_payment", "finance", lambda w, x: f"/payments/{w.payment.id}/approve",
         lambda w, x: {"comment": "OK", "next": "award"}, flashes=True),
    Form("reject payment", "awards.reject_payment", "finance", lambda w, x: f"/payments/{x['payment'].id}/reject",
         lambda w, x: {"comment": "The invoice is missing", "next": "award"},
         setup=_requested_payment, fresh=_requested_payment, flashes=True),
    Form("mark paid", "awards.mark_paid", "finance", lambda w, x: f"/payments/{x['payment'].id}/paid",
         lambda w, x: {"paid_on": agency_today().isoformat(), "payment_reference": "CHK-1", "next": ""},
         setup=_approved_payment, fresh=_approved_payment, flashes=True),
    Form("void payment", "awards.void_payment", "finance", lambda w, x: f"/payments/{w.payment.id}/void",
         lambda w, x: {"reason": "Duplicate", "next": "award"}, flashes=True),
    Form("progress report", "awards.report", "owner", lambda w, x: f"/reports/{x['report'].id}",
         lambda w, x: {**METRICS, "narrative": "A good quarter."},
         setup=_active_award, fresh=_active_award),
    Form("review report", "awards.review_report", "officer", lambda w, x: f"/reports/{x['report'].id}/review",
         lambda w, x: {"decision": "revise", "comment": "Count referrals by partner"},
         setup=_submitted_report, fresh=_submitted_report),
    # Administration
    Form("new staff user", "accounts.admin_new_user", "admin", lambda w, x: "/admin/users/new",
         lambda w, x: {"name": "Sam Staff", "email": "sam@state.gov", "roles": ["reviewer", "finance"]}),
    Form("edit staff user", "accounts.admin_edit_user", "admin", lambda w, x: f"/admin/users/{w.users['unassigned'].id}",
         lambda w, x: {"name": "Uma Renamed", "roles": ["reviewer"], "active": "y"}),
    # Filters (GET): always a page, never a change
    Form("audit filters", "audit.log", "admin", lambda w, x: "/admin/audit/", method="GET",
         base=lambda w, x: {"actor": "owner", "action": "application.", "entity_type": "application", "entity_id": "1",
                            "from": "2026-01-01", "to": "2027-12-31", "page": "1"}),
    Form("award list filters", "awards.award_list", "finance", lambda w, x: "/awards", method="GET",
         base=lambda w, x: {"program": str(w.program.id), "status": "active", "fiscal_year": "2027", "q": "RPR", "page": "1"}),
    Form("program applications filters", "applications.program_applications", "officer", lambda w, x: f"/programs/{w.program.id}/applications",
         method="GET",
         base=lambda w, x: {"status": "under_review", "county": "Kendall", "partner_type": "library", "q": "Q", "page": "1"}),
    Form("user list filters", "accounts.admin_users", "admin", lambda w, x: "/admin/users", method="GET",
         base=lambda w, x: {"q": "ow", "role": "applicant", "page": "1"}),
    Form("ledger filters", "exports.award_ledger", "finance", lambda w, x: "/exports/award-ledger.xlsx", method="GET",
         base=lambda w, x: {"program": w.program.slug, "fiscal_year": "2027", "status": "active"}),
    Form("funding line and ranking", "reviews.funding_line", "officer", lambda w, x: f"/programs/{w.program.id}/funding-line", method="GET",
         base=lambda w, x: {"order": "normalized", "reserve": "y"}),
    Form("payment queue pages", "awards.payment_queue", "finance", lambda w, x: "/payments",
         method="GET", base=lambda w, x: {"page": "1", "approved_page": "1"}),
    Form("programs dashboard filter", "dashboard.programs_dashboard", "officer", lambda w, x: "/dashboard/programs",
         method="GET", base=lambda w, x: {"fiscal_year": "2027"}),
]


# POST endpoints left out of FORMS, and why: each is a button whose only field is the CSRF token, so
# a payload has nothing to vary but that token (which every form in FORMS already mutates). A new
# POST endpoint fails test_every_post_endpoint_is_in_forms until it is added to FORMS or here.
NOT_FORMS = {
    "accounts.logout": "sign-out button",
    "applications.remove_partner": "remove-partner button",
    "applications.remove_attachment": "remove-file button",
    "awards.close_out": "close-out button",
    "notifications.send_now": "send-the-outbox button",
    "programs.remove_criterion": "remove-criterion button",
    "reviews.auto_assign": "auto-assign button",
    "reviews.unassign": "remove-assignment button",
}


def test_every_post_endpoint_is_in_forms(app):
    posted = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    in_forms = {form.endpoint for form in FORMS if form.method == "POST"}
    missing = sorted(posted - in_forms - set(NOT_FORMS))
    assert not missing, f"add these POST endpoints to FORMS (or, if they take no fields, to NOT_FORMS): {missing}"
    stale = sorted((in_forms | set(NOT_FORMS)) - posted)
    assert not stale, f"FORMS or NOT_FORMS name endpoints the app no longer serves by POST: {stale}"
    assert not in_forms & set(NOT_FORMS), in_forms & set(NOT_FORMS)


def _send(client, form: Form, url: str, payload: dict):
    data = form_data({**payload, **form.fixed})
    if data.get("csrf_token") is CSRF:
        data["csrf_token"] = client.csrf_token()
    if data.get("submission_key") is KEY:
        data["submission_key"] = new_submission_key()
    if form.method == "GET":
        data.pop("csrf_token", None)
        data.pop("submission_key", None)
        return client.get(url, query_string=data)
    if form.multipart:
        return client.post(url, data=data, content_type="multipart/form-data")
    return client.post(url, data=data)


def _flashed(client) -> list[tuple[str, str]]:
    """The messages a response queued for the next page, taken so that they do not count twice."""
    with client.session_transaction() as session:
        return session.pop("_flashes", [])


@pytest.mark.parametrize("form", FORMS, ids=lambda form: form.name)
def test_hostile_payloads_never_break_a_form(app, make_client, form):
    world = build_world()
    extra = form.setup(world) if form.setup else {}
    db.session.commit()
    user = extra[form.user] if form.user in extra else world.users[form.user] if form.user else None
    browser = make_client(user) if user else None
    base = {**form.base(world, extra), "csrf_token": CSRF, "submission_key": KEY}
    extra_names = form.extra_names() if form.extra_names else None
    endpoint, _ = app.url_map.bind("localhost").match(form.url(world, extra), method=form.method)
    assert endpoint == form.endpoint, f"{form.name} posts to {endpoint}, not {form.endpoint}"

    @HYPOTHESIS
    @given(payload=payloads(base, file_fields=form.file_fields, extra_names=extra_names))
    def check(payload):
        client = browser or make_client(None)
        url = form.url(world, extra)
        before = database_state()
        response = _send(client, form, url, payload)
        after = database_state()
        body = response.get_data()
        assert response.status_code < 500, body[:2000]
        if form.method == "GET":
            assert response.status_code in (200, 400), response.status_code
            assert changed_tables(before, after) == []
            return
        if response.status_code in (302, 303):
            assert response.headers["Location"].startswith("/"), response.headers["Location"]
            changed = [name for name in changed_tables(before, after) if name not in form.may_change]
            if form.flashes:
                messages = _flashed(client)  # taken every time, so an earlier example's message cannot count
                assert changed or messages, "a redirect that changed nothing, without a message"
            if changed and form.fresh:
                extra.update(form.fresh(world))
                db.session.commit()
            return
        assert response.status_code in (200, 400, 413, 429), response.status_code
        assert shows_a_message(body), f"refused without a message ({response.status_code})"
        changed = [name for name in changed_tables(before, after) if name not in form.may_change]
        assert changed == [], f"refused, yet these changed: {changed}"

    check()


LONG = "x" * 60_000
# Inputs the property tests found answering 500, kept as fixed examples so every run tries them.
FOUND_BEFORE = [
    pytest.param("admin", "GET", "/admin/audit/", {"to": "9999-12-31"}, id="audit-to-the-last-day"),
    pytest.param("admin", "GET", "/admin/audit/", {"actor": LONG, "action": LONG}, id="audit-long-search"),
    pytest.param("finance", "GET", "/awards", {"q": "€" * 16_667}, id="award-list-long-search"),
    pytest.param("officer", "GET", "/programs/{program}/applications", {"q": LONG}, id="program-applications-long-search"),
    pytest.param("admin", "GET", "/admin/users", {"q": LONG}, id="user-list-long-search"),
    pytest.param("owner", "POST", "/applications/{draft}/budget", {"lines-²-category": "", "lines-0-amount": "1"}, id="budget-superscript-index"),
    pytest.param("owner", "GET", "/login", {"next": "/\r\nLocation: http://evil.example.com"}, id="signed-in-login-next-with-a-newline"),
]


@pytest.mark.parametrize("kind, method, url, data", FOUND_BEFORE)
def test_inputs_that_once_answered_500(app, make_client, kind, method, url, data):
    world = build_world()
    browser = make_client(world.users[kind] if kind else None)
    url = url.format(program=world.program.id, draft=world.draft.id)
    before = database_state()
    if method == "GET":
        response = browser.get(url, query_string=data)
    else:
        response = browser.post_form(url, data)
    assert response.status_code in (200, 302, 400), response.status_code
    if method == "GET":
        assert changed_tables(before, database_state()) == []


def test_a_newline_in_next_after_sign_in_is_ignored(app, make_client):
    user = factories.make_user(email="newline@example.org")
    db.session.commit()
    response = make_client(None).post_form("/login", {"email": user.email, "password": factories.PASSWORD},
                                           query_string={"next": "/\r\nSet-Cookie: x=1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/home")


def test_a_file_sent_in_a_text_field_is_refused_not_a_500(app, make_client):
    world = build_world()
    browser = make_client(world.users["owner"])
    pdf = Upload(factories.PDF_BYTES, "x.pdf")
    posts = [
        (f"/applications/{world.draft.id}/project", {**PROJECT, "title": pdf}),
        (f"/applications/{world.draft.id}/partners", {**PARTNER, "name": pdf, "action": "add"}),
        (f"/applications/{world.draft.id}/budget", {"match": pdf}),
        (f"/organizations/{world.organization.id}/edit", {**ORGANIZATION, "legal_name": pdf}),
        (f"/awards/{world.award.id}/payments/request", {"amount": pdf, "description": "Salaries"}),
        (f"/awards/{world.award.id}/payments/request", {"amount": "1,000", "description": pdf}),
        (f"/awards/{world.award.id}/payments/request", {"amount": "1,000", "description": "Salaries", "period_start": pdf}),
    ]
    broken = []
    for url, payload in posts:
        field_name = next(key for key, value in payload.items() if value is pdf)
        try:
            response = browser.post_form(url, form_data(payload), content_type="multipart/form-data")
        except Exception as error:  # noqa: BLE001 - TESTING propagates what would be a 500
            broken.append(f"{url} [{field_name}]: {type(error).__name__}: {error}")
            continue
        if response.status_code >= 500:
            broken.append(f"{url} [{field_name}]: {response.status_code}")
    assert broken == []


def test_a_stale_form_with_a_mistake_still_gets_a_message(app, make_client):
    world = build_world()
    officer, owner = make_client(world.users["officer"]), make_client(world.users["owner"])
    decided = _under_review(world)["application"]
    terminated = _active_award(world)
    submitted = _active_award(world)
    db.session.commit()
    assert officer.post_form(f"/applications/{decided.id}/decide", {"outcome": "declined", "rationale": "Weak"}).status_code == 302
    assert officer.post_form(f"/awards/{terminated['award'].id}/terminate", {"reason": "Breach"}).status_code == 302
    assert owner.post_form(f"/reports/{submitted['report'].id}", {**METRICS, "narrative": "Done"}).status_code == 302
    silent = []
    for browser, url, payload in [
        (officer, f"/applications/{decided.id}/decide", {"rationale": "Again"}),
        (officer, f"/awards/{terminated['award'].id}/terminate", {}),
        (owner, f"/reports/{submitted['report'].id}", {"narrative": "Again"}),
    ]:
        response = browser.post_form(url, payload)
        if response.status_code == 200 and not shows_a_message(response.data):
            silent.append(url)
    assert silent == []


# Uploads ---------------------------------------------------------------------------------------

REFUSED_FILES = [
    pytest.param(HOSTILE_FILES[0], id="renamed-windows-executable"),
    pytest.param(HOSTILE_FILES[1], id="renamed-linux-executable"),
    pytest.param(HOSTILE_FILES[2], id="pdf-header-on-a-program"),
    pytest.param(HOSTILE_FILES[3], id="html-with-a-pdf-inside"),
    pytest.param(Upload(b"MZ\x90\x00" + factories.PDF_BYTES, "invoice.pdf"), id="program-with-a-pdf-inside"),
    pytest.param(HOSTILE_FILES[4], id="zero-bytes"),
    pytest.param(Upload(b"MZ\x90\x00" + b"\x00" * 64, "../../x.pdf"), id="path-in-name-and-not-a-pdf"),
]


def _upload_points(world: World) -> dict[str, tuple[str, str, dict]]:
    """Every form that takes a file: (url, file field, the rest of a valid form)."""
    return {
        "attachment": (f"/applications/{world.draft.id}/attachments", "file", {"kind": "other", "action": "upload"}),
        "partner letter": (f"/applications/{world.draft.id}/partners", "letter",
                           {k: v for k, v in PARTNER.items() if k != "letter"} | {"action": "add"}),
        "payment documentation": (f"/awards/{world.award.id}/payments/request", "documentation",
                                  {"amount": "1,000", "description": "Salaries"}),
    }


def _files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def _stored_rows() -> tuple[int, int, int]:
    count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
    return count(Attachment), count(Partner), count(Disbursement)


def _post_upload(browser, world, point: str, upload: Upload):
    url, field_name, rest = _upload_points(world)[point]
    return browser.post_form(url, {**rest, field_name: upload.as_form_value()}, content_type="multipart/form-data")


@pytest.mark.parametrize("upload", REFUSED_FILES)
def test_hostile_files_are_refused_with_a_message_at_every_upload(app, make_client, upload):
    world = build_world()
    browser = make_client(world.users["owner"])
    uploads = Path(current_app.config["UPLOAD_FOLDER"])
    outside = uploads.parent
    for point in _upload_points(world):
        listing, rows = _files_under(outside), _stored_rows()
        response = _post_upload(browser, world, point, upload)
        assert response.status_code == 200, (point, response.status_code)
        assert b"usa-error-message" in response.data and (b"is not a PDF" in response.data or b"empty" in response.data), point
        assert _files_under(outside) == listing, f"{point}: files appeared or vanished"
        assert _stored_rows() == rows, f"{point}: something was stored"
        assert not (uploads / upload.name).resolve().exists()


@pytest.mark.parametrize("name", ["../../x.pdf", "..\\..\\x.pdf", "/etc/x.pdf", "uploads/../../x.pdf"])
def test_a_path_in_the_file_name_never_leaves_the_upload_folder(app, make_client, name):
    world = build_world()
    browser = make_client(world.users["owner"])
    uploads = Path(current_app.config["UPLOAD_FOLDER"])
    for point in _upload_points(world):
        before = set(os.listdir(uploads))
        outside = [p for p in _files_under(uploads.parent) if not p.startswith("uploads")]
        response = _post_upload(browser, world, point, Upload(factories.PDF_BYTES, name))
        assert response.status_code == 302, point  # a real PDF: kept, under a name of our own
        new = set(os.listdir(uploads)) - before
        assert len(new) == 1 and all(c in "0123456789abcdef" for c in next(iter(new))), new
        assert [p for p in _files_under(uploads.parent) if not p.startswith("uploads")] == outside
        stored = db.session.scalars(sa.select(Attachment).order_by(Attachment.id.desc())).first()
        # The directories are gone from the name kept for display (a browser's backslashes may
        # arrive unquoted as "....x.pdf"); the file itself has our random name.
        assert stored.stored_name in new, point
        assert stored.original_name.endswith("x.pdf") and not {"/", "\\"} & set(stored.original_name), stored.original_name


def test_a_file_over_the_limit_is_refused_with_a_message_and_not_kept(app, make_client):
    world = build_world()
    browser = make_client(world.users["owner"])
    uploads = Path(current_app.config["UPLOAD_FOLDER"])
    big = Upload(b"%PDF-1.4\n" + b"0" * (1024 * 1024) + b"\n%%EOF\n", "big.pdf")  # just over 1 MB
    app.config["MAX_UPLOAD_MB"] = 1
    for point in _upload_points(world):
        listing, rows = _files_under(uploads.parent), _stored_rows()
        response = _post_upload(browser, world, point, big)
        assert response.status_code == 200 and b"larger than 1 MB" in response.data, point
        assert _files_under(uploads.parent) == listing and _stored_rows() == rows, point
    # Over the whole request limit: the friendly 413 page, before any of it is read.
    app.config["MAX_CONTENT_LENGTH"] = 512 * 1024
    for point in _upload_points(world):
        listing, rows = _files_under(uploads.parent), _stored_rows()
        response = _post_upload(browser, world, point, big)
        assert response.status_code == 413 and b"File too large" in response.data, point
        assert _files_under(uploads.parent) == listing and _stored_rows() == rows, point


# Spreadsheet formula injection ---------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://example.com","x")', "+1", "-1", "@x",
            # Spreadsheet programs skip leading whitespace and control characters before a formula.
            "\t=1+1", "\r=cmd|' /C calc'!A0", " =1+1"]


def _ok(response, what: str):
    assert response.status_code == 302, f"{what}: {response.status_code} {response.get_data(as_text=True)[:3000]}"
    return response


def _new_id(model) -> int:
    return db.session.scalar(sa.select(sa.func.max(model.id)))


def _through_the_forms(make_client, text: str, *, criterion_name: str = "Partnership strength") -> dict:
    """A round run through the real forms, with ``text`` typed into every field that reaches an export."""
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    admin = factories.make_user(email="admin@state.gov", roles={"admin"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    member = factories.make_user(email="member@example.org")
    db.session.commit()
    po, fin, grantee, boss = make_client(officer), make_client(finance), make_client(member), make_client(admin)

    _ok(po.post_form("/programs/new", {**_program_form("formula-round", "FRM"), "name": text,
                                       "eligible_partner_types": ["library", "transit"]}), "program")
    program = db.session.get(Program, _new_id(Program))
    for name in (criterion_name, "Reach"):
        _ok(po.post_form(f"/programs/{program.id}/rubric", {"name": name, "guidance": "", "max_points": "10", "weight": "1"}), "criterion")
    _ok(po.post_form(f"/programs/{program.id}/status", {"status": "published"}), "publish")

    _ok(grantee.post_form("/organizations/new", {**ORGANIZATION, "legal_name": text, "county": text}), "organization")
    _ok(grantee.post_form(f"/opportunities/{program.slug}/apply", {"organization_id": str(_new_org_id())}), "start")
    application = db.session.get(Application, _new_id(Application))
    _ok(grantee.post_form(f"/applications/{application.id}/project", {**PROJECT, "title": text, "summary": text}), "project")
    _ok(grantee.post_form(f"/applications/{application.id}/partners",
                          form_data({**PARTNER, "name": text, "action": "add"}), content_type="multipart/form-data"), "partner")
    _ok(grantee.post_form(f"/applications/{application.id}/budget", {
        "lines-0-category": "personnel", "lines-0-description": text, "lines-0-amount": "$40,000.00",
        "match": "$7,000", "action": "continue"}), "budget")
    _ok(grantee.post_form(f"/applications/{application.id}/submit", {"certify": "y"}), "submit")
    _ok(po.post_form(f"/applications/{application.id}/screen", {"decision": "eligible"}), "screen")

    # A reviewer made by the administrator, named with the same text, who sets a password from the e-mailed link.
    _ok(boss.post_form("/admin/users/new", {"name": text, "email": "rev@state.gov", "roles": ["reviewer"]}), "reviewer account")
    message = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "rev@state.gov")).one()
    link = "/password/reset/" + message.body.split("/password/reset/", 1)[1].split()[0]
    reviewer_browser = make_client(None)
    _ok(reviewer_browser.post_form(link, {"password": "reviewer long password", "confirm": "reviewer long password"}), "set password")
    _ok(reviewer_browser.post_form("/login", {"email": "rev@state.gov", "password": "reviewer long password"}), "reviewer login")
    reviewer = db.session.scalar(sa.select(User).where(User.email == "rev@state.gov"))
    _ok(po.post_form(f"/programs/{program.id}/reviews/assign",
                     {"application_ids": [str(application.id)], "reviewer_ids": [str(reviewer.id)]}), "assign")
    assignment = db.session.scalar(sa.select(ReviewAssignment).where(ReviewAssignment.reviewer_id == reviewer.id))
    _ok(reviewer_browser.post_form(f"/reviews/{assignment.id}/declare", {"declaration": "none"}), "declare")
    criteria = list(program.criteria)
    _ok(reviewer_browser.post_form(f"/reviews/{assignment.id}", {
        **{f"points_{c.id}": "7" for c in criteria}, **{f"comment_{c.id}": text for c in criteria},
        "overall_comment": text, "recommendation": "fund", "action": "submit"}), "review")
    _ok(po.post_form(f"/applications/{application.id}/decide", {"outcome": "approved", "rationale": text, "flags_read": "y"}), "decide")
    _ok(po.post_form(f"/applications/{application.id}/award",
                     {"amount": "40,000", "start_date": "2027-01-01", "end_date": "2027-12-31", "conditions": text}), "award")
    award = db.session.get(Award, _new_id(Award))
    _ok(po.post_form(f"/awards/{award.id}/activate", {"signed_on": agency_today().isoformat()}), "activate")
    _ok(grantee.post_form(f"/awards/{award.id}/payments/request", {"amount": "1,000", "description": text}), "payment request")
    _ok(fin.post_form(f"/awards/{award.id}/payments/record", {
        "amount": "2,000", "paid_on": agency_today().isoformat(), "payment_reference": text, "description": text}), "record payment")
    _ok(po.post_form(f"/awards/{award.id}/amend", {"direction": "increase", "amount_delta": "500", "reason": text}), "amend")
    return {"program": program, "finance": fin, "officer": po}


def _new_org_id() -> int:
    return _new_id(Organization)


def _workbooks(people: dict) -> dict:
    program = people["program"]
    downloads = {
        "ledger": people["finance"].get("/exports/award-ledger.xlsx"),
        "applications and scores": people["officer"].get(f"/exports/programs/{program.id}/applications-and-scores.xlsx"),
        "360Giving": people["finance"].get("/exports/360giving.xlsx"),
    }
    for name, response in downloads.items():
        assert response.status_code == 200, name
    return {name: load_workbook(io.BytesIO(response.data)) for name, response in downloads.items()}


def _column(sheet, header: str) -> list:
    rows = list(sheet.iter_rows())
    index = [cell.value for cell in rows[0]].index(header)
    return [row[index] for row in rows[1:]]


# Where each field typed above must come out, as exact text.
EXPECTED_CELLS = [
    ("ledger", "Awards", "Program"), ("ledger", "Awards", "Recipient"), ("ledger", "Awards", "County"),
    ("ledger", "Awards", "Partners"), ("ledger", "Disbursements", "Recipient"), ("ledger", "Disbursements", "Description"),
    ("ledger", "Disbursements", "Payment reference"), ("ledger", "Amendments", "Reason"),
    ("applications and scores", "Applications", "Organization"), ("applications and scores", "Applications", "County"),
    ("applications and scores", "Applications", "Title"), ("applications and scores", "Reviewer calibration", "Reviewer"),
    ("360Giving", "grants", "Title"), ("360Giving", "grants", "Description"), ("360Giving", "grants", "Recipient Org:Name"),
    ("360Giving", "grants", "Beneficiary Location:Name"), ("360Giving", "grants", "Grant Programme:Title"),
]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_typed_into_forms_stays_text_in_every_workbook(app, make_client, text):
    books = _workbooks(_through_the_forms(make_client, text))
    # The forms trim surrounding whitespace, so "\t=1+1" is kept as "=1+1": still text, never a formula.
    kept = (text, text.strip())
    for book, sheet, header in EXPECTED_CELLS:
        cells = [cell for cell in _column(books[book][sheet], header) if cell.value in kept]
        assert cells, f"{book} / {sheet} / {header}: {text!r} not found"
        assert all(cell.data_type == "s" for cell in cells), f"{book} / {sheet} / {header}: not a text cell"
    # Nowhere else either: every cell holding the text is a text cell; the only formulas are the
    # ledger summary's own, and none of them carries user text.
    for book_name, book in books.items():
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and text.strip() in cell.value and cell.data_type != "s":
                        pytest.fail(f"{book_name} / {sheet.title} / {cell.coordinate} is {cell.data_type}: {cell.value!r}")
    summary = books["ledger"]["Summary"]
    labels = {cell.value: cell for cell in summary["A"] if cell.value in kept}
    assert labels and all(cell.data_type == "s" for cell in labels.values())  # the labels the SUMIFS refer to


def test_a_criterion_name_that_looks_like_a_formula_stays_text(app, make_client):
    text = FORMULAS[0]
    books = _workbooks(_through_the_forms(make_client, "Plain text", criterion_name=text))
    header = books["applications and scores"]["Criterion averages"][1]
    cells = [cell for cell in header if isinstance(cell.value, str) and cell.value.startswith(text)]
    assert cells and all(cell.data_type == "s" for cell in cells), [(c.value, c.data_type) for c in header]


# Open redirects ----------------------------------------------------------------------------------

OFF_SITE = [
    "https:/\\evil.example.com", "https:\\\\evil.example.com", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "//evil%2ecom", "/%2F%2Fevil.example.com", "/\t/evil.example.com", "///evil.example.com", "\\\\evil.example.com",
    " //evil.example.com", "http://evil.example.com", "http:evil.example.com", "data:text/html,<script>alert(1)</script>",
    "/%5Cevil.example.com", "%2F%2Fevil.example.com", "https://127.0.0.1@evil.example.com", "/\r\nLocation: http://evil.example.com",
]


def _stays_on_this_site(location: str) -> bool:
    """A path on this host: what a browser would follow without leaving the site."""
    parts = urlsplit(location)
    return (not parts.scheme and not parts.netloc and location.startswith("/") and location[1:2] not in ("/", "\\")
            and not any(ord(ch) < 32 for ch in location))


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_pointing_off_site_is_ignored(app, make_client, target):
    user = factories.make_user(email="traveller@example.org")
    db.session.commit()
    browser = make_client(None)
    response = browser.post_form("/login", {"email": user.email, "password": factories.PASSWORD}, query_string={"next": target})
    assert response.status_code == 302
    assert _stays_on_this_site(response.headers["Location"]), response.headers["Location"]
    # Already signed in: the login page's own redirect ignores it too.
    again = browser.get("/login", query_string={"next": target})
    assert again.status_code == 302 and _stays_on_this_site(again.headers["Location"]), again.headers["Location"]


def test_control_characters_typed_into_forms_do_not_break_any_workbook(app, make_client):
    # XML 1.0 forbids them in a workbook; the forms drop them as they are typed (the sheet writer
    # cleans any that were stored otherwise), and the text stays text.
    books = _workbooks(_through_the_forms(make_client, "=Lakeside\x0bCrisis\x1b Response", criterion_name="Reach\x1b plan"))
    for book, sheet, header in EXPECTED_CELLS:
        cells = [cell for cell in _column(books[book][sheet], header) if cell.value == "=LakesideCrisis Response"]
        assert cells, f"{book} / {sheet} / {header}: the cleaned text not found"
        assert all(cell.data_type == "s" for cell in cells), f"{book} / {sheet} / {header}: not a text cell"
    header = [cell.value for cell in books["applications and scores"]["Criterion averages"][1]]
    assert "Reach plan (of 10)" in header
