"""Downloads for finance and program staff: the award ledger, applications and scores, 360Giving."""

import os
import tempfile

import sqlalchemy as sa
from flask import after_this_request, render_template, request, send_file
from flask_login import current_user

from grants.accounts.models import ADMIN, FINANCE, PROGRAM_OFFICER
from grants.exports import bp, services
from grants.exports.forms import GivingFilterForm, LedgerFilterForm
from grants.extensions import db
from grants.permissions import conflicted_application_ids, load_program_for, roles_required
from grants.programs.models import Program

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _programs():
    return db.session.scalars(sa.select(Program).order_by(Program.fiscal_year.desc(), Program.name)).all()


def _program_choices(programs) -> dict[str, str]:
    return {"": "All programs", **{p.slug: f"{p.name} (FY{p.fiscal_year})" for p in programs}}


def _index(*, form=None, giving_form=None, status: int = 200):
    """The exports page; a form that failed validation shows its errors in its own section."""
    programs = _programs()
    form = form or LedgerFilterForm(request.args)
    giving_form = giving_form or GivingFilterForm(request.args)
    form.program.choices = giving_form.program.choices = _program_choices(programs)
    return render_template("exports/index.html", form=form, giving_form=giving_form, programs=programs), status


def _validated(form_class):
    form = form_class(request.args)
    form.program.choices = _program_choices(_programs())
    form.validate()
    return form


def _send(build, filename: str):
    """Build the workbook in a temporary file, stream it, and remove the file afterwards."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        build(path)
    except BaseException:
        os.unlink(path)  # a failed build must not leave a partial workbook in the temp directory
        raise

    @after_this_request
    def _cleanup(response):
        response.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
        return response

    return send_file(path, mimetype=XLSX, as_attachment=True, download_name=filename, max_age=0)


@bp.route("/exports")
@roles_required(FINANCE, PROGRAM_OFFICER, ADMIN)
def index():
    return _index()


@bp.route("/exports/award-ledger.xlsx")
@roles_required(FINANCE, PROGRAM_OFFICER, ADMIN)
def award_ledger():
    form = _validated(LedgerFilterForm)
    if form.errors:
        return _index(form=form, status=400)
    program = db.session.scalar(sa.select(Program).where(Program.slug == form.program.data)) if form.program.data else None
    filters = services.LedgerFilters(program=program, fiscal_year=form.fiscal_year.data, status=form.status.data or None)
    filename = services.export_filename("award-ledger", program=program, fiscal_year=filters.fiscal_year)
    return _send(lambda path: services.award_ledger_workbook(path, filters=filters, generated_by=current_user.email), filename)


@bp.route("/exports/programs/<int:program_id>/applications-and-scores.xlsx")
@roles_required(PROGRAM_OFFICER, ADMIN)
def applications_scores(program_id: int):
    program = load_program_for(current_user, program_id)
    filename = services.export_filename("applications-and-scores", program=program)
    hidden = frozenset(conflicted_application_ids(current_user))  # their rows and scores are not the downloader's to see
    return _send(lambda path: services.applications_scores_workbook(path, program=program, generated_by=current_user.email,
                                                                     hidden=hidden), filename)


@bp.route("/exports/360giving.xlsx")
@roles_required(FINANCE, PROGRAM_OFFICER, ADMIN)
def giving360():
    form = _validated(GivingFilterForm)
    if form.errors:
        return _index(giving_form=form, status=400)
    program = db.session.scalar(sa.select(Program).where(Program.slug == form.program.data)) if form.program.data else None
    filename = services.export_filename("360giving", program=program)
    return _send(lambda path: services.giving360_workbook(path, program=program), filename)
