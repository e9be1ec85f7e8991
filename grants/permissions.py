"""Who may do what: route-level access rules and object-level checks.

Every view carries an ``access_rule`` attribute set by one of the decorators below; a test walks
``app.url_map`` and fails for any endpoint without one. Handlers load their object first (404 when
missing or invisible), then check what the user may do with it (403), then act.
"""

from __future__ import annotations

from functools import wraps

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from grants.accounts.models import ADMIN, FINANCE, PROGRAM_OFFICER, REVIEWER, Membership, User
from grants.extensions import db, login_manager


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


def member_organization_ids(user: User) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(
        db.session.scalars(
            sa.select(Membership.organization_id).where(Membership.user_id == user.id)
        )
    )


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


def can_view_application(user: User, application) -> bool:
    """Members of the applicant organization, program, finance and admin staff, and cleared reviewers.

    Seeing is reading only: admins list a program's applications and may open them, but the
    actions on an application (screening, extensions, decisions) stay with program officers.
    """
    if not user.is_authenticated:
        return False
    if user.has_role(REVIEWER) and declared_conflict(user, application.id):
        return False  # invariant 4: a declared conflict outweighs every other role the person holds
    if user.has_role(PROGRAM_OFFICER, FINANCE, ADMIN):
        return True
    if is_member(user, application.organization_id):
        return True
    return user.has_role(REVIEWER) and reviewer_may_see(user, application.id)


def declared_conflict(user: User, application_id: int) -> bool:
    from grants.reviews.models import COI_CONFLICTED, ReviewAssignment

    return db.session.scalar(
        sa.select(ReviewAssignment.id).where(
            ReviewAssignment.application_id == application_id,
            ReviewAssignment.reviewer_id == user.id,
            ReviewAssignment.coi_status == COI_CONFLICTED,
        ).limit(1)
    ) is not None


def reviewer_may_see(user: User, application_id: int) -> bool:
    """Invariant 4: an assigned reviewer who declared no conflict and is not recused."""
    from grants.reviews.models import COI_NONE, RECUSED, ReviewAssignment

    return db.session.scalar(
        sa.select(ReviewAssignment.id).where(
            ReviewAssignment.application_id == application_id,
            ReviewAssignment.reviewer_id == user.id,
            ReviewAssignment.coi_status == COI_NONE,
            ReviewAssignment.status != RECUSED,
        )
    ) is not None


def can_edit_application(user: User, application) -> bool:
    return application.is_draft and is_member(user, application.organization_id)


TEMPLATE_HELPERS = {
    "is_member": is_member,
    "can_view_application": can_view_application,
    "can_edit_application": can_edit_application,
}
