from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from grants.accounts import bp, services
from grants.accounts.forms import (
    ChangePasswordForm,
    EditUserForm,
    ForgotPasswordForm,
    InviteForm,
    LoginForm,
    NewOrganizationForm,
    OrganizationForm,
    RegisterForm,
    ResetPasswordForm,
    StaffUserForm,
)
from grants.accounts.models import ADMIN, FINANCE, PROGRAM_OFFICER, Membership, Organization, User, UserRole
from grants.db import paginate, query_text
from grants.errors import DomainError
from grants.extensions import client_address, db, limiter, login_manager
from grants.formtools import apply_domain_error
from grants.permissions import is_member, login_required, public, roles_required


@login_manager.user_loader
def load_user(user_id: str):
    # The cookie holds "id:session_token"; a replaced token (password change, deactivation)
    # or an inactive account signs the browser out on its next request.
    ident, _, token = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def safe_next(target: str | None) -> str:
    """Follow ``next`` only to a path on this site."""
    # Control characters are refused outright: urlsplit drops tabs and newlines before looking (as
    # browsers do), and a newline left in the target would make the Location header raise (a 500).
    if target and target.isprintable():
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("dashboard.home")


def _limit(setting: str):
    """A per-client limit on the POSTs of a page strangers can hammer, read from ``setting``."""
    return limiter.limit(lambda: current_app.config[setting], methods=["POST"])


def _start_session(user: User) -> None:
    session.clear()  # a fresh session at sign-in: nothing from before carries over
    login_user(user)


