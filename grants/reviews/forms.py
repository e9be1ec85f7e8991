from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from grants.formtools import GrantsForm, MoneyField, OneTimeForm, strip_filter
from grants.reviews.models import OUTCOMES, RECOMMENDATIONS


class ConflictForm(GrantsForm):
    declaration = RadioField(
        "Do you have a conflict of interest with this applicant or any of its partners?",
        choices={"none": "No, I have no conflict of interest", "conflict": "Yes, I have a conflict of interest"},
        validators=[DataRequired("Choose one.")],
        description="A conflict includes employment, board service, a family member, or money flowing between you and any of these organizations in the last two years.",
    )
    reason = TextAreaField("If yes, describe the conflict", validators=[Optional(), Length(max=2000)], filters=[strip_filter])


def review_form_class(criteria):
    """A scoring form with points and a comment for each criterion of the rubric."""

    class ReviewForm(GrantsForm):
        overall_comment = TextAreaField("Overall comment", validators=[Optional(), Length(max=6000)], filters=[strip_filter],
                                        description="Shared with program staff; the applicant may see it without your name.")
        recommendation = RadioField("Recommendation", choices=dict(RECOMMENDATIONS), validators=[Optional()])

    for criterion in criteria:
        setattr(ReviewForm, f"points_{criterion.id}", IntegerField(
            f"{criterion.name}: points (0 to {criterion.max_points})",
            validators=[Optional(), NumberRange(0, criterion.max_points, f"Give a whole number from 0 to {criterion.max_points}.")],
            description=criterion.guidance or None,
        ))
        setattr(ReviewForm, f"comment_{criterion.id}", TextAreaField(
            f"{criterion.name}: comment (optional)", validators=[Optional(), Length(max=4000)], filters=[strip_filter],
        ))
    return ReviewForm


class AssignForm(GrantsForm):
    application_ids = SelectMultipleField("Applications", coerce=int, validators=[DataRequired("Choose at least one application.")])
    reviewer_ids = SelectMultipleField("Reviewers", coerce=int, validators=[DataRequired("Choose at least one reviewer.")])


class ReplaceForm(GrantsForm):
    reviewer_id = SelectField("New reviewer", coerce=int, validators=[DataRequired("Choose the reviewer who takes over.")],
                              description="Active reviewers not affiliated with the applicant or its partners and not yet assigned to this application.")


class ReasonForm(GrantsForm):
    reason = TextAreaField("Reason", validators=[DataRequired("Give a reason."), Length(max=2000)], filters=[strip_filter])


class AffiliationsForm(GrantsForm):
    names = TextAreaField("Organizations you are affiliated with", validators=[Optional(), Length(max=10000)],
                          description="One per line: employers, boards you sit on, organizations you advise or fund. You will not be assigned their applications or those that name them as partners.")


class DecisionForm(OneTimeForm):
    outcome = RadioField("Decision", choices=dict(OUTCOMES), validators=[DataRequired("Choose a decision.")])
    approved_amount = MoneyField("Approved amount (for approval)", description="Up to the amount requested. Leave empty to approve the full request.")
    rationale = TextAreaField("Rationale", validators=[DataRequired("Give the rationale."), Length(max=4000)], filters=[strip_filter])
    # Shown only while the ranking flags the application; approving then needs it (services.decide).
    flags_read = BooleanField("I have read the open flags and decide anyway")


class FundingLineForm(GrantsForm):
    order = SelectField("Rank by", choices={"raw": "Raw mean score", "normalized": "Normalized mean score"})
    reserve = BooleanField("Reserve at least one award for each eligible partner type")
    confirm = BooleanField("I confirm: approve every funded application at its requested amount")
    # The digest of the previewed line (FundingLine.digest): a line that changed since approves nothing.
    line = HiddenField()
