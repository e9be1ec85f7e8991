"""Every date a person types lies between 2000 and 2100, refused beside its field otherwise.

A year like 9999 used to reach the services, whose report schedules step past the calendar's end
(``year 10009 is out of range``: a 500). One validator, ``grants.formtools.within_years``, is given
to every date field by the field classes themselves.
"""

from __future__ import annotations

import html
import importlib
import pkgutil
import re

import pytest
import sqlalchemy as sa
from wtforms import DateField, DateTimeField, Form
from wtforms.fields.core import UnboundField

import grants
from grants.awards.models import Award, Disbursement
from grants.clock import agency_today
from grants.extensions import db
from grants.formtools import AgencyDateTimeField, DayField
from grants.programs.models import Program
from grants.reviews import services as reviews
from tests import factories
from tests.integration.test_programs import GOOD_PROGRAM

OUT_OF_RANGE = "Enter a date between 2000 and 2100."


def _field_error(response, field: str) -> str | None:
    match = re.search(rf'id="{field}-error" role="alert">(.*?)</span>', response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)).strip() if match else None


def test_an_award_in_year_9999_is_refused_beside_its_dates(make_client, officer):
    program = factories.make_program(officer=officer, total_budget_cents=30_000_000)
    member = factories.make_user(email="member@example.org")
    organization = factories.make_organization(members=[member])
    application = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer)
    reviews.decide(actor=officer, application_id=application.id, outcome="approved", approved_cents=None, rationale="Strong", flags_read=True)
    db.session.commit()

    response = make_client(officer).post_form(f"/applications/{application.id}/award", {
        "amount": "50,000", "start_date": "9999-01-01", "end_date": "9999-06-01", "conditions": ""})

    assert response.status_code == 200
    assert _field_error(response, "start_date") == OUT_OF_RANGE
    assert _field_error(response, "end_date") == OUT_OF_RANGE
    assert 'value="9999-01-01"' in response.get_data(as_text=True)  # what was typed comes back
    assert db.session.scalar(sa.select(sa.func.count(Award.id))) == 0


@pytest.mark.parametrize("typed", ["1999-12-31T23:59", "2101-01-01T00:00", "9999-01-01T09:00"])
def test_a_program_date_outside_the_range_is_refused(make_client, officer, typed):
    response = make_client(officer).post_form("/programs/new", {**GOOD_PROGRAM, "review_deadline": typed})
    assert response.status_code == 200
    assert _field_error(response, "review_deadline") == OUT_OF_RANGE
    assert db.session.scalar(sa.select(sa.func.count(Program.id))) == 0


def test_the_range_ends_are_accepted(make_client, officer):
    response = make_client(officer).post_form("/programs/new", {
        **GOOD_PROGRAM, "opens_at": "2000-01-01T00:00", "closes_at": "2100-12-31T23:59", "review_deadline": ""})
    assert response.status_code == 302, _field_error(response, "opens_at") or _field_error(response, "closes_at")


def test_a_payment_paid_date_outside_the_range_is_refused(make_client, officer):
    finance = factories.make_user(email="finance@state.gov", roles={"finance"})
    award = factories.make_award(officer=officer)
    db.session.commit()
    accountant = make_client(finance)

    response = accountant.post_form(f"/awards/{award.id}/payments/record", {
        "amount": "1,000", "paid_on": "9999-12-31", "payment_reference": "CHK-1", "description": ""})
    assert response.status_code == 200
    assert _field_error(response, "paid_on") == OUT_OF_RANGE

    response = accountant.post_form(f"/awards/{award.id}/payments/record", {
        "amount": "1,000", "paid_on": "1999-12-31", "payment_reference": "CHK-1", "description": ""})
    assert _field_error(response, "paid_on") == OUT_OF_RANGE
    assert db.session.scalar(sa.select(sa.func.count(Disbursement.id))) == 0

    today = agency_today()
    response = accountant.post_form(f"/awards/{award.id}/payments/record", {
        "amount": "1,000", "paid_on": today.isoformat(), "payment_reference": "CHK-1", "description": ""})
    assert response.status_code == 302
    assert db.session.scalars(sa.select(Disbursement)).one().paid_on == today


def _form_classes() -> list[type]:
    for module in pkgutil.walk_packages(grants.__path__, "grants."):
        if module.name.endswith(".forms"):
            importlib.import_module(module.name)
    found, todo = [], [Form]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("grants."):
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_date_field_in_every_form_has_the_range():
    """A new plain DateField or DateTimeField would miss the shared check: use DayField or AgencyDateTimeField."""
    date_fields, unchecked = [], []
    for form in _form_classes():
        for name, value in vars(form).items():
            if not isinstance(value, UnboundField):
                continue
            if issubclass(value.field_class, (DayField, AgencyDateTimeField)):
                date_fields.append(f"{form.__name__}.{name}")
            elif issubclass(value.field_class, (DateField, DateTimeField)) or re.search(r"(date|_on|_at)$", name):
                unchecked.append(f"{form.__name__}.{name}")
    assert unchecked == []
    assert {"AwardForm.start_date", "AwardForm.end_date", "ProgramForm.opens_at", "MarkPaidForm.paid_on",
            "RecordPaymentForm.paid_on", "PaymentRequestForm.period_end"} <= set(date_fields)
