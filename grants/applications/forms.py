from flask_wtf.file import FileField
from wtforms import BooleanField, FieldList, FormField, RadioField, SelectField, StringField, TextAreaField
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from grants.applications.models import ATTACHMENT_KINDS, BUDGET_CATEGORIES, MAX_BUDGET_LINES
from grants.formtools import AgencyDateTimeField, GrantsForm, GrantsSubform, MoneyField, OneTimeForm, strip_filter
from grants.programs.models import PARTNER_TYPES


class StartApplicationForm(OneTimeForm):
    organization_id = SelectField("Apply on behalf of", coerce=int, validators=[DataRequired("Choose the organization.")])


def _text(label, limit, **kwargs):
    return TextAreaField(label, validators=[Optional(), Length(max=limit)], filters=[strip_filter], **kwargs)


class ProjectForm(GrantsForm):
    """Step 1. Blank answers may be saved in a draft; the checklist asks for them before submission."""

    title = StringField("Project title", validators=[Optional(), Length(max=200)], filters=[strip_filter])
    summary = _text("Project summary", 2000, description="Two or three sentences a reviewer can read first (up to 2,000 characters).")
    need = _text("Community need", 6000, description="Who is in crisis, where, and what happens today when they call (up to 6,000 characters).")
    approach = _text("Approach", 6000, description="How the responder program and its partners will work together (up to 6,000 characters).")
    counties_served = StringField("Counties served", validators=[Optional(), Length(max=500)], filters=[strip_filter], description="Separate counties with commas.")
    awareness_component = RadioField(
        "Does the project include a public-awareness campaign?",
        choices={"yes": "Yes", "no": "No"},
        validators=[Optional()],
    )
    awareness_plan = _text("Public-awareness plan", 3000, description="If yes: audiences, channels and partners (up to 3,000 characters).")
    expected_outcomes = _text("Expected outcomes", 3000, description="What will change and how you will measure it (up to 3,000 characters).")

    def project_fields(self) -> dict:
        answer = self.awareness_component.data
        return {
            "title": self.title.data or "",
            "summary": self.summary.data or "",
            "need": self.need.data or "",
            "approach": self.approach.data or "",
            "counties_served": self.counties_served.data or "",
            "awareness_component": {"yes": True, "no": False}.get(answer),
            "awareness_plan": self.awareness_plan.data or "",
            "expected_outcomes": self.expected_outcomes.data or "",
        }

    def load(self, application) -> None:
        for name in ("title", "summary", "need", "approach", "counties_served", "awareness_plan", "expected_outcomes"):
            self[name].data = getattr(application, name)
        self.awareness_component.data = {True: "yes", False: "no"}.get(application.awareness_component)


class PartnerForm(GrantsForm):
    partner_type = SelectField("Partner type", validators=[DataRequired("Choose the partner type.")])
    name = StringField("Partner organization name", validators=[DataRequired("Enter the partner's name."), Length(max=200)], filters=[strip_filter])
    contact_name = StringField("Contact name", validators=[DataRequired("Enter the contact person's name."), Length(max=120)], filters=[strip_filter])
    contact_email = StringField("Contact e-mail", validators=[DataRequired("Enter the contact's e-mail address."), Length(max=254), Email("Enter an e-mail address like name@example.org.")], filters=[strip_filter])
    role = TextAreaField("Role in the project", validators=[DataRequired("Describe the partner's role."), Length(max=3000)], filters=[strip_filter])
    letter = FileField("Commitment letter", description="A signed letter from the partner. PDF, Word, Excel, PNG or JPEG, up to the size limit.")

    def __init__(self, *args, program=None, **kwargs):
        super().__init__(*args, **kwargs)
        eligible = program.eligible_partner_types if program is not None else list(PARTNER_TYPES)
        self.partner_type.choices = {"": "- Select -", **{key: PARTNER_TYPES[key] for key in eligible}}

    def partner_fields(self) -> dict:
        return {name: self[name].data for name in ("partner_type", "name", "contact_name", "contact_email", "role")}


class NewPartnerForm(OneTimeForm, PartnerForm):
    """Adding a partner: sent twice, it adds one (editing one needs no key)."""


