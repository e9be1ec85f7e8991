"""Reviewers declare conflicts and score; program officers assign, rank, draw the line and decide."""

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload

from grants.accounts.models import ADMIN, PROGRAM_OFFICER, REVIEWER, User
from grants.applications.models import Application
from grants.db import page_number, paginate
from grants.errors import DomainError
from grants.extensions import db
from grants.formtools import apply_domain_error, carried_out
from grants.permissions import (
    conflicted_application_ids,
    load_application_for,
    load_assignment_for,
    load_program_for,
    roles_required,
)
from grants.reviews import bp, services
from grants.reviews.forms import (
    AffiliationsForm,
    AssignForm,
    ConflictForm,
    DecisionForm,
    FundingLineForm,
    ReasonForm,
    ReplaceForm,
    review_form_class,
)
from grants.reviews.models import (
    ReviewAssignment,
    ReviewerAffiliation,
)
from grants.text import ngettext

RANKING_PER_PAGE = 100


def _not_conflicted(stmt):
    """``stmt`` (over Application) without the applications the signed-in user declared a conflict on."""
    conflicted = conflicted_application_ids(current_user)
    return stmt.where(Application.id.not_in(sorted(conflicted))) if conflicted else stmt


# Reviewers ------------------------------------------------------------------------------------


# The application page (applications domain, below this one) shows its decision and the comments
# shared with the applicant through these, so applications need not import reviews.
bp.add_app_template_global(services.current_decision, "current_decision")
bp.add_app_template_global(services.shared_comments, "shared_comments")

@bp.route("/reviews")
@roles_required(REVIEWER)
def my_assignments():
    assignments = db.session.scalars(
        sa.select(ReviewAssignment)
        .where(ReviewAssignment.reviewer_id == current_user.id)
        .options(joinedload(ReviewAssignment.application).joinedload(Application.program))
        .order_by(ReviewAssignment.status, ReviewAssignment.id)
    ).all()
    return render_template("reviews/my_assignments.html", assignments=assignments)


@bp.route("/reviews/<int:assignment_id>", methods=["GET", "POST"])
@roles_required(REVIEWER)
def assignment(assignment_id: int):
    assignment = load_assignment_for(current_user, assignment_id, "review")
    application = assignment.application
    if assignment.is_declaration_pending:
        # Before the declaration: the applicant and partner names only, never the content.
        form = ConflictForm()
        return render_template("reviews/declare.html", assignment=assignment, application=application, form=form)
    if not assignment.may_see_content:
        return render_template("reviews/recused.html", assignment=assignment, application=application)
    criteria = list(application.program.criteria)
    form = review_form_class(criteria)()
    if request.method == "GET":
        scores = {s.criterion_id: s for s in assignment.scores}
        for criterion in criteria:
            if criterion.id in scores:
                form[f"points_{criterion.id}"].data = scores[criterion.id].points
                form[f"comment_{criterion.id}"].data = scores[criterion.id].comment
        form.overall_comment.data = assignment.overall_comment
        form.recommendation.data = assignment.recommendation
    if not assignment.is_submitted and form.validate_on_submit():
        try:
            services.save_review(
                actor=current_user, assignment=assignment,
                points={c.id: form[f"points_{c.id}"].data for c in criteria},
                comments={c.id: form[f"comment_{c.id}"].data or "" for c in criteria},
                overall_comment=form.overall_comment.data or "", recommendation=form.recommendation.data or None,
            )
            if request.form.get("action") == "submit":
                services.submit_review(actor=current_user, assignment_id=assignment.id)
                flash(f"Your review of {application.reference} is submitted and locked. Thank you.", "success")
                return redirect(url_for("reviews.my_assignments"))
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash("Draft saved. Nothing is shared until you submit.", "success")
            return redirect(url_for("reviews.assignment", assignment_id=assignment.id))
    return render_template("reviews/score.html", assignment=assignment, application=application, form=form, criteria=criteria)


