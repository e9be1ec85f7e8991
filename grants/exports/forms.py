from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from grants.formtools import GrantsForm
from grants.awards.models import AWARD_STATUSES


class LedgerFilterForm(GrantsForm):
    """GET filters for the ledger; no CSRF (a download changes nothing)."""

    class Meta:
        csrf = False

    program = SelectField("Program", coerce=str, validators=[Optional()])
    fiscal_year = IntegerField("Fiscal year", validators=[Optional(), NumberRange(2000, 2100, "Enter a year like 2027.")])
    status = SelectField("Award status", choices={"": "All statuses", **AWARD_STATUSES}, validators=[Optional()])
