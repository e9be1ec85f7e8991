"""Award, payment and report forms; field names match the services' so a DomainError lands beside its field."""

from __future__ import annotations

from datetime import date

from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from grants.awards.models import REPORT_METRICS
from grants.formtools import DayField, GrantsForm, MoneyField, OneTimeForm, strip_filter
from grants.programs.forms import Present, WholeNumberField

# The quarterly report schedule is generated from the period of performance; a typo like year
# 9999 would make tens of thousands of reports (and overflow the calendar), so cap the length.
MAX_PERIOD_YEARS = 10
# Report metrics are 32-bit integer columns on PostgreSQL.
MAX_METRIC = 1_000_000_000


def _within_schedule_limit(start: date, end: date) -> bool:
    return (end.year - start.year, end.month, end.day) <= (MAX_PERIOD_YEARS, start.month, start.day)


class AwardForm(OneTimeForm):
    amount = MoneyField("Award amount", validators=[Present("Enter the award amount.")], min_cents=0,
                        description="Defaults to the approved amount.")
    start_date = DayField("Start of the period of performance", validators=[Present("Enter the start date.")])
    end_date = DayField("End of the period of performance", validators=[Present("Enter the end date.")],
                        description="Quarterly progress reports are scheduled from these dates; the last one is the final report.")
    conditions = TextAreaField("Conditions (optional)", validators=[Optional(), Length(max=4000)], filters=[strip_filter],
                               description="Special conditions the grantee must meet, shown on the award page and in the award e-mail.")

    def validate_end_date(self, field):
        if self.start_date.data and field.data and field.data > self.start_date.data \
                and not _within_schedule_limit(self.start_date.data, field.data):
            raise ValidationError(f"The period of performance can be at most {MAX_PERIOD_YEARS} years.")


class ActivateForm(GrantsForm):
    signed_on = DayField("Date the agreement was signed", validators=[Present("Enter the date the agreement was signed.")])


class TerminateForm(GrantsForm):
    reason = TextAreaField("Reason for terminating", validators=[DataRequired("Give the reason for terminating the award."), Length(max=2000)],
                           filters=[strip_filter])


class AmendForm(OneTimeForm):
    """An amount change typed as a direction and a dollar amount (money fields take no negatives)."""

    direction = RadioField("Change to the amount", choices={"increase": "Increase", "decrease": "Decrease"}, validators=[Optional()])
    amount_delta = MoneyField("By how much (optional)", min_cents=0, description="Leave empty to change only the end date.")
    new_end_date = DayField("New end date (optional)", validators=[Optional()])
    reason = TextAreaField("Reason", validators=[DataRequired("Give the reason for the amendment."), Length(max=2000)], filters=[strip_filter])

    def __init__(self, *args, award=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.award = award

    def validate_amount_delta(self, field):
        if field.data and not self.direction.data:
            raise ValidationError("Choose whether the amount increases or decreases.")

    def validate_new_end_date(self, field):
        if self.award is not None and field.data and field.data > self.award.start_date \
                and not _within_schedule_limit(self.award.start_date, field.data):
            raise ValidationError(f"The period of performance can be at most {MAX_PERIOD_YEARS} years.")

    def delta_cents(self) -> int:
        amount = self.amount_delta.data or 0
        return -amount if self.direction.data == "decrease" else amount


class PaymentRequestForm(OneTimeForm):
    amount = MoneyField("Amount requested", validators=[Present("Enter the amount to be paid.")], min_cents=0)
    period_start = DayField("Period covered: from (optional)", validators=[Optional()])
    period_end = DayField("Period covered: to (optional)", validators=[Optional()])
    description = TextAreaField("What the payment covers", validators=[DataRequired("Describe what the payment covers."), Length(max=4000)],
                                filters=[strip_filter], description="For example: counselor salaries for March, poster printing.")
    documentation = FileField("Supporting documentation (optional)", description="Invoices, timesheets or receipts. PDF, Word, Excel, PNG or JPEG.")


class PaymentDecisionForm(GrantsForm):
    """Approve (comment optional) or reject (comment required, checked by the service) a request."""

    comment = TextAreaField("Comment", validators=[Optional(), Length(max=2000)], filters=[strip_filter])
    next = HiddenField()


class MarkPaidForm(GrantsForm):
    paid_on = DayField("Paid on", validators=[Present("Enter the date it was paid.")])
    payment_reference = StringField("Voucher or check number", validators=[DataRequired("Enter the voucher or check number."), Length(max=60)],
                                    filters=[strip_filter])
    next = HiddenField()


class VoidForm(GrantsForm):
    reason = TextAreaField("Reason for voiding", validators=[DataRequired("Give the reason for voiding the payment."), Length(max=2000)],
                           filters=[strip_filter])
    next = HiddenField()


class RecordPaymentForm(OneTimeForm):
    amount = MoneyField("Amount paid", validators=[Present("Enter the amount paid.")], min_cents=0)
    paid_on = DayField("Paid on", validators=[Present("Enter the date it was paid.")])
    payment_reference = StringField("Voucher or check number", validators=[DataRequired("Enter the voucher or check number."), Length(max=60)],
                                    filters=[strip_filter])
    description = TextAreaField("Description (optional)", validators=[Optional(), Length(max=4000)], filters=[strip_filter])


# Made before ReportForm's narrative so the metrics come first in the form and its error summary.
_METRIC_FIELDS = {
    key: WholeNumberField(label, validators=[
        Present(f"Enter {label.lower()} as a whole number, 0 or more."),
        NumberRange(min=0, max=MAX_METRIC, message="Enter a whole number, 0 or more."),
    ])
    for key, label in REPORT_METRICS.items()
}


class ReportForm(OneTimeForm):
    narrative = TextAreaField("Narrative", validators=[DataRequired("Write the narrative."), Length(max=20000)], filters=[strip_filter],
                              description="What the partnership did this quarter, what worked, what did not, and what comes next.")

    def metrics(self) -> dict[str, int]:
        return {key: self[key].data for key in REPORT_METRICS}

    def load(self, report) -> None:
        for key in REPORT_METRICS:
            self[key].data = getattr(report, key)
        self.narrative.data = report.narrative


for _key, _field in _METRIC_FIELDS.items():
    setattr(ReportForm, _key, _field)


class ReviewReportForm(GrantsForm):
    decision = RadioField("Decision", choices={"accept": "Accept the report", "revise": "Request a revision"},
                          validators=[DataRequired("Choose accept or request a revision.")])
    comment = TextAreaField("Comment to the grantee", validators=[Optional(), Length(max=4000)], filters=[strip_filter],
                            description="Required when you request a revision: say what to change.")
