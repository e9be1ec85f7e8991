"""Applicants prepare and submit applications; staff read and screen them."""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy.orm import contains_eager, selectinload

from grants.accounts.models import ADMIN, APPLICANT, FINANCE, PROGRAM_OFFICER, Membership, Organization
from grants.applications import bp, services
from grants.applications.forms import (
    AttachmentForm,
    BudgetForm,
    ExtensionForm,
    NewPartnerForm,
    PartnerForm,
    ProjectForm,
    ScreenForm,
    StartApplicationForm,
    SubmitForm,
    WithdrawForm,
)
from grants.applications.lifecycle import LABELS as APPLICATION_STATUSES
from grants.applications.models import MAX_BUDGET_LINES, Application, Attachment, Partner
from grants.audit.models import AuditEvent
from grants.clock import format_remaining
from grants.db import page_number, query_text, utcnow
from grants.errors import DomainError
from grants.extensions import db
from grants.formtools import apply_domain_error
from grants.permissions import (
    conflicted_application_ids,
    is_member,
    load_application_for,
    load_attachment_for,
    load_program_for,
    login_required,
    roles_required,
)
from grants.programs.models import PARTNER_TYPES, Program
from grants.uploads import download_name, stored_path

PROGRAM_PAGE_SIZE = 25  # a program's applications per page

STEPS = [
    ("project", "Project", "applications.project"),
    ("partners", "Partners", "applications.partners"),
    ("budget", "Budget", "applications.budget"),
    ("attachments", "Attachments", "applications.attachments"),
    ("review", "Review and submit", "applications.review_submit"),
]


def _editable(application_id: int) -> Application | None:
    """Load a draft the user may edit; None (with a message) when it is no longer a draft."""
    application = load_application_for(current_user, application_id, "prepare")
    if not application.is_draft:
        flash(f"Application {application.reference} is {application.status_label.lower()} and can no longer be changed.", "info")
        return None
    return application


def _refused_edit(application: Application, error: DomainError, form=None):
    """Show a service's refusal of a change to a draft.

    When a submission took the application while this request waited for its lock, say so on the
    application's page (a redirect); otherwise put the message beside the form's field and
    return None so the step page is shown again.
    """
    if not application.is_draft:
        flash(error.message, "error")
        return redirect(url_for("applications.view", application_id=application.id))
    if form is None:
        flash(error.message, "error")
        return None
    apply_domain_error(form, error)
    return None


def _next_step(current: str, application: Application):
    if request.form.get("action") == "later":
        flash("Your progress is saved. You can come back to this application any time before the deadline.", "success")
        return redirect(url_for("dashboard.home"))
    keys = [key for key, _label, _endpoint in STEPS]
    following = STEPS[keys.index(current) + 1]
    return redirect(url_for(following[2], application_id=application.id))


def _step_context(application: Application, current: str) -> dict:
    gaps = services.completeness(application)
    incomplete = {gap.step for gap in gaps}
    return {
        "application": application,
        "steps": STEPS,
        "current_step": current,
        "incomplete_steps": incomplete,
        "time_left": format_remaining(application.deadline(), utcnow()),
    }


@bp.route("/opportunities/<slug>/apply", methods=["GET", "POST"])
@roles_required(APPLICANT)
def start(slug: str):
    program = db.session.scalar(sa.select(Program).where(Program.slug == slug, Program.is_published))
    if program is None:
        abort(404)
    organizations = db.session.scalars(
        sa.select(Organization).join(Membership).where(Membership.user_id == current_user.id).order_by(Organization.legal_name)
    ).all()
    if not organizations:
        flash("Register your organization first; applications are made on behalf of an organization.", "info")
        return redirect(url_for("accounts.new_organization"))
    form = StartApplicationForm()
    form.organization_id.choices = {org.id: org.legal_name for org in organizations}
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        organization = next(org for org in organizations if org.id == form.organization_id.data)
        try:
            application = services.start_application(actor=current_user, program=program, organization=organization)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Application {application.reference} started. Your answers are saved at every step.", "success")
            return form.finished(redirect(url_for("applications.project", application_id=application.id)))
    return render_template("applications/start.html", program=program, form=form, open_now=program.is_open(utcnow()))


