"""Form pieces shared by every domain: money fields, agency-time fields, domain errors on fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime

from flask import flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import DateField, Form, HiddenField, PasswordField, StringField, TextAreaField
from wtforms.fields import FileField  # flask_wtf.file.FileField and MultipleFileField are subclasses
from wtforms.meta import DefaultMeta
from wtforms.validators import StopValidation

from grants.clock import local_to_utc, to_local
from grants.errors import DomainError
from grants.money import MoneyError, money_input_value, parse_money
from grants.submissions import claim_submission, is_submission_key, new_submission_key, record_submission_result

# Control characters nobody types on purpose (pasted from other programs): kept out of the
# database, where they would break spreadsheets and separators. Tab, line feed and carriage
# return stay; NUL is refused before any form is read (grants/__init__.py).
_CONTROL_CHARACTERS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


# A line break typed or pasted into a one-line field (and the spaces around it): it would end an
# e-mail header the value lands in, or break a CSV row. Folded into one space.
_LINE_BREAKS = re.compile(r"\s*[\r\n\x85\u2028\u2029]\s*")


def fold_line_breaks(value):
    return _LINE_BREAKS.sub(" ", value) if isinstance(value, str) else value


def is_single_line(field) -> bool:
    """A text input of one line: every StringField but a text area (and a password, kept as typed)."""
    return isinstance(field, StringField) and not isinstance(field, (TextAreaField, PasswordField))


class _SingleLineFields:
    """Meta for forms: each single-line field folds line breaks before its own filters run."""

    def bind_field(self, form, unbound_field, options):
        field = super().bind_field(form, unbound_field, options)
        if is_single_line(field):
            field.filters = (fold_line_breaks, *field.filters)
        return field


class GrantsSubform(Form):
    """The base of a form nested in another (``FormField``): single-line fields stay on one line."""

    class Meta(_SingleLineFields, DefaultMeta):
        pass


class GrantsForm(FlaskForm):
    """The base of every form: typed text without control characters; a file only in a file field;
    no line break in a single-line field.

    Flask-WTF merges ``request.files`` into the form data, so a file part named like a text field
    would reach that field as a FileStorage and break its validators (a 500, not a message).
    """

    class Meta(_SingleLineFields, FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            data = super().wrap_formdata(form, formdata)
            if data is not request.form and not (isinstance(data, CombinedMultiDict) and any(d is request.form for d in data.dicts)):
                return data  # formdata given by the caller, or none (a GET)
            text = MultiDict([(key, _CONTROL_CHARACTERS.sub("", value)) for key, value in request.form.items(multi=True)])
            if not isinstance(data, CombinedMultiDict) or not request.files:
                return text
            file_fields = {field.name for field in form if isinstance(field, FileField)}
            files = MultiDict([(key, value) for key, value in request.files.items(multi=True) if key in file_fields])
            return CombinedMultiDict([files, text])


class SubmissionKeyField(HiddenField):
    """A form's one-time key: made when the form is first shown, sent back unchanged with every re-render."""

    def process_formdata(self, valuelist):
        self.data = valuelist[0].strip() if valuelist else ""

    def _value(self):
        if not self.data:
            self.data = new_submission_key()
        return self.data


class OneTimeForm(GrantsForm):
    """A form that creates something: the same submission sent twice creates it once (DESIGN.md, invariant 8).

    Its template renders ``form.submission_key``; its route, once the form is valid, returns
    ``form.first_result()`` when that is not None, and after creating returns ``form.finished(redirect(…))``.
    """

    submission_key = SubmissionKeyField()

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        if not is_submission_key(self.submission_key.data):
            # A page opened before keys existed, or a tampered one: refused, never created without a key.
            self.form_errors.append("This form was out of date and nothing was saved. Check what you entered and send it again.")
            self.submission_key.data = ""  # the page shown again gets a fresh key
            return False
        return valid

    def first_result(self):
        """Claim this submission; None when it is new, else the redirect to what its first sending recorded."""
        if not is_submission_key(self.submission_key.data):
            return None  # validate() refuses it; a stale-tab check may ask before validating
        first = claim_submission(key=self.submission_key.data, user_id=current_user.id, purpose=request.endpoint)
        if first is None:
            return None
        flash("This was already submitted; here is what was recorded.", "info")
        return redirect(first or url_for("dashboard.home"))

    def finished(self, response):
        """Record where ``response`` (the redirect after creating) leads, so a resend is sent there too."""
        record_submission_result(response.location)
        return response


