
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from grants.accounts.models import ORGANIZATION_TYPES, ROLE_LABELS, STAFF_ROLES
from grants.accounts.services import MIN_PASSWORD_LENGTH
from grants.formtools import GrantsForm, OneTimeForm, strip_filter

US_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY"
).split()


def email_field(label="E-mail address"):
    return EmailField(
        label,
        validators=[DataRequired("Enter an e-mail address."), Length(max=254), Email("Enter an e-mail address like name@example.org.")],
        filters=[strip_filter],
    )


def new_password_field(label="Password"):
    return PasswordField(
        label,
        validators=[
            DataRequired("Enter a password."),
            Length(min=MIN_PASSWORD_LENGTH, max=256, message=f"Use {MIN_PASSWORD_LENGTH} to 256 characters."),
        ],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. A short sentence is easy to remember.",
    )


class RegisterForm(GrantsForm):
    name = StringField("Full name", validators=[DataRequired("Enter your name."), Length(max=120)], filters=[strip_filter])
    email = email_field()
    password = new_password_field()
    confirm = PasswordField(
        "Confirm password",
        validators=[DataRequired("Enter the password again."), EqualTo("password", "The passwords do not match.")],
    )


class LoginForm(GrantsForm):
    email = email_field()
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=256)])


class ForgotPasswordForm(GrantsForm):
    email = email_field()


class ResetPasswordForm(GrantsForm):
    password = new_password_field("New password")
    confirm = PasswordField(
        "Confirm new password",
        validators=[DataRequired("Enter the password again."), EqualTo("password", "The passwords do not match.")],
    )


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password."), Length(max=256)])


def _upper(value):
    return value.strip().upper() if isinstance(value, str) else value


def _blank_to_none(value):
    if isinstance(value, str):
        value = value.strip()
    return value or None


class OrganizationForm(GrantsForm):
    legal_name = StringField("Legal name", validators=[DataRequired("Enter the organization's legal name."), Length(max=200)], filters=[strip_filter])
    ein = StringField(
        "Employer Identification Number (EIN)",
        validators=[DataRequired("Enter the EIN."), Regexp(r"^\d{2}-\d{7}$", message="Enter the EIN as two digits, a hyphen and seven digits, like 12-3456789.")],
        filters=[strip_filter],
        description="Two digits, a hyphen, seven digits: 12-3456789.",
    )
    uei = StringField(
        "SAM Unique Entity ID (optional)",
        validators=[Optional(), Regexp(r"^[A-Z0-9]{12}$", message="A SAM UEI is 12 letters and digits, like J7M9HPTGJ1S9.")],
        filters=[_upper, _blank_to_none],
        description="12 letters and digits from SAM.gov, if you have one.",
    )
    org_type = SelectField(
        "Organization type",
        choices={"": "- Select -", **ORGANIZATION_TYPES},
        validators=[DataRequired("Choose the organization type.")],
    )
    county = StringField("County (primary service area)", validators=[DataRequired("Enter the county."), Length(max=80)], filters=[strip_filter])
    address_line1 = StringField("Street address", validators=[DataRequired("Enter the street address."), Length(max=200)], filters=[strip_filter])
    address_line2 = StringField("Street address line 2 (optional)", validators=[Optional(), Length(max=200)], filters=[_blank_to_none])
    city = StringField("City", validators=[DataRequired("Enter the city."), Length(max=100)], filters=[strip_filter])
    state = SelectField("State", choices={"": "- Select -", **{s: s for s in US_STATES}}, validators=[DataRequired("Choose the state.")])
    postal_code = StringField(
        "ZIP code",
        validators=[DataRequired("Enter the ZIP code."), Regexp(r"^\d{5}(-\d{4})?$", message="Enter a 5-digit ZIP code, like 60601.")],
        filters=[strip_filter],
    )
    contact_name = StringField("Contact person", validators=[DataRequired("Enter the contact person's name."), Length(max=120)], filters=[strip_filter])
    contact_email = email_field("Contact e-mail address")
    contact_phone = TelField("Contact phone (optional)", validators=[Optional(), Length(max=30), Regexp(r"^[0-9+().\- x]{7,30}$", message="Enter a phone number, like (312) 555-0100.")], filters=[_blank_to_none])

    def organization_fields(self) -> dict:
        return {name: self[name].data for name in (
            "legal_name", "ein", "uei", "org_type", "county", "address_line1", "address_line2",
            "city", "state", "postal_code", "contact_name", "contact_email", "contact_phone",
        )}


class NewOrganizationForm(OneTimeForm, OrganizationForm):
    """Registering an organization: sent twice, it registers one (editing one needs no key)."""


class InviteForm(OneTimeForm):
    email = email_field("E-mail address of the person to invite")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _staff_role_choices():
    return {role: ROLE_LABELS[role] for role in STAFF_ROLES}


class StaffUserForm(OneTimeForm):
    name = StringField("Full name", validators=[DataRequired("Enter the person's name."), Length(max=120)], filters=[strip_filter])
    email = email_field()
    roles = MultiCheckboxField("Roles", choices=_staff_role_choices())

    def validate_roles(self, field):
        if not field.data:
            raise ValidationError("Choose at least one role.")


class EditUserForm(GrantsForm):
    name = StringField("Full name", validators=[DataRequired("Enter the person's name."), Length(max=120)], filters=[strip_filter])
    roles = MultiCheckboxField("Roles", choices=dict(ROLE_LABELS))
    active = BooleanField("Account is active (can sign in)")

    def validate_roles(self, field):
        if not field.data:
            raise ValidationError("Choose at least one role.")
