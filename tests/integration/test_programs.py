"""Programs: officers design funding rounds and rubrics; the public browses open opportunities."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from grants.applications import services as applications
from grants.audit.models import AuditEvent
from grants.clock import format_instant
from grants.db import utcnow
from grants.extensions import db
from grants.programs.models import Criterion, Program
from tests import factories

GOOD_PROGRAM = {
    "name": "Library and Transit Partnerships",
    "slug": "library-transit-2027",
    "code": "LTP",
    "description": "Grants for responder teams working with libraries and transit systems.",
    "fiscal_year": "2027",
    "funding_source_code": "GF-4410",
    "total_budget_cents": "$1,000,000.00",
    "award_floor_cents": "25,000",
    "award_ceiling_cents": "250000.50",
    "match_percent": "10",
    # Typed in agency time (America/Chicago): standard time in March 1, daylight time in April.
    "opens_at": "2027-03-01T09:00",
    "closes_at": "2027-04-15T17:00",
    "review_deadline": "2027-05-15T17:00",
    "eligible_partner_types": ["library", "transit"],
    "reviewers_per_application": "3",
    "score_spread_threshold": "20",
    "share_reviewer_comments": "y",
}


def _form(**overrides) -> dict:
    data = {**GOOD_PROGRAM, **overrides}
    return {key: value for key, value in data.items() if value is not None}


def _programs() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Program))


def _field_error(response, field: str) -> str | None:
    match = re.search(rf'id="{field}-error" role="alert">(.*?)</span>', response.data.decode(), re.S)
    return html.unescape(match.group(1)) if match else None


def _text(response) -> str:
    return html.unescape(response.data.decode())


# Creating and editing programs ------------------------------------------------------------------


def test_officer_creates_a_program_with_money_and_agency_times(make_client, officer):
    browser = make_client(officer)
    assert browser.get("/programs/new").status_code == 200
    response = browser.post_form("/programs/new", _form())
    assert response.status_code == 302
    program = db.session.scalars(sa.select(Program)).one()
    assert response.headers["Location"].endswith(f"/programs/{program.id}")
    assert program.status == "draft"
    assert (program.total_budget_cents, program.award_floor_cents, program.award_ceiling_cents) == (100_000_000, 2_500_000, 25_000_050)
    assert program.opens_at == datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # CST is UTC−6
    assert program.closes_at == datetime(2027, 4, 15, 22, 0, tzinfo=UTC)  # CDT is UTC−5
    assert program.review_deadline == datetime(2027, 5, 15, 22, 0, tzinfo=UTC)
    assert program.eligible_partner_types == ["library", "transit"]
    assert (program.match_percent, program.reviewers_per_application, program.score_spread_threshold) == (10, 3, 20)
    assert program.share_reviewer_comments is True
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.entity_type == "program")) == "program.created"

    page = _text(browser.get(f"/programs/{program.id}"))
    assert "$1,000,000.00" in page and "March 1, 2027 at 9:00 AM CST" in page and "April 15, 2027 at 5:00 PM CDT" in page


def test_slug_and_code_are_normalised_and_must_be_unique(make_client, officer):
    browser = make_client(officer)
    browser.post_form("/programs/new", _form(slug=" Library-Transit-2027 ", code="ltp"))
    program = db.session.scalars(sa.select(Program)).one()
    assert (program.slug, program.code) == ("library-transit-2027", "LTP")
    again = browser.post_form("/programs/new", _form(name="Another", slug="another-2027", code="LTP"))
    assert again.status_code == 200
    assert _field_error(again, "code") == "Another program already uses this code."
    assert _programs() == 1


@pytest.mark.parametrize("overrides, field, message", [
    ({"award_floor_cents": "300,000", "award_ceiling_cents": "250,000"}, "award_floor_cents", "The award floor cannot be above the ceiling."),
    ({"award_ceiling_cents": "2,000,000"}, "award_ceiling_cents", "The award ceiling cannot be above the total budget."),
    ({"closes_at": "2027-02-28T17:00"}, "closes_at", "The closing time must be after the opening time."),
    ({"eligible_partner_types": None}, "eligible_partner_types", "Choose at least one eligible partner type."),
    ({"total_budget_cents": "12abc"}, "total_budget_cents", "Enter an amount in dollars, like 1,234.50."),
    ({"award_floor_cents": "-5.00"}, "award_floor_cents", "Enter an amount that is zero or more."),
    ({"award_floor_cents": ""}, "award_floor_cents", "Enter the smallest award."),
    ({"opens_at": "next tuesday"}, "opens_at", "Enter a date and time, like 2026-03-31 17:00."),
    ({"opens_at": "2027-02-30T09:00"}, "opens_at", "Enter a date and time, like 2026-03-31 17:00."),
    ({"opens_at": "9999-12-31T23:59"}, "opens_at", "Enter a date and time, like 2026-03-31 17:00."),  # past year 9999 in UTC
    ({"review_deadline": "2027-04-01T09:00"}, "review_deadline", "The review deadline must be after the application deadline."),
    ({"fiscal_year": "twenty"}, "fiscal_year", "Enter a whole number, like 12."),
    ({"fiscal_year": "1999"}, "fiscal_year", "Enter a whole number from 2000 to 2100."),
    ({"match_percent": "101"}, "match_percent", "Enter a whole number from 0 to 100."),
    ({"reviewers_per_application": "0"}, "reviewers_per_application", "Enter a whole number from 1 to 10."),
    ({"score_spread_threshold": "99999999999999999999999"}, "score_spread_threshold", "Enter a whole number from 1 to 100."),
    ({"slug": "library transit!"}, "slug", "Use lowercase letters, digits and single hyphens, like crp-2027."),
    ({"code": "LTP-2027"}, "code", "Use up to 12 capital letters and digits, like CRP."),
    ({"eligible_partner_types": ["library", "casino"]}, "eligible_partner_types", "'casino' is not a valid choice for this field."),
])
def test_bad_program_input_is_shown_beside_the_field_and_nothing_is_saved(make_client, officer, overrides, field, message):
    response = make_client(officer).post_form("/programs/new", _form(**overrides))
    assert response.status_code == 200
    assert _field_error(response, field) == message
    assert "data-error-summary" in response.data.decode()
    assert _programs() == 0


def test_what_was_typed_is_kept_when_the_form_comes_back(make_client, officer):
    response = make_client(officer).post_form("/programs/new", _form(total_budget_cents="12abc", award_floor_cents="$25,000"))
    page = response.data.decode()
    assert 'value="12abc"' in page and 'value="$25,000"' in page and 'value="2027-03-01T09:00"' in page


def test_officer_edits_a_program_shown_in_agency_time(make_client, officer):
    program = factories.make_program(
        officer=officer, status="draft",
        opens_at=datetime(2027, 7, 1, 5, 0, tzinfo=UTC), closes_at=datetime(2027, 7, 31, 5, 0, tzinfo=UTC),
    )
    db.session.commit()
    browser = make_client(officer)
    form = browser.get(f"/programs/{program.id}/edit").data.decode()
    assert 'value="2027-07-01T00:00"' in form  # 05:00 UTC is midnight in Chicago daylight time
    assert 'value="1,000,000.00"' in form
    data = _form(name="Renamed round", slug=program.slug, code=program.code, closes_at="2027-08-01T12:00", opens_at="2027-07-01T00:00", review_deadline="")
    response = browser.post_form(f"/programs/{program.id}/edit", data)
    assert response.status_code == 302
    assert program.name == "Renamed round"
    assert program.closes_at == datetime(2027, 8, 1, 17, 0, tzinfo=UTC)
    assert program.share_reviewer_comments is True and program.review_deadline is None
    changes = db.session.scalars(sa.select(AuditEvent.changes).where(AuditEvent.action == "program.updated")).one()
    assert changes["name"]["after"] == "Renamed round"


# Status ------------------------------------------------------------------------------------------


def test_publish_and_close_through_the_status_buttons(make_client, officer):
    program = factories.make_program(officer=officer, status="draft", criteria=0)
    db.session.commit()
    browser = make_client(officer)
    detail = browser.get(f"/programs/{program.id}").data.decode()
    assert 'value="published"' in detail and 'value="closed"' not in detail

    refused = browser.post_form(f"/programs/{program.id}/status", {"status": "published"}, follow_redirects=True)
    assert "Add at least one rubric criterion before publishing." in _text(refused)
    assert program.status == "draft"

    browser.post_form(f"/programs/{program.id}/rubric", {"name": "Partnership strength", "guidance": "", "max_points": "10", "weight": "2"})
    published = browser.post_form(f"/programs/{program.id}/status", {"status": "published"}, follow_redirects=True)
    assert f"{program.name} is now published." in _text(published)
    assert program.status == "published"
    assert 'value="closed"' in published.data.decode() and 'value="draft"' in published.data.decode()

    browser.post_form(f"/programs/{program.id}/status", {"status": "closed"})
    assert program.status == "closed"
    actions = db.session.scalars(sa.select(AuditEvent.changes).where(AuditEvent.action == "program.status_changed").order_by(AuditEvent.id)).all()
    assert [c["status"]["after"] for c in actions] == ["published", "closed"]


@pytest.mark.parametrize("status", ["archived", "bogus", ""])
def test_a_status_change_that_is_not_allowed_changes_nothing(make_client, officer, status):
    program = factories.make_program(officer=officer, status="draft")
    db.session.commit()
    response = make_client(officer).post_form(f"/programs/{program.id}/status", {"status": status}, follow_redirects=True)
    assert response.status_code == 200
    assert 'usa-alert--error' in response.data.decode()
    assert program.status == "draft"


# Rubric ------------------------------------------------------------------------------------------


def _criteria(program) -> list[tuple[str, int]]:
    return [(c.name, c.position) for c in db.session.scalars(
        sa.select(Criterion).where(Criterion.program_id == program.id).order_by(Criterion.position))]


def test_rubric_add_edit_move_and_remove(make_client, officer):
    program = factories.make_program(officer=officer, status="draft", criteria=0)
    db.session.commit()
    browser = make_client(officer)
    base = f"/programs/{program.id}/rubric"
    for name, weight in (("Need", "1"), ("Partnerships", "3")):
        response = browser.post_form(base, {"name": name, "guidance": "Look for data.", "max_points": "10", "weight": weight})
        assert response.status_code == 302
    assert _criteria(program) == [("Need", 1), ("Partnerships", 2)]
    page = _text(browser.get(base))
    assert "25.0%" in page and "75.0%" in page  # each weight's share of the total

    bad = browser.post_form(base, {"name": "", "max_points": "0", "weight": "x"})
    assert _field_error(bad, "name") == "Name the criterion."
    assert _field_error(bad, "max_points") == "Enter a whole number from 1 to 100."
    assert _field_error(bad, "weight") == "Enter a whole number, like 12."
    assert len(_criteria(program)) == 2

    need, partnerships = program.criteria
    response = browser.post_form(f"{base}/{need.id}/edit", {"name": "Community need", "guidance": "", "max_points": "20", "weight": "2"})
    assert response.status_code == 302
    assert (need.name, need.max_points, need.weight) == ("Community need", 20, 2)

    browser.post_form(f"{base}/{partnerships.id}/move", {"direction": "up"})
    assert _criteria(program) == [("Partnerships", 1), ("Community need", 2)]
    browser.post_form(f"{base}/{partnerships.id}/move", {"direction": "up"})  # already first: nothing moves
    assert _criteria(program) == [("Partnerships", 1), ("Community need", 2)]
    browser.post_form(f"{base}/{partnerships.id}/move", {"direction": "down"})
    assert _criteria(program) == [("Community need", 1), ("Partnerships", 2)]
    sideways = browser.post_form(f"{base}/{partnerships.id}/move", {"direction": "sideways"}, follow_redirects=True)
    assert "Choose to move the criterion up or down." in sideways.data.decode()

    browser.post_form(f"{base}/{need.id}/remove")
    assert _criteria(program) == [("Partnerships", 1)]
    actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("rubric.%"))))
    assert actions == {"rubric.criterion_added", "rubric.criterion_updated", "rubric.criterion_moved", "rubric.criterion_removed"}


def test_frozen_rubric_refuses_every_change(make_client, officer):
    program = factories.make_program(officer=officer, criteria=2)
    program.rubric_frozen_at = utcnow()
    db.session.commit()
    first, second = program.criteria
    before = _criteria(program)
    browser = make_client(officer)
    base = f"/programs/{program.id}/rubric"

    page = browser.get(base).data.decode()
    assert "usa-alert--info" in page and "The rubric is frozen" in page
    assert "Add a criterion" not in page and "/move" not in page and "/remove" not in page
    assert "The rubric is frozen" in browser.get(f"{base}/{first.id}/edit").data.decode()

    refusal = "The rubric is frozen because reviews of this program have been submitted"
    added = browser.post_form(base, {"name": "Late idea", "guidance": "", "max_points": "5", "weight": "1"})
    assert refusal in _text(added)
    edited = browser.post_form(f"{base}/{first.id}/edit", {"name": "Changed", "guidance": "", "max_points": "5", "weight": "1"})
    assert refusal in _text(edited)
    moved = browser.post_form(f"{base}/{second.id}/move", {"direction": "up"}, follow_redirects=True)
    assert refusal in _text(moved)
    removed = browser.post_form(f"{base}/{first.id}/remove", follow_redirects=True)
    assert refusal in _text(removed)
    assert _criteria(program) == before
    assert first.name == "Criterion 1"


def test_a_criterion_is_only_reached_through_its_own_program(make_client, officer):
    program = factories.make_program(officer=officer)
    other = factories.make_program(officer=officer)
    db.session.commit()
    foreign = other.criteria[0]
    browser = make_client(officer)
    assert browser.get(f"/programs/{program.id}/rubric/{foreign.id}/edit").status_code == 404
    assert browser.post_form(f"/programs/{program.id}/rubric/{foreign.id}/remove").status_code == 404
    assert browser.post_form(f"/programs/{program.id}/rubric/{foreign.id}/move", {"direction": "up"}).status_code == 404
    assert browser.get("/programs/9999/rubric").status_code == 404
    assert len(other.criteria) == 3


# Public opportunities ----------------------------------------------------------------------------


def test_opportunities_list_only_programs_open_now(client, officer):
    closes_at = utcnow() + timedelta(days=3, hours=5, minutes=30)
    open_program = factories.make_program(officer=officer, name="Open Round", closes_at=closes_at, match_percent=15)
    factories.make_program(officer=officer, name="Draft Round", status="draft")
    factories.make_program(officer=officer, name="Expired Round", opens_at=utcnow() - timedelta(days=30), closes_at=utcnow() - timedelta(minutes=1))
    factories.make_program(officer=officer, name="Future Round", opens_at=utcnow() + timedelta(days=2), closes_at=utcnow() + timedelta(days=20))
    db.session.commit()

    response = client.get("/opportunities")
    page = _text(response)
    assert response.status_code == 200
    assert "Open Round" in page
    assert "Draft Round" not in page and "Expired Round" not in page and "Future Round" not in page
    assert "Public library, Transit system, Faith-based organization, Business improvement district" in page
    assert "$25,000.00–$250,000.00" in page
    assert "15% of the amount requested" in page
    assert format_instant(open_program.closes_at) in page
    assert "3 days, 5 hours left" in page


def test_opportunity_detail_shows_the_rubric_and_apply_link(make_client, officer, applicant):
    program = factories.make_program(officer=officer, criteria=2)
    db.session.commit()
    anonymous = make_client()
    page = _text(anonymous.get(f"/opportunities/{program.slug}"))
    assert "Criterion 1" in page and "Criterion 2" in page
    assert "33.3%" in page and "66.7%" in page
    assert "Start an application" not in page and "Sign in" in page

    signed_in = make_client(applicant).get(f"/opportunities/{program.slug}").data.decode()
    assert f'href="/opportunities/{program.slug}/apply"' in signed_in and "Start an application" in signed_in
    assert "Start an application" not in make_client(officer).get(f"/opportunities/{program.slug}").data.decode()


def test_opportunity_detail_hides_drafts_and_archives_and_stops_offering_closed_ones(make_client, officer, applicant):
    draft = factories.make_program(officer=officer, status="draft")
    archived = factories.make_program(officer=officer, status="archived")
    closed = factories.make_program(officer=officer, status="closed")
    db.session.commit()
    browser = make_client(applicant)
    assert browser.get(f"/opportunities/{draft.slug}").status_code == 404
    assert browser.get(f"/opportunities/{archived.slug}").status_code == 404
    assert browser.get("/opportunities/no-such-program").status_code == 404
    response = browser.get(f"/opportunities/{closed.slug}")
    assert response.status_code == 200
    assert "This opportunity is closed" in response.data.decode()
    assert "Start an application" not in response.data.decode()


# The program's applications ----------------------------------------------------------------------


@pytest.fixture
def filed(officer):
    """Three applications to one program from organizations in two counties."""
    member = factories.make_user(email="member@example.org")
    cook = factories.make_organization(members=[member], county="Cook", legal_name="Cook Crisis Team")
    lake = factories.make_organization(members=[member], county="Lake", legal_name="Lake Responders")
    program = factories.make_program(officer=officer, code="FLT", fiscal_year=2027)
    cook_app = factories.make_application(program=program, organization=cook, actor=member, partners=("library", "transit"))
    lake_app = factories.make_application(program=program, organization=lake, actor=member, partners=("faith_based",))
    lake_draft = factories.make_application(program=program, organization=lake, actor=member, complete=False)
    lake_app.title = "Faith partners pilot"
    db.session.commit()
    applications.submit_application(actor=member, application_id=cook_app.id, certified=True)
    db.session.commit()
    return program, cook_app, lake_app, lake_draft


def _references(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r">(FLT-2027-\d{4})</a>", response.data.decode())


@pytest.mark.parametrize("query, expected", [
    ("", ["FLT-2027-0001", "FLT-2027-0002", "FLT-2027-0003"]),
    ("?status=submitted", ["FLT-2027-0001"]),
    ("?status=draft", ["FLT-2027-0002", "FLT-2027-0003"]),
    ("?county=Lake", ["FLT-2027-0002", "FLT-2027-0003"]),
    ("?county=cook", ["FLT-2027-0001"]),
    ("?partner_type=transit", ["FLT-2027-0001"]),
    ("?partner_type=faith_based", ["FLT-2027-0002"]),
    ("?partner_type=library&county=Lake", []),
    ("?q=flt-2027-0003", ["FLT-2027-0003"]),
    ("?q=lake+RESP", ["FLT-2027-0002", "FLT-2027-0003"]),
    ("?q=faith+partners", ["FLT-2027-0002"]),
    ("?q=%25", []),  # a LIKE wildcard is searched for literally
    ("?status=bogus&partner_type=casino&page=abc", ["FLT-2027-0001", "FLT-2027-0002", "FLT-2027-0003"]),
])
def test_program_applications_filter(make_client, officer, filed, query, expected):
    program = filed[0]
    assert _references(make_client(officer).get(f"/programs/{program.id}/applications{query}")) == expected


def test_program_applications_link_to_each_application_and_list_counts(make_client, officer, filed):
    program, cook_app, *_ = filed
    browser = make_client(officer)
    page = browser.get(f"/programs/{program.id}/applications").data.decode()
    assert f'href="/applications/{cook_app.id}"' in page
    assert "Cook Crisis Team" in page and "Public library, Transit system" in page
    listing = _text(browser.get("/programs"))
    assert "3 in all" in listing and "Submitted: 1" in listing and "Draft: 2" in listing


def test_applications_page_shows_25_a_page(make_client, officer):
    member = factories.make_user(email="member@example.org")
    program = factories.make_program(officer=officer, code="QRY")
    for i in range(30):
        organization = factories.make_organization(members=[member], county=f"County {i % 4}")
        factories.make_application(program=program, organization=organization, actor=member, complete=i % 2 == 0)
    db.session.commit()
    browser = make_client(officer)
    url = f"/programs/{program.id}/applications"
    assert len(re.findall(r">QRY-\d{4}-\d{4}</a>", browser.get(url).data.decode())) == 25
    assert len(re.findall(r">QRY-\d{4}-\d{4}</a>", browser.get(url + "?page=2").data.decode())) == 5


def test_junk_in_urls_gets_a_404_or_a_page_never_a_500(make_client, officer):
    program = factories.make_program(officer=officer)
    db.session.commit()
    browser = make_client(officer)
    big = 10**20  # larger than any database integer
    assert browser.get(f"/programs/{big}").status_code == 404
    assert browser.get(f"/programs/{program.id}/rubric/{big}/edit").status_code == 404
    assert browser.post_form(f"/programs/{big}/status", {"status": "closed"}).status_code == 404
    assert browser.get("/opportunities/%00").status_code == 400  # NUL is refused before any query
    assert browser.get(f"/programs?page={big}").status_code == 200
    for query in ("?page=-3", f"?page={big}"):
        assert browser.get(f"/programs/{program.id}/applications{query}").status_code == 200, query
    assert browser.get(f"/programs/{program.id}/applications?county=%00&q=%00").status_code == 400


# Access ------------------------------------------------------------------------------------------


def test_applicants_get_403_on_program_pages(make_client, officer, applicant):
    program = factories.make_program(officer=officer)
    db.session.commit()
    criterion = program.criteria[0]
    browser = make_client(applicant)
    base = f"/programs/{program.id}"
    for url in ("/programs", "/programs/new", base, f"{base}/edit", f"{base}/rubric", f"{base}/rubric/{criterion.id}/edit", f"{base}/applications"):
        assert browser.get(url).status_code == 403, url
    for url, data in ((f"{base}/status", {"status": "closed"}), (f"{base}/rubric", {"name": "x", "max_points": "1", "weight": "1"}),
                      (f"{base}/rubric/{criterion.id}/remove", {}), (f"{base}/rubric/{criterion.id}/move", {"direction": "down"})):
        assert browser.post_form(url, data).status_code == 403, url
    assert program.status == "published" and len(program.criteria) == 3


def test_administrators_read_programs_but_do_not_change_them(make_client, officer, admin):
    program = factories.make_program(officer=officer)
    db.session.commit()
    browser = make_client(admin)
    base = f"/programs/{program.id}"
    for url in ("/programs", base, f"{base}/rubric", f"{base}/applications"):
        assert browser.get(url).status_code == 200, url
    detail = browser.get(base).data.decode()
    assert "Edit settings" not in detail and 'name="status"' not in detail
    assert "Add a criterion" not in browser.get(f"{base}/rubric").data.decode()
    assert browser.get("/programs/new").status_code == 403
    assert browser.post_form(f"{base}/status", {"status": "closed"}).status_code == 403
    assert browser.post_form(f"{base}/rubric", {"name": "x", "max_points": "1", "weight": "1"}).status_code == 403
    assert program.status == "published" and len(program.criteria) == 3


def test_a_slug_taken_by_a_concurrent_save_is_a_field_error(app, officer, monkeypatch):
    """The uniqueness pre-check can lose a race; the database's constraint then answers, as a field error."""
    from grants.errors import DomainError
    from grants.programs import services

    factories.make_program(officer=officer, slug="taken-slug")
    db.session.commit()
    monkeypatch.setattr(services, "_check_program", lambda fields, program=None: None)  # as if the other save had not committed yet
    with pytest.raises(DomainError) as refused:
        services.create_program(actor=officer, fields=factories.program_fields(slug="taken-slug"))
    assert refused.value.field == "slug"
    db.session.rollback()
