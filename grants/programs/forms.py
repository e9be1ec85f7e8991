"""Program and rubric forms; field names match the services' so a DomainError lands beside its field."""

from __future__ import annotations

from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp, StopValidation, ValidationError

from grants.accounts.forms import MultiCheckboxField
from grants.formtools import AgencyDateTimeField, GrantsForm, MoneyField, OneTimeForm
from grants.programs.lifecycle import LABELS as PROGRAM_STATUSES
from grants.programs.models import PARTNER_TYPES
from grants.programs.services import PROGRAM_FIELDS

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class Present:
    """Required, for fields whose data may rightly be 0 (money, percents): only None is missing."""

    field_flags = {"required": True}

    def __init__(self, message: str):
        self.message = message

    def __call__(self, _form, field):
        if field.data is None:
            # A value that could not be read already carries its own message; say nothing more.
            raise StopValidation(None if field.process_errors else self.message)


class WholeNumberField(IntegerField):
    """An integer typed by a person: blank is None (for ``Present``), junk gets a plain message."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError as exc:
            self.data = None
            raise ValueError("Enter a whole number, like 12.") from exc


def _text(value):
    # NUL characters are refused by PostgreSQL text columns; nobody types them on purpose.
    return value.replace("\x00", "").strip() if isinstance(value, str) else value


def _lower(value):
    return _text(value).lower() if isinstance(value, str) else value


def _upper(value):
    return _text(value).upper() if isinstance(value, str) else value


def _whole(label: str, low: int, high: int, missing: str, **kwargs):
    return WholeNumberField(
        label,
        validators=[Present(missing), NumberRange(low, high, f"Enter a whole number from {low} to {high}.")],
        **kwargs,
    )


def _money(label: str, message: str, **kwargs):
    return MoneyField(label, validators=[Present(message)], min_cents=0, **kwargs)


class ProgramForm(GrantsForm):
    """A funding round's settings; field names are the service's (``PROGRAM_FIELDS``)."""

    name = StringField("Program name", validators=[DataRequired("Enter the program name."), Length(max=200)], filters=[_text])
    slug = StringField(
        "Web address name (slug)",
        validators=[
            DataRequired("Enter the web address name."),
            Length(max=80),
            Regexp(SLUG_PATTERN, message="Use lowercase letters, digits and single hyphens, like crp-2027."),
        ],
        filters=[_lower],
        description="Appears in the public address /opportunities/<slug>: lowercase letters, digits and hyphens.",
    )
    code = StringField(
        "Program code",
        validators=[
            DataRequired("Enter the program code."),
            Regexp(r"^[A-Z0-9]{1,12}$", message="Use up to 12 capital letters and digits, like CRP."),
        ],
        filters=[_upper],
        description="Up to 12 letters and digits; application references start with it (CRP-2027-0001).",
    )
    description = TextAreaField(
        "Description", validators=[DataRequired("Describe the program for applicants."), Length(max=20000)], filters=[_text],
    )
    fiscal_year = _whole("Fiscal year", 2000, 2100, "Enter the fiscal year.")
    funding_source_code = StringField(
        "Funding source code", validators=[DataRequired("Enter the funding source code."), Length(max=40)], filters=[_text],
        description="The appropriation or fund the awards are paid from, like GF-4410.",
    )
    total_budget_cents = _money("Total budget", "Enter the total budget.", description="In dollars, like 1,000,000.00.")
    award_floor_cents = _money("Smallest award", "Enter the smallest award.")
    award_ceiling_cents = _money("Largest award", "Enter the largest award.")
    match_percent = _whole("Required match (percent)", 0, 100, "Enter the required match; 0 if there is none.", default=0, description="Matching funds as a percent of the requested amount; 0 for none.")
    opens_at = AgencyDateTimeField("Opens", validators=[Present("Enter when applications open.")])
    closes_at = AgencyDateTimeField("Closes (application deadline)", validators=[Present("Enter the application deadline.")])
    review_deadline = AgencyDateTimeField("Review deadline (optional)")
    eligible_partner_types = MultiCheckboxField("Eligible partner types", choices=dict(PARTNER_TYPES))
    reviewers_per_application = _whole("Reviewers per application", 1, 10, "Enter how many reviewers score each application.", default=3)
    score_spread_threshold = _whole(
        "Score spread threshold", 1, 100, "Enter the score spread threshold.", default=25,
        description="Flag an application when its highest and lowest review totals (0–100) differ by more than this.",
    )
    share_reviewer_comments = BooleanField("Share reviewer comments with applicants after the decision")

    def validate_review_deadline(self, field):
        if field.data is not None and self.closes_at.data is not None and field.data <= self.closes_at.data:
            raise ValidationError("The review deadline must be after the application deadline.")

    def program_fields(self) -> dict:
        return {name: self[name].data for name in PROGRAM_FIELDS}


class CriterionForm(GrantsForm):
    name = StringField("Criterion", validators=[DataRequired("Name the criterion."), Length(max=200)], filters=[_text])
    guidance = TextAreaField(
        "Guidance for reviewers (optional)", validators=[Length(max=5000)], filters=[_text], default="",
        description="What a high score looks like.",
    )
    max_points = _whole("Maximum points", 1, 100, "Enter the maximum points.")
    weight = _whole("Weight", 1, 100, "Enter the weight.", description="Relative importance; each criterion counts by its share of the total weight.")

    def criterion_fields(self) -> dict:
        return {name: self[name].data for name in ("name", "guidance", "max_points", "weight")}


class NewProgramForm(OneTimeForm, ProgramForm):
    """Creating a program: sent twice, it creates one (editing one needs no key)."""


class NewCriterionForm(OneTimeForm, CriterionForm):
    """Adding a criterion: sent twice, it adds one (editing one needs no key)."""


class ProgramStatusForm(GrantsForm):
    status = SelectField("New status", choices=dict(PROGRAM_STATUSES), validators=[DataRequired("Choose a status.")])


MOVE_DIRECTIONS = {"up": -1, "down": 1}


class MoveCriterionForm(GrantsForm):
    direction = SelectField("Direction", choices={"up": "Up", "down": "Down"}, validators=[DataRequired("Choose a direction.")])