@bp.route("/register", methods=["GET", "POST"])
@public
@_limit("RATELIMIT_REGISTER")
def register():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            services.register_applicant(email=form.email.data, name=form.name.data, password=form.password.data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            # The same answer whether the address was new or already had an account (whose owner
            # is e-mailed instead), so this page cannot be used to find out who has an account.
            flash(
                f"We have sent a message to {services.normalize_email(form.email.data)}. If you have just "
                "created your account, sign in below with your e-mail address and password; then register "
                "your organization or accept an invitation to join one.",
                "success",
            )
            return redirect(url_for("accounts.login", next=url_for("accounts.organizations")))
    return render_template("accounts/register.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@public
@_limit("RATELIMIT_SIGN_IN")
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(email=form.email.data, password=form.password.data, client=client_address())
        except services.SignInPaused as paused:
            flash(paused.message, "error")
            # 429 once the pause is recorded; the attempt that starts it must commit (a 200).
            return render_template("accounts/login.html", form=form), (429 if paused.already else 200)
        except services.LoginRefused as refused:
            flash(refused.message, "error")
        else:
            _start_session(user)
            return redirect(safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        services.end_sessions(user=current_user)  # a copied cookie must not outlive the sign-out
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@_limit("RATELIMIT_PASSWORD_RESET")
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(email=form.email.data)
        flash("If that address belongs to an account, we have sent it a link to reset the password. The link works once, for one hour.", "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
@_limit("RATELIMIT_PASSWORD_RESET")
def reset_password(token: str):
    user = services.user_for_reset_token(token)
    if user is None:
        return render_template("accounts/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_password(user=user, password=form.password.data, action="user.password_reset")
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            logout_user()
            session.clear()
            flash("Your password has been changed. Sign in with the new password.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(user=current_user, current_password=form.current_password.data, new_password=form.password.data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            _start_session(current_user)  # keep this browser signed in; others are signed out
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("dashboard.home"))
    return render_template("accounts/change_password.html", form=form)


# Organizations ------------------------------------------------------------------------------


def _organization_or_404(organization_id: int) -> Organization:
    organization = db.get_or_404(Organization, organization_id)
    # Reviewers are staff too, but an organization's details are not theirs to browse.
    if not (is_member(current_user, organization.id) or current_user.has_role(PROGRAM_OFFICER, FINANCE, ADMIN)):
        abort(404)
    return organization


@bp.route("/organizations")
@login_required
def organizations():
    memberships = db.session.scalars(
        sa.select(Membership)
        .where(Membership.user_id == current_user.id)
        .join(Membership.organization)
        .options(sa.orm.contains_eager(Membership.organization))
        .order_by(Organization.legal_name)
    ).all()
    return render_template("accounts/organizations.html", organizations=[m.organization for m in memberships])


@bp.route("/organizations/new", methods=["GET", "POST"])
@login_required
def new_organization():
    form = NewOrganizationForm()
    if request.method == "GET":
        form.contact_name.data = current_user.name
        form.contact_email.data = current_user.email
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            organization = services.create_organization(actor=current_user, fields=form.organization_fields())
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"{organization.legal_name} is registered and you are a member.", "success")
            return form.finished(redirect(url_for("accounts.organization", organization_id=organization.id)))
    return render_template("accounts/organization_form.html", form=form, organization=None)


@bp.route("/organizations/<int:organization_id>")
@login_required
def organization(organization_id: int):
    organization = _organization_or_404(organization_id)
    members = db.session.scalars(
        sa.select(User).join(Membership).where(Membership.organization_id == organization.id).order_by(User.name)
    ).all()
    can_edit = is_member(current_user, organization.id)
    return render_template(
        "accounts/organization.html", organization=organization, members=members,
        can_edit=can_edit, invite_form=InviteForm() if can_edit else None,
    )


@bp.route("/organizations/<int:organization_id>/edit", methods=["GET", "POST"])
@login_required
def edit_organization(organization_id: int):
    organization = _organization_or_404(organization_id)
    if not is_member(current_user, organization.id):
        abort(403)
    form = OrganizationForm(obj=organization)
    if form.validate_on_submit():
        try:
            services.update_organization(actor=current_user, organization=organization, fields=form.organization_fields())
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash("Organization details saved.", "success")
            return redirect(url_for("accounts.organization", organization_id=organization.id))
    return render_template("accounts/organization_form.html", form=form, organization=organization)


@bp.route("/organizations/<int:organization_id>/invite", methods=["POST"])
@login_required
def invite_member(organization_id: int):
    organization = _organization_or_404(organization_id)
    if not is_member(current_user, organization.id):
        abort(403)
    form = InviteForm()
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            services.invite_member(actor=current_user, organization=organization, email=form.email.data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Invitation sent to {form.email.data}.", "success")
            return form.finished(redirect(url_for("accounts.organization", organization_id=organization.id)))
    members = db.session.scalars(
        sa.select(User).join(Membership).where(Membership.organization_id == organization.id).order_by(User.name)
    ).all()
    return render_template("accounts/organization.html", organization=organization, members=members, can_edit=True, invite_form=form)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@login_required
@_limit("RATELIMIT_INVITATION")
def accept_invitation(token: str):
    if request.method == "GET":
        return render_template("accounts/accept_invitation.html", token=token)
    try:
        organization = services.accept_invitation(user=current_user, token=token)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("accounts.organizations"))
    flash(f"You are now a member of {organization.legal_name}.", "success")
    return redirect(url_for("accounts.organization", organization_id=organization.id))


# Staff administration ------------------------------------------------------------------------


@bp.route("/admin/users")
@roles_required(ADMIN)
def admin_users():
    q = query_text("q")
    role = request.args.get("role", "")
    stmt = sa.select(User).order_by(User.name, User.id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(User.name).like(like), User.email.like(like)))
    if role:
        stmt = stmt.where(User.id.in_(sa.select(UserRole.user_id).where(UserRole.role == role)))
    page = paginate(stmt, per_page=25)
    return render_template("accounts/admin_users.html", page=page, q=q, role=role)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles_required(ADMIN)
def admin_new_user():
    form = StaffUserForm()
    if form.validate_on_submit():
        if (first := form.first_result()) is not None:
            return first
        try:
            user = services.create_staff_user(actor=current_user, email=form.email.data, name=form.name.data, roles=set(form.roles.data))
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Account created for {user.email}; they have been e-mailed a link to set their password.", "success")
            return form.finished(redirect(url_for("accounts.admin_users")))
    return render_template("accounts/admin_user_form.html", form=form, user=None)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(ADMIN)
def admin_edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = EditUserForm(obj=user)
    if request.method == "GET":
        form.roles.data = sorted(user.roles)
    if form.validate_on_submit():
        try:
            services.update_staff_user(actor=current_user, user=user, name=form.name.data, roles=set(form.roles.data), active=form.active.data)
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("accounts.admin_users"))
    return render_template("accounts/admin_user_form.html", form=form, user=user)
