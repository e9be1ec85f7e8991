"""Application intake: drafts, partners, budgets, files, deadline-safe submission, screening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from grants.accounts.models import Membership, Organization, User
from grants.applications import lifecycle
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import (
    ATTACHMENT_KINDS,
    BUDGET_CATEGORIES,
    MAX_BUDGET_LINES,
    Application,
    Attachment,
    BudgetLine,
    Partner,
)
from grants.audit.services import changes_between, record_event
from grants.clock import format_instant
from grants.db import lock_row, utcnow
from grants.errors import DomainError
from grants.extensions import db
from grants.money import format_money
from grants.notifications.emails import notify
from grants.permissions import can_manage_application, is_member, require
from grants.programs.models import Program
from grants.uploads import StoredFile, remove_after_commit, store_upload

PROJECT_FIELDS = (
    "title", "summary", "need", "approach", "counties_served", "awareness_component",
    "awareness_plan", "expected_outcomes",
)
PARTNER_FIELDS = ("partner_type", "name", "contact_name", "contact_email", "role")


class NotAccepted(DomainError):
    """A submission that arrived when it could not be taken (closed, already submitted)."""


def _require_member(actor: User, application: Application) -> None:
    if not is_member(actor, application.organization_id):
        raise DomainError("Only members of the applicant organization can change this application.")


def _require_draft(application: Application) -> None:
    if not application.is_draft:
        raise DomainError(
            f"This application is {application.status_label.lower()} and can no longer be changed."
        )


def _editable(actor: User, application: Application) -> Application:
    """Lock the application row, then check the actor may still change it.

    ``submit_application`` takes the same lock, so a save racing a submission either lands
    before it (and is what the receipt describes) or waits and finds the application submitted.
    Checked on an unlocked row, a save could change a submitted application on PostgreSQL.
    """
    application = lock_row(Application, application.id)
    _require_member(actor, application)
    _require_draft(application)
    return application


def start_application(*, actor: User, program: Program, organization: Organization, now: datetime | None = None) -> Application:
    """Open a draft for ``organization`` in an open program, with its reference number.

    Refuses with DomainError an actor who is not a member of ``organization`` (field
    ``organization_id``) and a program that is not accepting applications (no field).
    """
    now = now or utcnow()
    if not is_member(actor, organization.id):
        raise DomainError("You can only apply on behalf of an organization you belong to.", "organization_id")
    program = lock_row(Program, program.id)  # reference numbers are handed out one at a time
    if not program.is_open(now):
        raise DomainError("This funding opportunity is not accepting applications.")
    program.last_application_number += 1
    application = Application(
        reference=f"{program.code}-{program.fiscal_year}-{program.last_application_number:04d}",
        program=program,
        organization=organization,
        status=ApplicationStatus.DRAFT.value,
        created_by_id=actor.id,
    )
    db.session.add(application)
    db.session.flush()
    record_event(actor, "application.started", application, {"reference": application.reference, "organization": organization.legal_name})
    return application


def update_project(*, actor: User, application: Application, fields: dict[str, Any]) -> None:
    """Save the project answers of a draft; DomainError when it is no longer a draft.

    Refuses with DomainError an actor who is not a member of the applicant organization and an application that is no
    longer a draft (no field).
    """
    application = _editable(actor, application)
    before = {field: getattr(application, field) for field in PROJECT_FIELDS}
    for field in PROJECT_FIELDS:
        setattr(application, field, fields[field])
    changes = changes_between(before, {field: getattr(application, field) for field in PROJECT_FIELDS})
    if changes:
        record_event(actor, "application.project_saved", application, changes)
    db.session.flush()


# Partners --------------------------------------------------------------------------------------


def _check_partner_type(application: Application, partner_type: str) -> None:
    if partner_type not in application.program.eligible_partner_types:
        raise DomainError("This program does not fund partnerships of that type.", "partner_type")


def _attach(*, actor: User, application: Application, kind: str, stored: StoredFile, partner: Partner | None = None) -> Attachment:
    attachment = Attachment(
        application=application,
        partner_id=partner.id if partner is not None else None,
        kind=kind,
        original_name=stored.original_name,
        stored_name=stored.stored_name,
        size=stored.size,
        content_type=stored.content_type,
        sha256=stored.sha256,
        uploaded_by_id=actor.id,
    )
    db.session.add(attachment)
    db.session.flush()
    record_event(actor, "application.file_uploaded", application, {
        "attachment": attachment.id, "kind": kind, "name": attachment.original_name,
        "size": attachment.size, "sha256": attachment.sha256, "partner": partner.id if partner else None,
    })
    return attachment


def add_partner(*, actor: User, application: Application, fields: dict[str, Any], letter: FileStorage | None = None) -> Partner:
    """Add a partner, with its commitment letter when one is given (checked before anything changes).

    Refuses with DomainError an actor who is not a member of the applicant organization and an application that is no
    longer a draft (no field), a partner type the
    program does not fund (field ``partner_type``) and a refused letter (field ``letter``, ``store_upload``).
    """
    application = _editable(actor, application)
    _check_partner_type(application, fields["partner_type"])
    stored = store_upload(letter, "letter") if letter is not None and letter.filename else None
    partner = Partner(**{field: fields[field] for field in PARTNER_FIELDS})
    application.partners.append(partner)
    db.session.flush()
    record_event(actor, "application.partner_added", application, {"partner": partner.id, **{f: fields[f] for f in PARTNER_FIELDS}})
    if stored is not None:
        _attach(actor=actor, application=application, kind="commitment_letter", stored=stored, partner=partner)
    return partner


def update_partner(*, actor: User, partner: Partner, fields: dict[str, Any], letter: FileStorage | None = None) -> None:
    """Save a partner's details and replace its commitment letter when a new one is given.

    Refuses with DomainError an actor who is not a member of the applicant organization and an application that is no
    longer a draft (no field), a partner type the
    program does not fund (field ``partner_type``) and a refused letter (field ``letter``, ``store_upload``).
    """
    application = _editable(actor, partner.application)
    _check_partner_type(application, fields["partner_type"])
    stored = store_upload(letter, "letter") if letter is not None and letter.filename else None
    before = {field: getattr(partner, field) for field in PARTNER_FIELDS}
    for field in PARTNER_FIELDS:
        setattr(partner, field, fields[field])
    changes = changes_between(before, {field: getattr(partner, field) for field in PARTNER_FIELDS})
    if changes:
        record_event(actor, "application.partner_updated", application, {"partner": partner.id, **changes})
    if stored is not None:
        old = partner.commitment_letter
        _attach(actor=actor, application=application, kind="commitment_letter", stored=stored, partner=partner)
        if old is not None:
            _delete_attachment(actor, old)
        db.session.expire(partner, ["commitment_letter"])
    db.session.flush()


def remove_partner(*, actor: User, partner: Partner) -> None:
    """Remove a partner and its commitment letter.

    Refuses with DomainError an actor who is not a member of the applicant organization and an application that is no
    longer a draft (no field).
    """
    application = _editable(actor, partner.application)
    if partner.commitment_letter is not None:
        _delete_attachment(actor, partner.commitment_letter)
    application.partners.remove(partner)
    record_event(actor, "application.partner_removed", application, {"partner": partner.id, "name": partner.name})
    db.session.flush()


# Budget ----------------------------------------------------------------------------------------


def save_budget(*, actor: User, application: Application, lines: list[dict[str, Any]], match_cents: int | None) -> None:
    """Replace the budget lines and the match; the requested amount becomes their sum.

    Refuses with DomainError (nothing changed) more than MAX_BUDGET_LINES lines, an unknown category (field
    ``lines``), or an application that is no longer a draft or an actor who is not a member (no field).
    """
    application = _editable(actor, application)
    if len(lines) > MAX_BUDGET_LINES:
        raise DomainError(f"A budget can have at most {MAX_BUDGET_LINES} lines; combine some lines and save again.", "lines")
    for line in lines:
        if line["category"] not in BUDGET_CATEGORIES:
            raise DomainError("Choose a budget category.", "lines")
    before = {
        "lines": [(line.category, line.description, line.amount_cents) for line in application.budget_lines],
        "requested_cents": application.requested_cents,
        "match_cents": application.match_cents,
    }
    application.budget_lines.clear()
    db.session.flush()
    for position, line in enumerate(lines, start=1):
        application.budget_lines.append(BudgetLine(
            category=line["category"], description=line["description"], amount_cents=line["amount_cents"], position=position,
        ))
    application.requested_cents = sum(line["amount_cents"] for line in lines)
    application.match_cents = match_cents
    after = {
        "lines": [(line["category"], line["description"], line["amount_cents"]) for line in lines],
        "requested_cents": application.requested_cents,
        "match_cents": match_cents,
    }
    changes = changes_between(before, after)
    if changes:
        record_event(actor, "application.budget_saved", application, changes)
    db.session.flush()


def required_match_cents(application: Application) -> int:
    """The smallest match that meets the program's percent of the requested amount (rounded up). Refuses nothing."""
    return -(-application.requested_cents * application.program.match_percent // 100)


def budget_problems(application: Application) -> list[str]:
    """What is wrong with the budget against the program's rules (no lines, below the floor, above the
    ceiling, too small a match), as messages. Refuses nothing: a question, not an action.
    """
    program = application.program
    problems = []
    if not application.budget_lines:
        problems.append("Add at least one budget line.")
        return problems
    if application.requested_cents < program.award_floor_cents:
        problems.append(f"The requested total, {format_money(application.requested_cents)}, is below the program's minimum award of {format_money(program.award_floor_cents)}.")
    if application.requested_cents > program.award_ceiling_cents:
        problems.append(f"The requested total, {format_money(application.requested_cents)}, is above the program's maximum award of {format_money(program.award_ceiling_cents)}.")
    if program.match_percent:
        needed = required_match_cents(application)
        if application.match_cents is None:
            problems.append(f"Enter your matching funds: at least {format_money(needed)} ({program.match_percent}% of the request).")
        elif application.match_cents < needed:
            problems.append(f"The match, {format_money(application.match_cents)}, is below the required {program.match_percent}% of the request ({format_money(needed)}).")
    return problems


# Attachments -----------------------------------------------------------------------------------


def add_attachment(*, actor: User, application: Application, kind: str, file: FileStorage | None) -> Attachment:
    """Upload a document of ``kind`` to a draft.

    Refuses with DomainError an actor who is not a member of the applicant organization and an application that is no
    longer a draft (no field), a kind that is unknown or
    uploaded elsewhere (commitment letters, payment documentation; field ``kind``) and a refused file
    (field ``file``, ``store_upload``).
    """
    application = _editable(actor, application)
    if kind not in ATTACHMENT_KINDS or kind in ("commitment_letter", "payment_documentation"):
        raise DomainError("Choose what kind of document this is.", "kind")
    return _attach(actor=actor, application=application, kind=kind, stored=store_upload(file, "file"))


def remove_attachment(*, actor: User, attachment: Attachment) -> None:
    """Delete a document from a draft.

    Refuses with DomainError an actor who is not a member of the applicant organization and an application that is no
    longer a draft (no field), and a partner's
    commitment letter, which is replaced from the partner's page.
    """
    assert attachment.application is not None  # routes pass an application's own attachment
    _editable(actor, attachment.application)
    if attachment.partner_id is not None:
        raise DomainError("Replace a commitment letter from the partner's page instead.")
    _delete_attachment(actor, attachment)


def _delete_attachment(actor: User, attachment: Attachment) -> None:
    application = attachment.application
    record_event(actor, "application.file_removed", application, {"attachment": attachment.id, "name": attachment.original_name, "sha256": attachment.sha256})
    remove_after_commit(attachment.stored_name)
    db.session.delete(attachment)
    db.session.flush()


# Completeness and submission ------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    step: str  # project | partners | budget | attachments
    message: str


def completeness(application: Application) -> list[Gap]:
    """What still stands between this draft and submission, by step. Refuses nothing: a question, not an action."""
    gaps = []
    required = {
        "title": "Give the project a title.",
        "summary": "Write a project summary.",
        "need": "Describe the community need.",
        "approach": "Describe your approach.",
        "counties_served": "List the counties served.",
        "expected_outcomes": "Describe the expected outcomes.",
    }
    for field, message in required.items():
        if not (getattr(application, field) or "").strip():
            gaps.append(Gap("project", message))
    if application.awareness_component is None:
        gaps.append(Gap("project", "Say whether the project includes a public-awareness campaign."))
    elif application.awareness_component and not application.awareness_plan.strip():
        gaps.append(Gap("project", "Describe the public-awareness campaign plan."))
    if not application.partners:
        gaps.append(Gap("partners", "Add at least one community partner."))
    eligible = set(application.program.eligible_partner_types)
    for partner in application.partners:
        if partner.partner_type not in eligible:
            gaps.append(Gap("partners", f"{partner.name}: this program does not fund {partner.type_label.lower()} partnerships."))
        if partner.commitment_letter is None:
            gaps.append(Gap("partners", f"Upload the commitment letter from {partner.name}."))
    gaps.extend(Gap("budget", message) for message in budget_problems(application))
    return gaps


def submission_refusal(application: Application, now: datetime) -> str | None:
    """Why this application cannot be submitted now, or None. Refuses nothing itself: ``submit_application`` raises it."""
    program = application.program
    if not application.is_draft:
        when = format_instant(application.submitted_at) if application.submitted_at else ""
        return (
            f"This application was already submitted{' on ' + when if when else ''}; nothing was changed."
            if application.submitted_at else
            f"This application is {application.status_label.lower()}; nothing was changed."
        )
    # Closing the program ends the round but not an extension the program officer granted.
    extended = application.extension_until is not None and application.deadline() == application.extension_until
    if not program.accepts_submissions_in_status(extended) or now < program.opens_at:
        return "This funding opportunity is not accepting applications."
    if now >= application.deadline():
        return (
            f"The deadline passed at {format_instant(application.deadline())}; the application was not submitted. "
            "Contact the program officer if you need an extension."
        )
    return None


def submit_application(*, actor: User, application_id: int, certified: bool, now: datetime | None = None) -> Application:
    """Submit a complete draft once, before its deadline by server time.

    Locks the application row, so a double click or a replayed POST finds it already submitted.
    Raises NotAccepted (a DomainError; nothing changes) when it is missing, late, already submitted,
    incomplete or not certified (field ``certify``), the first of these that applies; DomainError
    for an actor who is not a member of the applicant organization.
    """
    now = now or utcnow()
    application = lock_row(Application, application_id)
    if application is None:
        raise NotAccepted("No such application.")
    _require_member(actor, application)
    refusal = submission_refusal(application, now)
    if refusal:
        raise NotAccepted(refusal)
    if completeness(application):
        raise NotAccepted("The application is not complete yet; see the checklist.")
    if not certified:
        raise NotAccepted("Check the certification to submit.", "certify")
    application.submitted_at = now
    application.submitted_by_id = actor.id
    lifecycle.transition(application, ApplicationStatus.SUBMITTED, actor=actor, event="application.submitted", error=NotAccepted, details={
        "requested_cents": application.requested_cents,
        "match_cents": application.match_cents,
    }, then_notify=lambda application: notify_grantee(application, "application_received", actor=actor))
    db.session.flush()
    return application


def grantee_recipients(application: Application) -> list[str]:
    """Who hears about an application or award: active members of the organization and its contact. Refuses nothing."""
    members = db.session.scalars(
        sa.select(User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == application.organization_id, User.active.is_(True))
    ).all()
    return sorted(set(members) | {application.organization.contact_email.lower()})


def notify_grantee(application: Application, event: str, **context: Any) -> None:
    """Queue ``event``'s message (``templates/email/<event>.txt``) to each of ``grantee_recipients``. Refuses nothing."""
    notify(event, to=grantee_recipients(application), application=application, **context)


def withdraw_application(*, actor: User, application: Application, reason: str) -> None:
    """Withdraw a submitted application or one under review, with the applicant's reason.

    Locks the application first, so a decision racing the withdrawal waits and one of them is
    refused. Raises DomainError (nothing changes) for an actor who is not a member of the applicant
    organization, and for an application that is no longer withdrawable ("A declined application
    cannot be withdrawn.").
    """
    application = lock_row(Application, application.id)  # a decision racing the withdrawal waits
    _require_member(actor, application)
    lifecycle.transition(application, ApplicationStatus.WITHDRAWN, actor=actor, event="application.withdrawn",
                         details={"reason": reason})
    application.withdrawn_at = utcnow()
    application.withdrawn_reason = reason
    db.session.flush()


def screen_application(*, actor: User, application: Application, eligible: bool, reason: str | None) -> None:
    """Mark a submitted application eligible (under review) or ineligible with a reason.

    Raises NotPermitted (404) for an actor who is not a program officer or declared a conflict on it;
    DomainError (nothing changes) for an application that is not waiting for screening ("Only
    submitted applications can be screened; …") and for ineligible without a reason (field ``reason``)."""
    application = lock_row(Application, application.id)
    require(can_manage_application(actor, application))
    if not application.can_be_screened:
        # Not waiting for screening, so the table refuses the move and gives its message.
        raise DomainError(cast(str, lifecycle.refusal(application, ApplicationStatus.UNDER_REVIEW)))
    if not eligible and not (reason or "").strip():
        raise DomainError("Give the reason the application is ineligible.", "reason")
    application.screened_at = utcnow()
    application.ineligible_reason = None if eligible else (reason or "").strip()
    lifecycle.transition(application, ApplicationStatus.UNDER_REVIEW if eligible else ApplicationStatus.INELIGIBLE,
                         actor=actor, event="application.screened", details={"reason": application.ineligible_reason},
                         then_notify=lambda application: notify_grantee(
                             application, "application_eligible" if eligible else "application_ineligible"))
    db.session.flush()


def grant_extension(*, actor: User, application: Application, until: datetime, reason: str) -> None:
    """Let one draft be submitted until ``until`` (audited). Locks the application: a submission
    or another extension racing this one waits. Raises NotPermitted (404) as ``screen_application``."""
    application = lock_row(Application, application.id)
    require(can_manage_application(actor, application))
    if not application.is_draft:
        raise DomainError("Only a draft can be given a deadline extension.")
    if not application.program.is_public:
        raise DomainError(f"{application.program.name} is {application.program.status_label.lower()}; an extension applies only while "
                          "the program is published or closed.")
    if until <= application.program.closes_at:
        raise DomainError("An extension must end after the program's closing time.", "until")
    if until <= utcnow():
        raise DomainError("An extension must end in the future.", "until")
    if not reason.strip():
        raise DomainError("Give the reason for the extension.", "reason")
    before = {"extension_until": application.extension_until, "extension_reason": application.extension_reason}
    application.extension_until = until
    application.extension_reason = reason.strip()
    record_event(actor, "application.extension_granted", application, changes_between(before, {"extension_until": until, "extension_reason": application.extension_reason}))
    notify_grantee(application, "extension_granted")
    db.session.flush()
