"""Program officers design funding rounds and rubrics; anyone browses open opportunities."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from grants.accounts.models import ADMIN, APPLICANT, PROGRAM_OFFICER
from grants.clock import format_remaining
from grants.db import page_number, utcnow
from grants.errors import DomainError
from grants.extensions import db
from grants.formtools import apply_domain_error
from grants.permissions import can_manage_program, load_program_for, public, roles_required
from grants.programs import bp, services
from grants.programs.forms import (
    MOVE_DIRECTIONS,
    SLUG_PATTERN,
    CriterionForm,
    MoveCriterionForm,
    NewCriterionForm,
    NewProgramForm,
    ProgramForm,
    ProgramStatusForm,
)
from grants.programs.lifecycle import ProgramStatus, allowed_moves
from grants.programs.models import Criterion, Program

PER_PAGE = 25
SLUG = re.compile(SLUG_PATTERN)
MAX_ID = 2**31 - 1  # the largest INTEGER key; a larger id in a URL would make the database raise
# Button label for each allowed move, in the order the buttons appear.
TRANSITION_LABELS = {
    (ProgramStatus.DRAFT, ProgramStatus.PUBLISHED): "Publish",
    (ProgramStatus.PUBLISHED, ProgramStatus.CLOSED): "Close to applications",
    (ProgramStatus.PUBLISHED, ProgramStatus.DRAFT): "Return to draft",
    (ProgramStatus.CLOSED, ProgramStatus.PUBLISHED): "Reopen",
    (ProgramStatus.CLOSED, ProgramStatus.ARCHIVED): "Archive",
}


# Public funding opportunities -----------------------------------------------------------------


@bp.route("/opportunities")
@public
def opportunities():
    now = utcnow()
    return render_template(
        "programs/opportunities.html", programs=services.open_programs(now), now=now, format_remaining=format_remaining,
    )


@bp.route("/opportunities/<slug>")
@public
def opportunity(slug: str):
    if not SLUG.fullmatch(slug):
        abort(404)  # not a slug at all (and keeps stray bytes away from the database)
    program = db.session.scalar(
        sa.select(Program)
        .where(Program.slug == slug, Program.is_public)  # never drafts or archives
        .options(selectinload(Program.criteria))
    )
    if program is None:
        abort(404)
    now = utcnow()
    is_open = program.is_open(now)
    can_apply = is_open and current_user.is_authenticated and current_user.has_role(APPLICANT)
    return render_template(
        "programs/opportunity.html", program=program, now=now, is_open=is_open, can_apply=can_apply,
        format_remaining=format_remaining,
    )


# Program officers: programs --------------------------------------------------------------------


def _criterion_or_404(program: Program, criterion_id: int) -> Criterion:
    criterion = db.session.get(Criterion, criterion_id) if criterion_id <= MAX_ID else None
    if criterion is None or criterion.program_id != program.id:
        abort(404)
    return criterion


@bp.route("/programs")
@roles_required(PROGRAM_OFFICER, ADMIN)
def program_list():
    page = db.paginate(
        sa.select(Program).order_by(Program.fiscal_year.desc(), Program.opens_at.desc(), Program.id.desc()),
        page=page_number(), per_page=PER_PAGE, error_out=False,
    )
    return render_template(
        "programs/program_list.html", page=page, can_manage=current_user.has_role(PROGRAM_OFFICER),
    )


@bp.route("/programs/new", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER)
def new_program():
    form = NewProgramForm()
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            program = services.create_program(actor=current_user, fields=form.program_fields())
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"{program.name} was created as a draft. Add its rubric criteria, then publish it.", "success")
            return form.finished(redirect(url_for("programs.program_detail", program_id=program.id)))
    return render_template("programs/program_form.html", form=form, program=None)


@bp.route("/programs/<int:program_id>")
@roles_required(PROGRAM_OFFICER, ADMIN)
def program_detail(program_id: int):
    program = load_program_for(current_user, program_id)
    transitions = [
        (status, TRANSITION_LABELS[(program.status, status)])
        for (before, status) in TRANSITION_LABELS
        if before == program.status and status in allowed_moves(program.status)
    ]
    return render_template(
        "programs/program_detail.html", program=program, transitions=transitions,
        can_manage=current_user.has_role(PROGRAM_OFFICER),
        is_open=program.is_open(utcnow()),
    )


@bp.route("/programs/<int:program_id>/edit", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER)
def edit_program(program_id: int):
    program = load_program_for(current_user, program_id, "manage")
    form = ProgramForm(obj=program)
    if form.validate_on_submit():
        try:
            services.update_program(actor=current_user, program=program, fields=form.program_fields())
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Saved the settings of {program.name}.", "success")
            return redirect(url_for("programs.program_detail", program_id=program.id))
    return render_template("programs/program_form.html", form=form, program=program)


@bp.route("/programs/<int:program_id>/status", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def change_status(program_id: int):
    program = load_program_for(current_user, program_id, "manage")
    form = ProgramStatusForm()
    if not form.validate_on_submit():
        flash("Choose one of the status buttons to change the program's status.", "error")
    else:
        try:
            services.change_program_status(actor=current_user, program=program, status=form.status.data)
        except DomainError as error:
            flash(error.message, "error")
        else:
            flash(f"{program.name} is now {program.status_label.lower()}.", "success")
    return redirect(url_for("programs.program_detail", program_id=program.id))


# Program officers: rubric ----------------------------------------------------------------------


@bp.route("/programs/<int:program_id>/rubric", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER, ADMIN)
def rubric(program_id: int):
    # Administrators read the rubric (403 on a POST); only program officers change it.
    program = load_program_for(current_user, program_id, "manage" if request.method == "POST" else "view")
    can_manage = can_manage_program(current_user, program)
    form = NewCriterionForm()
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            criterion = services.add_criterion(actor=current_user, program=program, **form.criterion_fields())
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Added “{criterion.name}” to the rubric.", "success")
            return form.finished(redirect(url_for("programs.rubric", program_id=program.id)))
    return render_template(
        "programs/rubric.html", program=program, form=form,
        can_edit=can_manage and program.rubric_frozen_at is None,
    )


@bp.route("/programs/<int:program_id>/rubric/<int:criterion_id>/edit", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER)
def edit_criterion(program_id: int, criterion_id: int):
    program = load_program_for(current_user, program_id, "manage")
    criterion = _criterion_or_404(program, criterion_id)
    form = CriterionForm(obj=criterion)
    if form.validate_on_submit():
        try:
            services.update_criterion(actor=current_user, criterion=criterion, **form.criterion_fields())
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Saved “{criterion.name}”.", "success")
            return redirect(url_for("programs.rubric", program_id=program.id))
    return render_template("programs/criterion_form.html", program=program, criterion=criterion, form=form)


@bp.route("/programs/<int:program_id>/rubric/<int:criterion_id>/remove", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def remove_criterion(program_id: int, criterion_id: int):
    program = load_program_for(current_user, program_id, "manage")
    criterion = _criterion_or_404(program, criterion_id)
    name = criterion.name
    try:
        services.remove_criterion(actor=current_user, criterion=criterion)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(f"Removed “{name}” from the rubric.", "success")
    return redirect(url_for("programs.rubric", program_id=program.id))


@bp.route("/programs/<int:program_id>/rubric/<int:criterion_id>/move", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def move_criterion(program_id: int, criterion_id: int):
    program = load_program_for(current_user, program_id, "manage")
    criterion = _criterion_or_404(program, criterion_id)
    form = MoveCriterionForm()
    if not form.validate_on_submit():
        flash("Choose to move the criterion up or down.", "error")
    else:
        try:
            services.move_criterion(actor=current_user, criterion=criterion, direction=MOVE_DIRECTIONS[form.direction.data])
        except DomainError as error:
            flash(error.message, "error")
    return redirect(url_for("programs.rubric", program_id=program.id, _anchor=f"criterion-{criterion.id}"))