@bp.route("/applications/<int:application_id>")
@login_required
def view(application_id: int):
    application = load_application_for(current_user, application_id)
    history: Sequence[AuditEvent] = []
    if current_user.has_role(PROGRAM_OFFICER, FINANCE, ADMIN):
        history = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.entity_type == "application", AuditEvent.entity_id == str(application.id))
            .order_by(AuditEvent.id)
        ).all()
    screen_form = ScreenForm() if current_user.has_role(PROGRAM_OFFICER) and application.can_be_screened else None
    member = is_member(current_user, application.organization_id)
    # A reviewer reads the proposal, never the decision or the other reviewers' comments.
    sees_outcome = member or current_user.has_role(PROGRAM_OFFICER, FINANCE, ADMIN)
    return render_template(
        "applications/view.html", application=application, history=history, screen_form=screen_form,
        gaps=services.completeness(application) if application.is_draft else [],
        can_withdraw=application.can_be_withdrawn and member, sees_outcome=sees_outcome,
    )


@bp.route("/applications/<int:application_id>/project", methods=["GET", "POST"])
@login_required
def project(application_id: int):
    application = _editable(application_id)
    if application is None:
        return redirect(url_for("applications.view", application_id=application_id))
    form = ProjectForm()
    if request.method == "GET":
        form.load(application)
    if form.validate_on_submit():
        try:
            services.update_project(actor=current_user, application=application, fields=form.project_fields())
        except DomainError as error:
            refused = _refused_edit(application, error, form)
            if refused is not None:
                return refused
        else:
            return _next_step("project", application)
    return render_template("applications/project.html", form=form, **_step_context(application, "project"))


@bp.route("/applications/<int:application_id>/partners", methods=["GET", "POST"])
@login_required
def partners(application_id: int):
    application = _editable(application_id)
    if application is None:
        return redirect(url_for("applications.view", application_id=application_id))
    form = NewPartnerForm(program=application.program)
    moving_on = request.method == "POST" and request.form.get("action") in ("continue", "later")
    # "Save and continue" is in the same form as the partner fields: a partner typed in but not yet
    # added is added (or its problems shown) on the way, never dropped.
    if moving_on and _nothing_entered(form, ("partner_type", "name", "contact_name", "contact_email", "role"), "letter"):
        return _next_step("partners", application)
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            partner = services.add_partner(actor=current_user, application=application, fields=form.partner_fields(), letter=form.letter.data)
        except DomainError as error:
            refused = _refused_edit(application, error, form)
            if refused is not None:
                return refused
        else:
            flash(f"Partner {partner.name} added.", "success")
            if moving_on:
                return form.finished(_next_step("partners", application))
            return form.finished(redirect(url_for("applications.partners", application_id=application.id)))
    _ask_for_file_again(form, "letter")
    return render_template("applications/partners.html", form=form, **_step_context(application, "partners"))


def _nothing_entered(form, text_fields: tuple[str, ...], file_field: str) -> bool:
    """True when none of ``text_fields`` holds anything and no file was chosen in ``file_field``."""
    chosen = form[file_field].data
    return not any((form[name].data or "").strip() for name in text_fields) and not (chosen and getattr(chosen, "filename", ""))


def _ask_for_file_again(form, file_field: str) -> None:
    """A page shown again cannot keep a chosen file: when other fields were refused, say so beside it."""
    chosen = form[file_field].data
    if form.errors and not form[file_field].errors and chosen and getattr(chosen, "filename", ""):
        form[file_field].errors = [f"Choose {chosen.filename} again: it was not uploaded because of the problems above."]


def _partner_of(application: Application, partner_id: int) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.application_id != application.id:
        abort(404)
    return partner


@bp.route("/applications/<int:application_id>/partners/<int:partner_id>", methods=["GET", "POST"])
@login_required
def edit_partner(application_id: int, partner_id: int):
    application = _editable(application_id)
    if application is None:
        return redirect(url_for("applications.view", application_id=application_id))
    partner = _partner_of(application, partner_id)
    form = PartnerForm(program=application.program, obj=partner)
    if form.validate_on_submit():
        try:
            services.update_partner(actor=current_user, partner=partner, fields=form.partner_fields(), letter=form.letter.data)
        except DomainError as error:
            refused = _refused_edit(application, error, form)
            if refused is not None:
                return refused
        else:
            flash(f"Partner {partner.name} saved.", "success")
            return redirect(url_for("applications.partners", application_id=application.id))
    return render_template("applications/partner_edit.html", form=form, partner=partner, **_step_context(application, "partners"))


@bp.route("/applications/<int:application_id>/partners/<int:partner_id>/remove", methods=["POST"])
@login_required
def remove_partner(application_id: int, partner_id: int):
    application = _editable(application_id)
    if application is None:
        return redirect(url_for("applications.view", application_id=application_id))
    partner = _partner_of(application, partner_id)
    name = partner.name
    try:
        services.remove_partner(actor=current_user, partner=partner)
    except DomainError as error:
        return _refused_edit(application, error) or redirect(url_for("applications.partners", application_id=application.id))
    flash(f"Partner {name} removed.", "success")
    return redirect(url_for("applications.partners", application_id=application.id))


