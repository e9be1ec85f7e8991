"""How the authorization matrix fills each URL and what it posts.

URL parameters get the real id of the right object of the world; POST payloads are chosen so that
an allowed user's POST is refused by validation (or is a no-op), never a change that would alter
what later rows see. Where a POST by an allowed user necessarily changes something (removing a
partner or an attachment), the object is made fresh for that one request.
"""

from __future__ import annotations

import re

from tests.security.world import World, fresh_draft_attachment, fresh_draft_partner

TOO_LONG_COMMENT = "x" * 2001  # PaymentDecisionForm's comment allows 2,000 characters


def _own_or_cleared(world: World, kind: str) -> int:
    """A reviewer's own assignment; anyone else tries the cleared reviewer's (whose content is visible)."""
    return world.assignments.get(kind, world.assignments["cleared"]).id


# The value of a URL parameter, by parameter name; each is called with (world, user kind).
DEFAULT_PARAMS = {
    "organization_id": lambda w, k: w.organization.id,
    "application_id": lambda w, k: w.submitted.id,
    "partner_id": lambda w, k: w.draft_partner.id,
    "attachment_id": lambda w, k: w.submitted_attachment.id,
    "assignment_id": _own_or_cleared,
    "award_id": lambda w, k: w.award.id,
    "disbursement_id": lambda w, k: w.payment.id,
    "report_id": lambda w, k: w.report.id,
    "program_id": lambda w, k: w.program.id,
    "criterion_id": lambda w, k: w.criteria[0].id,
    "user_id": lambda w, k: w.users["owner"].id,
    "slug": lambda w, k: w.program.slug,
}

_draft = {"application_id": lambda w, k: w.draft.id}
# Endpoints whose parameters mean a different object than the default.
ENDPOINT_PARAMS = {
    "accounts.reset_password": {"token": lambda w, k: w.reset_token},
    "accounts.accept_invitation": {"token": lambda w, k: w.invitation_token},
    "applications.project": _draft,
    "applications.partners": _draft,
    "applications.edit_partner": _draft,
    "applications.budget": _draft,
    "applications.attachments": _draft,
    "applications.review_submit": _draft,
    "applications.extension": _draft,
    "applications.remove_partner": {**_draft, "partner_id": lambda w, k: fresh_draft_partner(w)},
    "applications.remove_attachment": {**_draft, "attachment_id": lambda w, k: fresh_draft_attachment(w)},
    "reviews.unassign": {"assignment_id": lambda w, k: w.assignments["scored"].id},  # submitted: refused
    "reviews.reopen": {"assignment_id": lambda w, k: w.assignments["scored"].id},
    "reviews.replace": {"assignment_id": lambda w, k: w.assignments["pending"].id},  # an empty POST: "choose the reviewer"
}

# POST bodies (besides the CSRF token), by endpoint; the default is an empty form.
PAYLOADS = {
    # All fields of these forms are optional, so an empty form would save blanks over the draft.
    "applications.project": lambda w: {"title": "t" * 201},
    "applications.budget": lambda w: {"match": "not money"},
    "reviews.assignment": lambda w: {f"points_{w.criteria[0].id}": "not a number", "action": "save"},
    "reviews.affiliations": lambda w: {"names": "n" * 10_001},
    # An empty comment is a valid approval; an over-long one is refused.
    "awards.approve_payment": lambda w: {"comment": TOO_LONG_COMMENT},
    "awards.reject_payment": lambda w: {"comment": TOO_LONG_COMMENT},
}


def url_for_rule(rule, world: World, kind: str) -> str:
    resolvers = {**DEFAULT_PARAMS, **ENDPOINT_PARAMS.get(rule.endpoint, {})}

    def fill(match: re.Match) -> str:
        name = match.group(2)
        return str(resolvers[name](world, kind))

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", fill, rule.rule)


def payload_for(endpoint: str, world: World) -> dict:
    return PAYLOADS.get(endpoint, lambda w: {})(world)
