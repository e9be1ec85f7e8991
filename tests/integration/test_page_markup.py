"""What the pages say and how they are marked up: the step indicator as USWDS documents it, an
empty table that says why it is empty, wide tables that scroll in their own container."""

import lxml.html
import pytest

from grants.extensions import db
from tests import factories


@pytest.fixture
def draft(app):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    member = factories.make_user(email="member@example.org")
    organization = factories.make_organization(members=[member])
    program = factories.make_program(officer=officer)
    application = factories.make_application(program=program, organization=organization, actor=member, complete=False)
    db.session.commit()
    return member, application


def test_step_indicator_follows_the_uswds_markup(draft, make_client):
    member, application = draft
    page = lxml.html.fromstring(make_client(member).get(f"/applications/{application.id}/partners").get_data(as_text=True))
    [indicator] = page.find_class("usa-step-indicator")
    # aria-label on a div without a role is not announced (and ARIA prohibits naming a generic div).
    assert indicator.get("aria-label") is None and indicator.get("role") is None
    segments = indicator.find_class("usa-step-indicator__segment")
    labels = [s.find_class("usa-step-indicator__segment-label")[0].text_content().split() for s in segments]
    assert labels[0] == ["Project", "not", "completed"] and labels[1] == ["Partners"]
    current = [s for s in segments if "usa-step-indicator__segment--current" in s.get("class")]
    assert [s.get("aria-current") for s in current] == ["true"]
    assert all(s.get("aria-current") is None for s in segments if s not in current)
    [heading] = indicator.find_class("usa-step-indicator__heading")
    [counter] = heading.find_class("usa-step-indicator__heading-counter")
    assert [e.get("class") for e in counter] == ["usa-sr-only", "usa-step-indicator__current-step", "usa-step-indicator__total-steps"]
    assert " ".join(heading.text_content().split()) == f"Step 2 of {len(segments)} Partners"


# Empty tables say why they are empty -----------------------------------------------------------


def _tables(html: str):
    return lxml.html.fromstring(html).xpath("//main//table")


def assert_no_table_is_only_headers(html: str) -> None:
    """Every table on the page has a row in its body: data, or a sentence saying why there is none."""
    for table in _tables(html):
        caption = " ".join(table.xpath("string(caption)").split()) or "a table"
        assert table.xpath("tbody/tr"), f"{caption} has headers and no rows: nothing says why it is empty"


def _row_text(html: str, caption: str) -> list[str]:
    [table] = [t for t in _tables(html) if " ".join(t.xpath("string(caption)").split()) == caption]
    return [" ".join(" ".join(cell.text_content().split()) for cell in row) for row in table.xpath("tbody/tr")]


def test_review_progress_and_calibration_say_why_they_are_empty(app, make_client):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    member = factories.make_user(email="member@example.org")
    program = factories.make_program(officer=officer)
    application = factories.make_eligible_application(program=program, organization=factories.make_organization(members=[member]),
                                                      actor=member, officer=officer)
    db.session.commit()
    browser = make_client(officer)
    page = browser.get(f"/programs/{program.id}/reviews").get_data(as_text=True)
    assert _row_text(page, "Reviews done per reviewer") == ["No reviewers are assigned yet. Assign reviewers to the applications above."]
    assert _row_text(page, "Reviewer calibration") == ["No reviews have been submitted yet."]
    assert_no_table_is_only_headers(page)

    # Assigned, nothing submitted: the reviewer's progress shows; calibration still says why it is empty.
    reviewer = factories.make_user(email="r1@state.gov", name="Rita One", roles={"reviewer"})
    factories.review(officer=officer, application=application, reviewer=reviewer, points=None)
    db.session.commit()
    page = browser.get(f"/programs/{program.id}/reviews").get_data(as_text=True)
    assert _row_text(page, "Reviews done per reviewer") == ["Rita One 0 1 0"]
    assert _row_text(page, "Reviewer calibration") == ["No reviews have been submitted yet."]


def test_filtered_lists_with_no_match_say_so(app, make_client):
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    admin = factories.make_user(email="admin@example.gov", roles={"admin"})
    program = factories.make_program(officer=officer)
    db.session.commit()
    page = make_client(officer).get(f"/programs/{program.id}/applications").get_data(as_text=True)
    assert _row_text(page, "0 applications, by reference") == ["No applications yet: none has been started for this program."]
    page = make_client(officer).get(f"/programs/{program.id}/applications?county=Nowhere").get_data(as_text=True)
    assert "No applications match the filters." in page
    assert_no_table_is_only_headers(page)
    browser = make_client(admin)
    page = browser.get("/admin/users?q=nobody-at-all").get_data(as_text=True)
    assert _row_text(page, "0 users") == ["No users match the filter."]
    page = browser.get("/admin/audit/?action=no.such.action").get_data(as_text=True)
    assert _row_text(page, "0 events") == ["No events match the filters."]


def test_an_empty_outbox_says_so(app, make_client):
    from grants.notifications.models import OutboxMessage

    admin = factories.make_user(email="admin@example.gov", roles={"admin"})
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    page = make_client(admin).get("/admin/outbox/").get_data(as_text=True)
    assert _row_text(page, "0 messages") == ["No notification e-mails have been queued yet."]


def test_pages_with_nothing_yet_have_no_header_only_tables(app, make_client):
    """A sweep of staff pages on a new program: every table has a row or a reason."""
    officer = factories.make_user(email="po@state.gov", roles={"program_officer", "finance", "admin"})
    program = factories.make_program(officer=officer)
    db.session.commit()
    browser = make_client(officer)
    for url in ["/home", "/awards", "/payments", "/finance", f"/programs/{program.id}/reviews", f"/programs/{program.id}/ranking",
                f"/programs/{program.id}/funding-line", f"/programs/{program.id}/reports", f"/programs/{program.id}/applications",
                f"/programs/{program.id}/rubric", "/programs", "/admin/users", "/admin/audit/", "/admin/outbox/"]:
        response = browser.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_no_table_is_only_headers(response.get_data(as_text=True))


def test_a_new_reviewer_and_a_new_award_say_what_is_not_there_yet(app, make_client):
    reviewer = factories.make_user(email="r1@state.gov", roles={"reviewer"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    award = factories.make_award()
    db.session.commit()
    page = make_client(reviewer).get("/reviews").get_data(as_text=True)
    assert "Nothing is waiting for you: no new assignment." in page
    assert "No review submitted yet, and no recusal." in page
    page = make_client(finance).get(f"/awards/{award.id}").get_data(as_text=True)
    assert "No amendments: the award stands as made." in page
    assert "No payments have been requested or recorded yet." in page
    assert_no_table_is_only_headers(page)