@bp.route("/applications/<int:application_id>/budget", methods=["GET", "POST"])
@login_required
def budget(application_id: int):
    application = _editable(application_id)
    if application is None:
        return redirect(url_for("applications.view", application_id=application_id))
    if request.method == "GET":
        form = BudgetForm(data={
            "lines": [{"category": line.category, "description": line.description, "amount": line.amount_cents} for line in application.budget_lines],
            "match": application.match_cents,
        })
        if len(form.lines.entries) < MAX_BUDGET_LINES:  # a full budget gets no blank row (FieldList would refuse it: a 500)
            form.lines.append_entry()
    else:
        form = BudgetForm()
    if form.validate_on_submit():
        lines = form.budget_lines()
        try:
            services.save_budget(actor=current_user, application=application, lines=lines, match_cents=form.match.data)
        except DomainError as error:
            refused = _refused_edit(application, error, form)
            if refused is not None:
                return refused
        else:
            if request.form.get("action") == "add_line":
                if len(lines) >= MAX_BUDGET_LINES:
                    flash(f"Budget saved. It has {MAX_BUDGET_LINES} lines, the most a budget can have, so no line was added.", "success")
                else:
                    flash("Budget saved. A new line has been added below.", "success")
                return redirect(url_for("applications.budget", application_id=application.id, _anchor="budget-lines"))
            return _next_step("budget", application)
    return render_template(
        "applications/budget.html", form=form, problems=services.budget_problems(application), max_lines=MAX_BUDGET_LINES,
        required_match=services.required_match_cents(application), **_step_context(application, "budget"),
    )


@bp.route("/applications/<int:application_id>/attachments", methods=["GET", "POST"])
@login_required
def attachments(application_id: int):
    application = _editable(application_id)
    if application is None:
        return redirect(url_for("applications.view", application_id=application_id))
    form = AttachmentForm()
    moving_on = request.method == "POST" and request.form.get("action") in ("continue", "later")
    # As on the partners step: a file chosen but not yet uploaded is uploaded on the way.
    if moving_on and _nothing_entered(form, ("kind",), "file"):
        return _next_step("attachments", application)
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            attachment = services.add_attachment(actor=current_user, application=application, kind=form.kind.data, file=form.file.data)
        except DomainError as error:
            refused = _refused_edit(application, error, form)
            if refused is not None:
                return refused
        else:
            flash(f"{attachment.original_name} uploaded.", "success")
            if moving_on:
                return form.finished(_next_step("attachments", application))
            return form.finished(redirect(url_for("applications.attachments", application_id=application.id)))
    _ask_for_file_again(form, "file")
    return render_template("applications/attachments.html", form=form, **_step_context(application, "attachments"))


@bp.route("/applications/<int:application_id>/attachments/<int:attachment_id>/remove", methods=["POST"])
@login_required
def remove_attachment(application_id: int, attachment_id: int):
    application = _editable(application_id)
    if application is None:
        return redirect(url_for("applications.view", application_id=application_id))
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.application_id != application.id:
        abort(404)
    try:
        services.remove_attachment(actor=current_user, attachment=attachment)
    except DomainError as error:
        refused = _refused_edit(application, error)
        if refused is not None:
            return refused
    else:
        flash(f"{attachment.original_name} removed.", "success")
    return redirect(url_for("applications.attachments", application_id=application.id))


@bp.route("/applications/<int:application_id>/submit", methods=["GET", "POST"])
@login_required
def review_submit(application_id: int):
    application = load_application_for(current_user, application_id, "prepare")
    if not application.is_draft and request.method == "GET":
        return redirect(url_for("applications.view", application_id=application.id))
    form = SubmitForm()
    if form.validate_on_submit():
        try:
            services.submit_application(actor=current_user, application_id=application.id, certified=form.certify.data)
        except services.NotAccepted as refusal:
            apply_domain_error(form, refusal)
            if not application.is_draft:
                return redirect(url_for("applications.view", application_id=application.id))
        else:
            return redirect(url_for("applications.confirmation", application_id=application.id))
    return render_template(
        "applications/review.html", form=form, gaps=services.completeness(application),
        refusal=services.submission_refusal(application, utcnow()), **_step_context(application, "review"),
    )


@bp.route("/applications/<int:application_id>/confirmation")
@login_required
def confirmation(application_id: int):
    application = load_application_for(current_user, application_id)
    if application.submitted_at is None:
        return redirect(url_for("applications.view", application_id=application.id))
    return render_template("applications/confirmation.html", application=application)


