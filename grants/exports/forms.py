from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError

from grants.awards.models import AWARD_STATUSES
from grants.formtools import GrantsForm

UNKNOWN_PROGRAM = "There is no program with that name; choose one from the list."


class _ProgramFilter(GrantsForm):
    """GET filters naming a program by slug; no CSRF (a download changes nothing).

    An unknown slug is an error on the exports page, never silently "all programs".
    """

    class Meta:
        csrf = False

    def validate_program(self, field):
        if field.data not in dict(field.choices):
            raise ValidationError(UNKNOWN_PROGRAM)


class LedgerFilterForm(_ProgramFilter):
    program = SelectField("Program", coerce=str, validators=[Optional()], validate_choice=False)
    fiscal_year = IntegerField("Fiscal year", validators=[Optional(), NumberRange(2000, 2100, "Enter a year like 2027.")])
    status = SelectField("Award status", choices={"": "All statuses", **AWARD_STATUSES}, validators=[Optional()])


class GivingFilterForm(_ProgramFilter):
    # Its own id: the ledger's program list is on the same page; the query parameter stays "program".
    program = SelectField("Program", coerce=str, validators=[Optional()], validate_choice=False, id="giving-program")