class MoneyField(StringField):
    """Dollars typed as '$1,234.50' or '1234.5'; ``data`` is integer cents."""

    def __init__(self, label=None, validators=None, *, min_cents: int | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.min_cents = min_cents
        self.raw_text = ""

    def process_formdata(self, valuelist):
        self.raw_text = valuelist[0] if valuelist else ""
        if not self.raw_text.strip():
            self.data = None
            return
        try:
            self.data = parse_money(self.raw_text)
        except MoneyError as exc:
            self.data = None
            raise ValueError(str(exc)) from exc
        if self.min_cents is not None and self.data < self.min_cents:
            self.data = None
            raise ValueError(f"Enter at least {money_input_value(self.min_cents)}.")

    def _value(self):
        if self.raw_text:
            return self.raw_text
        return money_input_value(self.data) if isinstance(self.data, int) else ""


# Every date a person types lies in these years. A typo like 9999 would otherwise reach the
# services, whose report schedules and deadlines step past the calendar's end (a 500, not a message).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)


def within_years(_form, field) -> None:
    """The one range check of every date and date-time field (given to them by their classes)."""
    value = field.data
    if value is None:
        return
    day = to_local(value).date() if isinstance(value, datetime) else value
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        # Stops the field's later checks (an end after its start, a period's length): they would only add noise.
        raise StopValidation(f"Enter a date between {EARLIEST_DAY.year} and {LATEST_DAY.year}.")


def _with_year_range(validators) -> list:
    return [*(validators or []), within_years]


class DayField(DateField):
    """A calendar date (``<input type=date>``): blank is None, junk gets a plain message."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("invalid_value_message", "Enter a date, like 2027-03-31.")
        super().__init__(label, _with_year_range(validators), **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        super().process_formdata([valuelist[0].strip()])


class AgencyDateTimeField(StringField):
    """A date and time typed in the agency's zone (``<input type=datetime-local>``); data is UTC."""

    FORMAT = "%Y-%m-%dT%H:%M"

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {})["type"] = "datetime-local"
        super().__init__(label, _with_year_range(validators), **kwargs)
        self.raw_text = ""

    def process_formdata(self, valuelist):
        self.raw_text = (valuelist[0] if valuelist else "").strip()
        if not self.raw_text:
            self.data = None
            return
        try:
            self.data = local_to_utc(datetime.strptime(self.raw_text[:16], self.FORMAT))
        except (ValueError, OverflowError) as exc:  # OverflowError: too near year 1 or 9999
            self.data = None
            raise ValueError("Enter a date and time, like 2026-03-31 17:00.") from exc

    def _value(self):
        if self.raw_text:
            return self.raw_text
        return to_local(self.data).strftime(self.FORMAT) if isinstance(self.data, datetime) else ""


def apply_domain_error(form: FlaskForm, error: DomainError) -> None:
    """Show a service's refusal next to the field it names, or at the top of the page."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        if isinstance(field.errors, tuple):
            field.errors = list(field.errors)
        field.errors.append(error.message)
    else:
        flash(error.message, "error")


def carried_out(form: FlaskForm, action: Callable[[], object], *, success: str) -> bool:
    """Validate ``form`` and run the service call ``action``; True once it succeeded (``success`` is
    flashed). A refusal (DomainError) goes next to the field it names, and the caller shows the form again."""
    if not form.validate_on_submit():
        return False
    try:
        action()
    except DomainError as error:
        apply_domain_error(form, error)
        return False
    flash(success, "success")
    return True


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value