@bp.route("/reviews/<int:assignment_id>/declare", methods=["POST"])
@roles_required(REVIEWER)
def declare(assignment_id: int):
    assignment = load_assignment_for(current_user, assignment_id, "review")
    if not assignment.is_declaration_pending:
        flash("You have already made your declaration for this application.", "info")
        return redirect(url_for("reviews.assignment", assignment_id=assignment.id))
    form = ConflictForm()
    if form.validate_on_submit():
        try:
            services.declare_conflict(actor=current_user, assignment=assignment, conflicted=form.declaration.data == "conflict", reason=form.reason.data)
        except DomainError as error:
            if not assignment.is_declaration_pending:  # another tab's declaration came first (the service re-read it)
                flash(error.message, "info")
                return redirect(url_for("reviews.assignment", assignment_id=assignment.id))
            apply_domain_error(form, error)
        else:
            if form.declaration.data == "conflict":
                flash("You are recused from this application. The program officer has been told and will reassign it.", "info")
                return redirect(url_for("reviews.my_assignments"))
            return redirect(url_for("reviews.assignment", assignment_id=assignment.id))
    return render_template("reviews/declare.html", assignment=assignment, application=assignment.application, form=form)


@bp.route("/reviews/affiliations", methods=["GET", "POST"])
@roles_required(REVIEWER)
def affiliations():
    form = AffiliationsForm()
    if request.method == "GET":
        form.names.data = "\n".join(db.session.scalars(
            sa.select(ReviewerAffiliation.organization_name).where(ReviewerAffiliation.user_id == current_user.id)
            .order_by(ReviewerAffiliation.organization_name)))
    if form.validate_on_submit():
        services.set_affiliations(actor=current_user, reviewer=current_user, names=(form.names.data or "").splitlines())
        flash("Affiliations saved.", "success")
        return redirect(url_for("reviews.my_assignments"))
    return render_template("reviews/affiliations.html", form=form)


# Program officers -------------------------------------------------------------------------------


@bp.route("/programs/<int:program_id>/reviews")
@roles_required(PROGRAM_OFFICER, ADMIN)
def manage(program_id: int):
    program = load_program_for(current_user, program_id)
    # One page of applications with their assignments; totals and per-reviewer progress in SQL.
    # Applications the user declared a conflict on are not theirs to manage: left out.
    page = paginate(
        _not_conflicted(sa.select(Application).where(Application.program_id == program.id, Application.is_under_review))
        .options(joinedload(Application.organization)).order_by(Application.reference),
        per_page=50,
    )
    by_application: dict[int, list[ReviewAssignment]] = {}
    for a in db.session.scalars(
        sa.select(ReviewAssignment).where(ReviewAssignment.application_id.in_([app.id for app in page.items]))
        .options(joinedload(ReviewAssignment.reviewer)).order_by(ReviewAssignment.id)
    ):
        by_application.setdefault(a.application_id, []).append(a)
    in_program = sa.select(Application.id).where(Application.program_id == program.id)
    progress = db.session.execute(
        sa.select(
            User.name,
            sa.func.count().label("total"),
            sa.func.sum(sa.case((ReviewAssignment.is_submitted, 1), else_=0)).label("submitted"),
            sa.func.sum(sa.case((ReviewAssignment.is_recused, 1), else_=0)).label("recused"),
        )
        .join(User, User.id == ReviewAssignment.reviewer_id)
        .where(ReviewAssignment.application_id.in_(in_program))
        .group_by(User.id, User.name).order_by(User.name, User.id)
    ).all()
    form = AssignForm()
    form.application_ids.choices = {a.id: f"{a.reference} – {a.organization.legal_name}" for a in page.items}
    form.reviewer_ids.choices = {r.id: r.name for r in services.reviewers()}
    per_reviewer, overall = services.calibration(program, frozenset(conflicted_application_ids(current_user)))
    return render_template(
        "reviews/manage.html", program=program, page=page, applications=page.items, by_application=by_application,
        progress=progress, form=form,
        done=sum(int(row.submitted) for row in progress), total=sum(row.total - int(row.recused) for row in progress),
        calibration=per_reviewer, overall=overall,
    )


