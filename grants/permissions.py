"""Who may do what: route-level access rules and object-level checks.

Every view carries an ``access_rule`` attribute set by one of the decorators below (the role it
needs); a test walks ``app.url_map`` and fails for any endpoint without one. Who may see or act on
one object is one predicate per kind of object (``can_view_application``, ``can_decide``,
``can_score``, ``can_view_award``, …), combining role, membership, conflict declarations and state.
Handlers get their object from a loader (``load_application_for(id, action)``, …) that asks the
predicates: 404 when missing or invisible, 403 when visible but the action is not the user's; the
service that acts asks the predicate again for the acting user (``require``).
"""

from __future__ import annotations

from functools import wraps

import sqlalchemy as sa
from flask import abort
from flask_login import current_user
from werkzeug.exceptions import NotFound

from grants.accounts.models import ADMIN, FINANCE, PROGRAM_OFFICER, REVIEWER, Membership, User
from grants.extensions import db, login_manager

MAX_ID = 2**31 - 1  # the largest INTEGER key


def _mark(view, rule: str):
    view.access_rule = rule
    return view


def public(view):
    """Anyone, signed in or not."""
    return _mark(view, "public")


def login_required(view):
    """Any signed-in user; object checks inside the view decide the rest."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return _mark(wrapped, "authenticated")


def roles_required(*roles: str, refuse_with: int = 403):
    """A signed-in user holding at least one of ``roles``; others get 403.

    ``refuse_with=404`` for pages about one object whose existence is itself not everyone's to know
    (an application's scores): the refusal then looks the same as a missing object.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(refuse_with)
            return view(*args, **kwargs)

        return _mark(wrapped, "roles:" + ",".join(sorted(roles)))

    return decorator



# The audit trail and the outbox pages: audit and notifications sit below accounts (accounts record
# events and send mail), so they take the admin rule from here rather than the role from accounts.
admin_required = roles_required(ADMIN)

def is_member(user: User, organization_id: int) -> bool:
    if not user.is_authenticated:
        return False
    return (
        db.session.scalar(
            sa.select(Membership.id).where(
                Membership.user_id == user.id, Membership.organization_id == organization_id
            )
        )
        is not None
    )


# A declared conflict ---------------------------------------------------------------------------
#
# A person who declared a conflict of interest on an application is, for that application, nobody:
# whatever roles they hold (program officer, finance, admin, even member of the applicant), every
# predicate below says no, loaders answer 404, services refuse, and lists leave its row out.


def declared_conflict(user: User, application_id: int) -> bool:
    """True when ``user`` declared a conflict of interest on the application (whatever their roles now)."""
    from grants.reviews.models import ReviewAssignment

    if not user.is_authenticated:
        return False
    return db.session.scalar(
        sa.select(ReviewAssignment.id).where(
            ReviewAssignment.application_id == application_id,
            ReviewAssignment.reviewer_id == user.id,
            ReviewAssignment.is_conflicted,
        ).limit(1)
    ) is not None


def conflicted_application_ids(user: User) -> set[int]:
    """Every application ``user`` declared a conflict on, in one query: lists and workbooks leave these out."""
    from grants.reviews.models import ReviewAssignment

    if not user.is_authenticated:
        return set()
    return set(db.session.scalars(
        sa.select(ReviewAssignment.application_id).where(
            ReviewAssignment.reviewer_id == user.id, ReviewAssignment.is_conflicted)
    ))


def reviewer_may_see(user: User, application_id: int) -> bool:
    """Invariant 4: an assigned reviewer who declared no conflict and is not recused."""
    from grants.reviews.models import ReviewAssignment

    return db.session.scalar(
        sa.select(ReviewAssignment.id).where(
            ReviewAssignment.application_id == application_id,
            ReviewAssignment.reviewer_id == user.id,
            ReviewAssignment.declared_no_conflict,
            ~ReviewAssignment.is_recused,
        )
    ) is not None


def _unconflicted(user: User, application_id: int) -> bool:
    return user.is_authenticated and not declared_conflict(user, application_id)


# Applications ----------------------------------------------------------------------------------


def can_view_application(user: User, application) -> bool:
    """Members of the applicant organization, program, finance and admin staff, and cleared reviewers.

    Seeing is reading only: admins list a program's applications and may open them, but the
    actions on an application (screening, extensions, decisions) stay with program officers.
    """
    if not _unconflicted(user, application.id):
        return False  # invariant 4: a declared conflict outweighs every other role the person holds
    if user.has_role(PROGRAM_OFFICER, FINANCE, ADMIN):
        return True
    if is_member(user, application.organization_id):
        return True
    return user.has_role(REVIEWER) and reviewer_may_see(user, application.id)


def can_prepare_application(user: User, application) -> bool:
    """Fill in, submit or withdraw: the applicant organization's members (the services check the state)."""
    return _unconflicted(user, application.id) and is_member(user, application.organization_id)


def can_edit_application(user: User, application) -> bool:
    return application.is_draft and can_prepare_application(user, application)


def can_manage_application(user: User, application) -> bool:
    """Screen it or extend its deadline: program officers."""
    return user.is_authenticated and user.has_role(PROGRAM_OFFICER) and _unconflicted(user, application.id)


def can_view_scores(user: User, application) -> bool:
    """The reviews, scores and comments side by side: program officers and admins."""
    return user.is_authenticated and user.has_role(PROGRAM_OFFICER, ADMIN) and _unconflicted(user, application.id)


def can_decide(user: User, application) -> bool:
    """Approve, decline or waitlist it (one by one or on the funding line): program officers."""
    return user.is_authenticated and user.has_role(PROGRAM_OFFICER) and _unconflicted(user, application.id)


def can_make_award(user: User, application) -> bool:
    """Make the award of an approved application: program officers."""
    return can_decide(user, application)


def can_view_attachment(user: User, attachment) -> bool:
    """Files of an application (attachments, commitment letters) go to those who may see the application;
    payment documentation only to the grantee's members and staff, never to the application's reviewers."""
    application = attachment.application
    if application is None or not can_view_application(user, application):
        return False
    if attachment.disbursement_id is not None:
        return is_member(user, application.organization_id) or user.has_role(PROGRAM_OFFICER, FINANCE, ADMIN)
    return True


# Review assignments ------------------------------------------------------------------------------


def can_review(user: User, assignment) -> bool:
    """Open one's own assignment: declare, then (cleared) score or (recused) read that one is recused."""
    return user.is_authenticated and assignment.reviewer_id == user.id


def can_score(user: User, assignment) -> bool:
    """Score and submit: one's own assignment, no conflict declared, not recused, not yet submitted."""
    return can_review(user, assignment) and assignment.may_see_content and not assignment.is_submitted


def can_manage_assignment(user: User, assignment) -> bool:
    """Assign, remove, replace or reopen a review of an application: program officers without a conflict on it."""
    return user.is_authenticated and user.has_role(PROGRAM_OFFICER) and _unconflicted(user, assignment.application_id)


# Awards, payments and progress reports -------------------------------------------------------------


def can_view_award(user: User, award) -> bool:
    """Award staff (program officers, finance, admins) and the grantee organization's members."""
    if not _unconflicted(user, award.application_id):
        return False
    return user.has_role(PROGRAM_OFFICER, FINANCE, ADMIN) or is_member(user, award.application.organization_id)


def can_manage_award(user: User, award) -> bool:
    """Activate, amend, terminate, close out: program officers."""
    return user.is_authenticated and user.has_role(PROGRAM_OFFICER) and _unconflicted(user, award.application_id)


def can_pay_award(user: User, award) -> bool:
    """Record a payment on it: finance."""
    return user.is_authenticated and user.has_role(FINANCE) and _unconflicted(user, award.application_id)


def can_request_payment(user: User, award) -> bool:
    """Ask for a payment: the grantee organization's members."""
    return _unconflicted(user, award.application_id) and is_member(user, award.application.organization_id)


def can_act_on_disbursement(user: User, disbursement) -> bool:
    """Approve, reject, mark paid or void a payment: finance."""
    return can_pay_award(user, disbursement.award)


def can_view_report(user: User, report) -> bool:
    """A progress report: the grantee's members and program officers."""
    award = report.award
    if not _unconflicted(user, award.application_id):
        return False
    return user.has_role(PROGRAM_OFFICER) or is_member(user, award.application.organization_id)


def can_submit_report(user: User, report) -> bool:
    return can_request_payment(user, report.award)


def can_review_report(user: User, report) -> bool:
    """Accept a report or ask for a revision: program officers."""
    return can_manage_award(user, report.award)


# Programs ------------------------------------------------------------------------------------------


def can_view_program(user: User, program) -> bool:
    """A program's staff pages (applications, reviews, ranking, dashboards): program officers and admins."""
    return user.is_authenticated and user.has_role(PROGRAM_OFFICER, ADMIN)


def can_manage_program(user: User, program) -> bool:
    """Settings, rubric, status, reviewer assignment and the funding line's approval: program officers."""
    return user.is_authenticated and user.has_role(PROGRAM_OFFICER)


# Loaders -------------------------------------------------------------------------------------------
#
# A route gets its object from one of these: 404 when it does not exist or the user may not see it
# (so its existence stays hidden), 403 when they may see it but the action is not theirs (or 404
# where the action's own page is not theirs to know of, as an application's scores). Services ask
# the same predicate again for the acting user and raise NotPermitted.


class NotPermitted(NotFound):
    """A service refusing an actor its predicate says no to; shown as "not found" (404).

    Deliberately not a DomainError: a route that puts a DomainError beside a form field and shows
    the page again must not show the page of an object the actor may not see.
    """


def require(allowed: bool) -> None:
    """For services: raise NotPermitted unless the predicate said yes."""
    if not allowed:
        raise NotPermitted()


def _load(user: User, model, object_id: int, view, action_check=None, refuse_with: int = 403):
    if not 0 < object_id <= MAX_ID:
        abort(404)  # a larger id would make the database raise, and none exists
    obj = db.session.get(model, object_id)
    if obj is None or not view(user, obj):
        abort(404)
    if action_check is not None and not action_check(user, obj):
        abort(refuse_with)
    return obj


APPLICATION_ACTIONS = {
    # action: (predicate, status when the user may see the application but not do this)
    "view": (None, 404),
    "prepare": (can_prepare_application, 403),
    "manage": (can_manage_application, 403),
    "scores": (can_view_scores, 404),
    "decide": (can_decide, 404),
    "award": (can_make_award, 404),
}


def load_application_for(user: User, application_id: int, action: str = "view"):
    """The application for ``user`` to ``action`` (see APPLICATION_ACTIONS), or abort."""
    from grants.applications.models import Application

    check, refuse_with = APPLICATION_ACTIONS[action]
    return _load(user, Application, application_id, can_view_application, check, refuse_with)


def load_attachment_for(user: User, attachment_id: int):
    from grants.applications.models import Attachment

    return _load(user, Attachment, attachment_id, can_view_attachment)


ASSIGNMENT_ACTIONS = {"review": can_review, "manage": can_manage_assignment}


def load_assignment_for(user: User, assignment_id: int, action: str):
    """A review assignment: the reviewer's own ("review") or one an officer manages ("manage"); else 404."""
    from grants.reviews.models import ReviewAssignment

    return _load(user, ReviewAssignment, assignment_id, ASSIGNMENT_ACTIONS[action])


AWARD_ACTIONS = {
    "view": None, "manage": can_manage_award, "pay": can_pay_award, "request_payment": can_request_payment,
}


def load_award_for(user: User, award_id: int, action: str = "view"):
    from grants.awards.models import Award

    return _load(user, Award, award_id, can_view_award, AWARD_ACTIONS[action])


def load_disbursement_for(user: User, disbursement_id: int):
    from grants.awards.models import Disbursement

    return _load(user, Disbursement, disbursement_id, can_act_on_disbursement)


REPORT_ACTIONS = {"view": None, "submit": can_submit_report, "review": can_review_report}


def load_report_for(user: User, report_id: int, action: str = "view"):
    from grants.awards.models import ProgressReport

    return _load(user, ProgressReport, report_id, can_view_report, REPORT_ACTIONS[action])


def load_program_for(user: User, program_id: int, action: str = "view"):
    from grants.programs.models import Program

    return _load(user, Program, program_id, can_view_program, can_manage_program if action == "manage" else None)


TEMPLATE_HELPERS = {
    "is_member": is_member,
    "can_view_application": can_view_application,
    "can_edit_application": can_edit_application,
}