class BudgetLineForm(GrantsSubform):
    category = SelectField("Category", choices={"": "- Select -", **BUDGET_CATEGORIES}, validators=[Optional()])
    description = StringField("Description", validators=[Optional(), Length(max=300)], filters=[strip_filter])
    amount = MoneyField("Amount requested", min_cents=1)

    def is_blank(self) -> bool:
        return not (self.category.data or self.description.data or self.amount.raw_text.strip())

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.is_blank():
            return ok
        if not self.category.data:
            self.category.errors.append("Choose a category.")
            ok = False
        if not self.description.data:
            self.description.errors.append("Describe this line.")
            ok = False
        if self.amount.data is None and not self.amount.errors:
            self.amount.errors.append("Enter an amount.")
            ok = False
        return ok


class BudgetLineList(FieldList):
    """WTForms' FieldList, taking only ASCII digits as line indices.

    FieldList trusts ``str.isdigit``, which says yes to "²"; ``int("²")`` then raises and a
    posted field named ``lines-²-amount`` would be a 500. Such a field is ignored instead.

    FieldList also keeps only the first ``max_entries`` posted lines and drops the rest without a
    word; ``lines_posted`` counts them all, so the form can refuse the post instead.
    """

    lines_posted = 0

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.lines_posted = len(set(self._extract_indices(self.name, formdata))) if formdata else 0
        super().process(formdata, data, extra_filters)

    @property
    def full(self) -> bool:
        """Every line a budget may have is filled in: there is no room for another."""
        return sum(not entry.form.is_blank() for entry in self.entries) >= self.max_entries

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split(self._field_separator, 1)[0]
                if index.isascii() and index.isdigit():
                    yield int(index)


class BudgetForm(GrantsForm):
    lines = BudgetLineList(FormField(BudgetLineForm), min_entries=1, max_entries=MAX_BUDGET_LINES)
    match = MoneyField("Matching funds (local or in-kind)", description="Cash or in-kind resources your organization and partners commit to the project.")

    def validate_lines(self, field):
        if field.lines_posted > field.max_entries:
            raise ValidationError(
                f"A budget can have at most {field.max_entries} lines and {field.lines_posted} were sent. "
                "Nothing was saved: combine some lines and save again."
            )

    def budget_lines(self) -> list[dict]:
        return [
            {"category": line.category.data, "description": line.description.data, "amount_cents": line.amount.data}
            for line in (entry.form for entry in self.lines)
            if not line.is_blank()
        ]


class AttachmentForm(OneTimeForm):
    kind = SelectField(
        "Document type",
        choices={"": "- Select -", **{k: v for k, v in ATTACHMENT_KINDS.items() if k not in ("commitment_letter", "payment_documentation")}},
        validators=[DataRequired("Choose the document type.")],
    )
    file = FileField("File", description="PDF, Word, Excel, PNG or JPEG.")


class SubmitForm(GrantsForm):
    """The certification is checked by ``submit_application``, after the reasons an application
    cannot be submitted at all: a replayed submit is told it was already submitted, not to tick the box."""

    certify = BooleanField(
        "I certify that the information in this application is true and complete, and that I am "
        "authorized to submit it on behalf of the organization."
    )


class WithdrawForm(GrantsForm):
    reason = TextAreaField("Reason for withdrawing", validators=[DataRequired("Give a reason."), Length(max=2000)], filters=[strip_filter])


class ScreenForm(GrantsForm):
    decision = RadioField("Eligibility", choices={"eligible": "Eligible: send to review", "ineligible": "Ineligible"}, validators=[DataRequired("Choose eligible or ineligible.")])
    reason = TextAreaField("Reason (required when ineligible; sent to the applicant)", validators=[Optional(), Length(max=2000)], filters=[strip_filter])


class ExtensionForm(GrantsForm):
    until = AgencyDateTimeField("Extended deadline", validators=[DataRequired("Enter the new deadline.")])
    reason = TextAreaField("Reason", validators=[DataRequired("Give the reason."), Length(max=2000)], filters=[strip_filter])