@bp.route("/applications/<int:application_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(application_id: int):
    application = load_application_for(current_user, application_id, "prepare")
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            services.withdraw_application(actor=current_user, application=application, reason=form.reason.data)
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(f"Application {application.reference} has been withdrawn.", "success")
        return redirect(url_for("applications.view", application_id=application.id))
    return render_template("applications/withdraw.html", application=application, form=form)


@bp.route("/attachments/<int:attachment_id>")
@login_required
def download_attachment(attachment_id: int):
    attachment = load_attachment_for(current_user, attachment_id)
    return send_file(
        stored_path(attachment.stored_name),
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=download_name(attachment.original_name, attachment.content_type),
        max_age=0,
    )


@bp.route("/applications/<int:application_id>/screen", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def screen(application_id: int):
    application = load_application_for(current_user, application_id, "manage")
    form = ScreenForm()
    if form.validate_on_submit():
        try:
            services.screen_application(actor=current_user, application=application, eligible=form.decision.data == "eligible", reason=form.reason.data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Application {application.reference} is now {application.status_label.lower()}; the applicant has been notified.", "success")
            return redirect(url_for("applications.view", application_id=application.id))
    return render_template("applications/view.html", application=application, history=[], screen_form=form, gaps=[],
                           can_withdraw=False)


@bp.route("/applications/<int:application_id>/extension", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER)
def extension(application_id: int):
    application = load_application_for(current_user, application_id, "manage")
    form = ExtensionForm()
    if form.validate_on_submit():
        try:
            services.grant_extension(actor=current_user, application=application, until=form.until.data, reason=form.reason.data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Application {application.reference} may be submitted until the new deadline.", "success")
            return redirect(url_for("applications.view", application_id=application.id))
    return render_template("applications/extension.html", application=application, form=form)


# Any value may be a template global; the stubs only allow functions.
bp.add_app_template_global(APPLICATION_STATUSES, "application_statuses")  # type: ignore[arg-type]


@bp.app_template_global()
def application_counts(program_ids: list[int]) -> dict[int, dict[str, int]]:
    """{program id: {status: number of applications}}, in one grouped query: for the program pages,
    which show these counts without importing applications (programs are the lower domain)."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if not program_ids:
        return counts
    rows = db.session.execute(
        sa.select(Application.program_id, Application.status, sa.func.count())
        .where(Application.program_id.in_(program_ids))
        .group_by(Application.program_id, Application.status)
    )
    for program_id, status, number in rows:
        counts[program_id][status] = number
    return counts



# Program officers: a program's applications (linked from the program pages) --------------------------------------------------


@bp.route("/programs/<int:program_id>/applications")
@roles_required(PROGRAM_OFFICER, ADMIN)
def program_applications(program_id: int):
    program = load_program_for(current_user, program_id)
    filters = {name: query_text(name) for name in ("status", "county", "partner_type", "q")}
    stmt = (
        sa.select(Application)
        .join(Application.organization)
        .where(Application.program_id == program.id)
        .options(contains_eager(Application.organization), selectinload(Application.partners))
        .order_by(Application.reference)
    )
    conflicted = conflicted_application_ids(current_user)
    if conflicted:  # each of them is "not found" for this user, so the list leaves them out too
        stmt = stmt.where(Application.id.not_in(sorted(conflicted)))
    if filters["status"] in APPLICATION_STATUSES:
        stmt = stmt.where(Application.status == filters["status"])
    if filters["county"]:
        stmt = stmt.where(sa.func.lower(Organization.county) == filters["county"].lower())
    if filters["partner_type"] in PARTNER_TYPES:
        stmt = stmt.where(Application.partners.any(Partner.partner_type == filters["partner_type"]))
    if filters["q"]:
        needle = filters["q"].lower()
        stmt = stmt.where(sa.or_(
            sa.func.lower(Application.reference).contains(needle, autoescape=True),
            sa.func.lower(Organization.legal_name).contains(needle, autoescape=True),
            sa.func.lower(Application.title).contains(needle, autoescape=True),
        ))
    page = db.paginate(stmt, page=page_number(), per_page=PROGRAM_PAGE_SIZE, error_out=False)
    counties = db.session.scalars(
        sa.select(Organization.county)
        .join(Application, Application.organization_id == Organization.id)
        .where(Application.program_id == program.id)
        .distinct()
        .order_by(Organization.county)
    ).all()
    return render_template(
        "programs/applications.html", program=program, page=page, filters=filters, counties=counties,
        application_statuses=APPLICATION_STATUSES, partner_types=PARTNER_TYPES,
    )