@bp.route("/programs/<int:program_id>/reviews/assign", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def assign(program_id: int):
    program = load_program_for(current_user, program_id, "manage")
    form = AssignForm()
    applications = {a.id: a for a in db.session.scalars(
        _not_conflicted(sa.select(Application).where(Application.program_id == program.id, Application.is_under_review)))}
    pool = {r.id: r for r in services.reviewers()}
    form.application_ids.choices = {a.id: a.reference for a in applications.values()}
    form.reviewer_ids.choices = {r.id: r.name for r in pool.values()}
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(url_for("reviews.manage", program_id=program.id))
    created, refused = services.assign_reviewers(
        actor=current_user, applications=[applications[i] for i in set(form.application_ids.data)],
        reviewers=[pool[i] for i in form.reviewer_ids.data])
    flash(ngettext("%(num)d assignment made.", "%(num)d assignments made.", created), "success" if created else "info")
    for message in refused:
        flash(message, "warning")
    return redirect(url_for("reviews.manage", program_id=program.id))


@bp.route("/programs/<int:program_id>/reviews/auto-assign", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def auto_assign(program_id: int):
    program = load_program_for(current_user, program_id, "manage")
    try:
        result = services.auto_assign(actor=current_user, program=program)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(ngettext("Auto-assign made %(num)d assignment.", "Auto-assign made %(num)d assignments.", result.created), "success")
        if result.unfilled:
            flash(f"Not enough eligible reviewers for: {', '.join(result.unfilled)}.", "warning")
    return redirect(url_for("reviews.manage", program_id=program.id))


@bp.route("/reviews/<int:assignment_id>/remove", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def unassign(assignment_id: int):
    assignment = load_assignment_for(current_user, assignment_id, "manage")
    program_id = assignment.application.program_id
    try:
        services.remove_assignment(actor=current_user, assignment=assignment)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash("Assignment removed.", "success")
    return redirect(url_for("reviews.manage", program_id=program_id))


@bp.route("/reviews/<int:assignment_id>/replace", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER)
def replace(assignment_id: int):
    assignment = load_assignment_for(current_user, assignment_id, "manage")
    application = assignment.application
    if assignment.is_submitted:  # a stale page: say so rather than offer a form that must fail
        flash(f"{assignment.reviewer.name} has submitted this review; reopen it instead if it must change.", "info")
        return redirect(url_for("reviews.manage", program_id=application.program_id))
    form = ReplaceForm()
    form.reviewer_id.choices = [(r.id, r.name) for r in services.replacement_reviewers(application)]
    conflicted = assignment.is_conflicted
    if form.validate_on_submit():
        outgoing = assignment.reviewer.name
        try:
            replacement = services.replace_assignment(actor=current_user, assignment_id=assignment.id,
                                                      reviewer=db.session.get_one(User, form.reviewer_id.data))
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            kept = " (the conflict declaration stays on record)" if conflicted else ""
            flash(f"{replacement.reviewer.name} now reviews {application.reference} in place of {outgoing}{kept}; "
                  f"{replacement.reviewer.name} has been told.", "success")
            return redirect(url_for("reviews.manage", program_id=application.program_id))
    return render_template("reviews/replace.html", assignment=assignment, application=application, form=form, conflicted=conflicted)


@bp.route("/reviews/<int:assignment_id>/reopen", methods=["GET", "POST"])
@roles_required(PROGRAM_OFFICER)
def reopen(assignment_id: int):
    assignment = load_assignment_for(current_user, assignment_id, "manage")
    form = ReasonForm()
    if carried_out(form, lambda: services.reopen_review(actor=current_user, assignment=assignment, reason=form.reason.data),
                   success=f"Review reopened; {assignment.reviewer.name} has been told."):
        return redirect(url_for("reviews.summary", application_id=assignment.application_id))
    return render_template("reviews/reopen.html", assignment=assignment, form=form)


@bp.route("/programs/<int:program_id>/ranking")
@roles_required(PROGRAM_OFFICER, ADMIN)
def ranking(program_id: int):
    program = load_program_for(current_user, program_id)
    order = "normalized" if request.args.get("order") == "normalized" else "raw"
    page = page_number()
    conflicted = frozenset(conflicted_application_ids(current_user))  # their rows and scores are not shown
    rows, total = services.ranking_page(program, order, page, RANKING_PER_PAGE, hidden=conflicted)
    pages = max((total + RANKING_PER_PAGE - 1) // RANKING_PER_PAGE, 1)
    return render_template(
        "reviews/ranking.html", program=program, rows=rows, first_rank=(page - 1) * RANKING_PER_PAGE + 1,
        order=order, total=total, page=page, pages=pages, hidden=services.hidden_from_ranking(program, conflicted),
    )


@bp.route("/applications/<int:application_id>/reviews")
@roles_required(PROGRAM_OFFICER, ADMIN, refuse_with=404)  # the scores are the application's content
def summary(application_id: int):
    application = load_application_for(current_user, application_id, "scores")
    assignments = db.session.scalars(
        sa.select(ReviewAssignment).where(ReviewAssignment.application_id == application.id)
        .options(joinedload(ReviewAssignment.reviewer), selectinload(ReviewAssignment.scores))
        .order_by(ReviewAssignment.id)
    ).all()
    counted = [a for a in assignments if a.is_submitted]
    scores = {(s.assignment_id, s.criterion_id): s for a in counted for s in a.scores}
    return render_template(
        "reviews/summary.html", application=application, assignments=assignments, counted=counted,
        criteria=list(application.program.criteria), scores=scores,
        decision=services.current_decision(application), decision_form=DecisionForm(), flags=_open_flags(application),
    )


def _open_flags(application: Application) -> list[str]:
    """The ranking's flags, shown above the decision form while the application can be decided."""
    return services.standing_flags(application) if application.is_decidable else []


@bp.route("/programs/<int:program_id>/funding-line", methods=["GET"])
@roles_required(PROGRAM_OFFICER, ADMIN)
def funding_line(program_id: int):
    program = load_program_for(current_user, program_id)
    form = FundingLineForm(request.args, meta={"csrf": False})
    order = form.order.data if form.order.data in ("raw", "normalized") else "raw"
    line = services.funding_line(program, order=order, reserve_partner_types=bool(form.reserve.data))
    line = line.without(conflicted_application_ids(current_user))
    return render_template("reviews/funding_line.html", program=program, line=line, form=form, order=order,
                           hidden=len(line.hidden_rows),
                           reserve=bool(form.reserve.data), approve_form=FundingLineForm(order=order, reserve=form.reserve.data))


@bp.route("/programs/<int:program_id>/funding-line/approve", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def approve_above_line(program_id: int):
    program = load_program_for(current_user, program_id, "manage")
    form = FundingLineForm()
    order = form.order.data if form.order.data in ("raw", "normalized") else "raw"
    if not form.validate_on_submit() or not form.confirm.data:
        flash("Tick the confirmation box to approve every funded application.", "error")
        return redirect(url_for("reviews.funding_line", program_id=program.id, order=order, reserve=form.reserve.data or None))
    try:
        result = services.approve_above_line(actor=current_user, program=program, order=order, reserve_partner_types=bool(form.reserve.data),
                                             previewed=form.line.data or "")
    except DomainError as error:
        db.session.rollback()
        flash(f"Nothing was approved: {error.message}", "error")
    else:
        flash(ngettext("%(num)d application approved; the applicant has been notified.",
                       "%(num)d applications approved; the applicants have been notified.", result.approved), "success")
        if result.withheld:
            flash(ngettext("%(num)d funded application was not approved because you declared a conflict of interest "
                           "on it; it stays under review, within the line, for a colleague to decide.",
                           "%(num)d funded applications were not approved because you declared a conflict of interest "
                           "on them; they stay under review, within the line, for a colleague to decide.", result.withheld),
                  "warning")
    return redirect(url_for("reviews.funding_line", program_id=program.id, order=order, reserve=form.reserve.data or None))


@bp.route("/applications/<int:application_id>/decide", methods=["POST"])
@roles_required(PROGRAM_OFFICER)
def decide(application_id: int):
    application = load_application_for(current_user, application_id, "decide")
    if not application.is_decidable:  # a stale tab: say so rather than show no form
        flash(f"{application.reference} is already {application.status_label.lower()}.", "info")
        return redirect(url_for("reviews.summary", application_id=application.id))
    form = DecisionForm()
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            services.decide(actor=current_user, application_id=application.id, outcome=form.outcome.data,
                            approved_cents=form.approved_amount.data, rationale=form.rationale.data,
                            flags_read=bool(form.flags_read.data))
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Decision recorded for {application.reference}; the applicant has been notified.", "success")
            return form.finished(redirect(url_for("reviews.summary", application_id=application.id)))
    assignments = db.session.scalars(
        sa.select(ReviewAssignment).where(ReviewAssignment.application_id == application.id)
        .options(joinedload(ReviewAssignment.reviewer), selectinload(ReviewAssignment.scores)).order_by(ReviewAssignment.id)
    ).all()
    counted = [a for a in assignments if a.is_submitted]
    return render_template(
        "reviews/summary.html", application=application, assignments=assignments, counted=counted,
        criteria=list(application.program.criteria),
        scores={(s.assignment_id, s.criterion_id): s for a in counted for s in a.scores},
        decision=services.current_decision(application), decision_form=form, flags=_open_flags(application),
    )


