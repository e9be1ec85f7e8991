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
