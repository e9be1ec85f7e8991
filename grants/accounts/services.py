"""Accounts and organizations: registration, sign-in throttling, password resets, staff, members."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from grants.accounts.models import (
    ALL_ROLES,
    APPLICANT,
    Membership,
    Organization,
    SignInThrottle,
    User,
    UserRole,
    new_session_token,
)
from grants.audit.services import changes_between, record_event
from grants.db import lock_row, utcnow
from grants.errors import DomainError
from grants.extensions import db
from grants.notifications.emails import notify

MIN_PASSWORD_LENGTH = 12
ORGANIZATION_FIELDS = (
    "legal_name", "ein", "uei", "org_type", "county", "address_line1", "address_line2",
    "city", "state", "postal_code", "contact_name", "contact_email", "contact_phone",
)


def normalize_email(email: str) -> str:
    """The address as stored: spaces trimmed, lower case. Refuses nothing."""
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    """The account with this address (normalized), or None. Refuses nothing."""
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def hash_password(password: str) -> str:
    """Hash ``password`` with the configured PASSWORD_HASH_METHOD. Refuses nothing: the rules are checked by callers."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _dummy_password_hash() -> str:
    """A hash made like real ones (PASSWORD_HASH_METHOD), checked when the e-mail is unknown.

    Checking it costs what checking a real password costs, so the time taken does not tell whether
    an address has an account. Made once per app and method, on first use.
    """
    method = current_app.config["PASSWORD_HASH_METHOD"]
    cache = current_app.extensions.setdefault("grants_dummy_password_hash", {})
    if method not in cache:
        cache[method] = generate_password_hash("not-a-real-password", method=method)
    return cache[method]


def _check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"Use at least {MIN_PASSWORD_LENGTH} characters.", field)


EMAIL_TAKEN_MESSAGE = "An account with this e-mail address already exists."


def _new_user(*, email: str, name: str, password: str | None, roles: set[str]) -> User:
    """Insert a user; DomainError on ``email`` when the address is taken, even by a request
    that committed it a moment ago (the unique key, caught in a savepoint, instead of a 500)."""
    email = normalize_email(email)
    if find_user_by_email(email) is not None:
        raise DomainError(EMAIL_TAKEN_MESSAGE, "email")
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise DomainError(f"Unknown role: {', '.join(sorted(unknown))}.", "roles")
    if password is not None:
        _check_password_rules(password)
    user = User(
        email=email,
        name=name.strip(),
        # A staff account made without a password can only be entered through a reset link.
        password_hash=hash_password(password) if password else "!",
        role_rows=[UserRole(role=role) for role in sorted(roles)],
    )
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:
        raise DomainError(EMAIL_TAKEN_MESSAGE, "email") from None
    return user


def register_applicant(*, email: str, name: str, password: str) -> User | None:
    """Create an applicant account and e-mail its owner a welcome with the sign-in link.

    For an address that already has an account nothing is created: its owner is e-mailed that
    someone tried to register with it, and None is returned. Both cases hash the password, so
    neither the page nor the time taken tells a stranger which addresses have accounts.
    Raises DomainError (field ``password``) for a password that breaks the rules.
    """
    _check_password_rules(password)
    email = normalize_email(email)
    owner = find_user_by_email(email)
    if owner is not None:
        hash_password(password)  # the same work as a new account
        notify("registration_attempted", to=owner.email, user=owner)
        record_event(None, "user.registration_attempted", owner)
        return None
    try:
        user = _new_user(email=email, name=name, password=password, roles={APPLICANT})
    except DomainError as error:
        if error.message != EMAIL_TAKEN_MESSAGE:
            raise
        return None  # registered at the same moment by another request (a double submission)
    record_event(user, "user.registered", user, {"email": user.email, "roles": [APPLICANT]})
    notify("account_ready", to=user.email, user=user)
    return user


def create_staff_user(
    *, actor: User | None, email: str, name: str, roles: set[str], password: str | None = None
) -> User:
    """Create a staff account. Without a password, a set-your-password link is e-mailed.

    Refuses with DomainError no roles or an unknown role (field ``roles``), an address already taken
    (``email``) and a password that breaks the rules (``password``). It does not check the actor.
    """
    if not roles:
        raise DomainError("Choose at least one role.", "roles")
    user = _new_user(email=email, name=name, password=password, roles=set(roles))
    record_event(actor, "user.created", user, {"email": user.email, "roles": sorted(roles)})
    if password is None:
        notify("staff_account_created", to=user.email, user=user, token=password_reset_token(user))
    return user


def update_staff_user(*, actor: User, user: User, name: str, roles: set[str], active: bool) -> None:
    """Change a user's name, roles and active flag. Deactivation ends their sessions.

    Refuses with DomainError (field ``roles``) an unknown role, no roles, and an administrator removing
    their own admin role or deactivating themselves. It does not check the actor: the route is admin-only.
    """
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise DomainError(f"Unknown role: {', '.join(sorted(unknown))}.", "roles")
    if not roles:
        raise DomainError("Choose at least one role.", "roles")
    if user.id == actor.id and ("admin" not in roles or not active):
        raise DomainError("You cannot remove your own administrator access.", "roles")
    before = {"name": user.name, "roles": sorted(user.roles), "active": user.active}
    user.name = name.strip()
    current = {row.role: row for row in user.role_rows}
    for role in set(current) - roles:
        user.role_rows.remove(current[role])
    for role in sorted(roles - set(current)):
        user.role_rows.append(UserRole(role=role))
    if user.active and not active:
        user.session_token = new_session_token()
    user.active = active
    after = {"name": user.name, "roles": sorted(roles), "active": user.active}
    changes = changes_between(before, after)
    if changes:
        record_event(actor, "user.updated", user, changes)
    db.session.flush()


class LoginRefused(DomainError):
    pass


class SignInPaused(LoginRefused):
    """Too many failed sign-ins for this address from this client: it must wait.

    ``already`` is False on the attempt that starts the pause (its count must be committed).
    """

    def __init__(self, message: str, *, already: bool):
        super().__init__(message)
        self.already = already


LOGIN_REFUSED_MESSAGE = (
    "That e-mail and password do not match an account we can sign in right now. "
    "Check them and try again."
)


def sign_in_paused_message() -> str:
    """The message shown while sign-ins from this connection are paused. Refuses nothing."""
    config = current_app.config
    return (
        f"There have been {config['LOGIN_MAX_FAILURES']} failed sign-ins with this e-mail address from your "
        f"connection, so signing in with it from here is paused for {config['LOGIN_LOCK_MINUTES']} minutes. "
        "Wait and try again, or reset your password with 'Forgot your password?'."
    )


def authenticate(*, email: str, password: str, client: str) -> User:
    """Check a sign-in attempt from ``client`` (its address).

    Failures are counted per e-mail address and client in the database: after LOGIN_MAX_FAILURES
    that client waits LOGIN_LOCK_MINUTES, while the owner can still sign in from elsewhere.
    Raises LoginRefused with one message for every failure, and SignInPaused while paused, the
    same for known and unknown addresses; every attempt checks one password hash of the
    configured method, so the time taken does not tell either. Both are DomainErrors with no field.
    """
    config = current_app.config
    now = utcnow()
    email = normalize_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == email).with_for_update())
    password_ok = check_password_hash(user.password_hash if user is not None else _dummy_password_hash(), password)
    throttle = _sign_in_throttle(email=email, client=client)
    if throttle is not None and throttle.paused_until is not None and throttle.paused_until > now:
        raise SignInPaused(sign_in_paused_message(), already=True)
    if user is None or not user.active or not password_ok:
        paused = _count_failed_sign_in(throttle, email=email, client=client, now=now)
        if user is not None:
            user.failed_logins += 1
            record_event(user, "user.login_failed", user, {"failed_logins": user.failed_logins, "client": client})
            if paused:
                record_event(None, "user.sign_in_paused", user, {"client": client, "minutes": config["LOGIN_LOCK_MINUTES"]})
        db.session.flush()
        if paused:
            raise SignInPaused(sign_in_paused_message(), already=False)
        raise LoginRefused(LOGIN_REFUSED_MESSAGE)
    if throttle is not None:
        db.session.delete(throttle)
    user.failed_logins = 0
    user.last_login_at = now
    record_event(user, "user.login", user)
    return user


def _sign_in_throttle(*, email: str, client: str) -> SignInThrottle | None:
    stmt = sa.select(SignInThrottle).where(SignInThrottle.email == email, SignInThrottle.client == client)
    return db.session.scalar(stmt.with_for_update().execution_options(populate_existing=True))


def _count_failed_sign_in(throttle: SignInThrottle | None, *, email: str, client: str, now) -> bool:
    """Count one failure for (email, client); True when it pauses that client."""
    config = current_app.config
    # Counts older than a day are forgotten, so the table holds only recent guessing.
    db.session.execute(sa.delete(SignInThrottle).where(
        SignInThrottle.last_failure_at < now - timedelta(days=1),
        sa.or_(SignInThrottle.paused_until.is_(None), SignInThrottle.paused_until < now),
        sa.or_(SignInThrottle.email != email, SignInThrottle.client != client),
    ).execution_options(synchronize_session=False))
    if throttle is None:
        throttle = SignInThrottle(email=email, client=client, failures=0)
        try:
            with db.session.begin_nested():
                db.session.add(throttle)
                db.session.flush()
        except IntegrityError:  # another process counted the first failure a moment ago
            throttle = _sign_in_throttle(email=email, client=client)
            assert throttle is not None  # the row the other process inserted
    if throttle.paused_until is not None and throttle.paused_until <= now:
        throttle.failures = 0  # a pause that ended starts a new count
        throttle.paused_until = None
    throttle.failures += 1
    throttle.last_failure_at = now
    if throttle.failures >= config["LOGIN_MAX_FAILURES"]:
        throttle.paused_until = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
        return True
    return False


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _password_fingerprint(user: User) -> str:
    # Changes whenever the password does, which makes each reset link single-use.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def password_reset_token(user: User) -> str:
    """A signed reset token for ``user``, void once the password changes. Refuses nothing."""
    return _serializer("password-reset").dumps({"u": user.id, "p": _password_fingerprint(user)})


def request_password_reset(*, email: str) -> None:
    """Queue a one-hour, single-use reset link when the address belongs to an active account.

    Refuses nothing: an unknown or inactive address is silently ignored, so the page does not tell
    a stranger which addresses have accounts.
    """
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    notify("password_reset", to=user.email, user=user, token=password_reset_token(user))
    record_event(None, "user.password_reset_requested", user)


def user_for_reset_token(token: str) -> User | None:
    """The user a reset link is for, or None if it is forged, expired or already used. Refuses nothing: None is the refusal."""
    try:
        data = _serializer("password-reset").loads(
            token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"]
        )
    except (BadSignature, SignatureExpired):
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("p") != _password_fingerprint(user):
        return None
    return user


def end_sessions(*, user: User) -> None:
    """Sign the user out everywhere: every login cookie carries the token being replaced. Refuses nothing."""
    user.session_token = new_session_token()
    record_event(user, "user.logout", user)
    db.session.flush()


def set_password(*, user: User, password: str, action: str = "user.password_changed") -> None:
    """Replace the password, unlock the account and end every other session of the user.

    Refuses with DomainError (field ``password``) a password shorter than MIN_PASSWORD_LENGTH.
    """
    _check_password_rules(password)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()
    user.failed_logins = 0
    # A new password ends every pause on this address: the owner proved it is theirs.
    db.session.execute(sa.delete(SignInThrottle).where(SignInThrottle.email == user.email))
    record_event(user, action, user)
    db.session.flush()


def change_password(*, user: User, current_password: str, new_password: str) -> None:
    """Replace the user's password after checking the current one.

    Refuses with DomainError a wrong current password (field ``current_password``) and a new password
    that breaks the rules (field ``password``, from ``set_password``).
    """
    if not check_password_hash(user.password_hash, current_password):
        raise DomainError("Your current password is not right.", "current_password")
    set_password(user=user, password=new_password)


# Organizations -----------------------------------------------------------------------------


def find_organization_by_ein(ein: str) -> Organization | None:
    """The organization registered with this EIN, or None. Refuses nothing."""
    return db.session.scalar(sa.select(Organization).where(Organization.ein == ein))


EIN_TAKEN_MESSAGE = "An organization with this EIN is already registered. Ask one of its members to invite you."


def create_organization(*, actor: User, fields: dict[str, Any]) -> Organization:
    """Register an organization with ``actor`` as its first member.

    Raises DomainError on field ``ein`` when the EIN is already registered, also by a request
    that registered it a moment ago.
    """
    if find_organization_by_ein(fields["ein"]) is not None:
        raise DomainError(EIN_TAKEN_MESSAGE, "ein")
    organization = Organization(**{key: fields.get(key) for key in ORGANIZATION_FIELDS})
    try:
        with db.session.begin_nested():
            db.session.add(organization)
            organization.memberships.append(Membership(user=actor))
            db.session.flush()
    except IntegrityError:  # the unique EIN, taken by a concurrent request
        raise DomainError(EIN_TAKEN_MESSAGE, "ein") from None
    record_event(actor, "organization.created", organization, {k: fields.get(k) for k in ORGANIZATION_FIELDS})
    return organization


def update_organization(*, actor: User, organization: Organization, fields: dict[str, Any]) -> None:
    """Save the organization's profile ``fields`` and audit what changed.

    Refuses with DomainError (field ``ein``) an EIN another organization holds, including one registered
    by a concurrent request (the unique key, caught in a savepoint). It does not check the actor.
    """
    if fields["ein"] != organization.ein:
        other = find_organization_by_ein(fields["ein"])
        if other is not None and other.id != organization.id:
            raise DomainError("Another organization is registered with this EIN.", "ein")
    before = {key: getattr(organization, key) for key in ORGANIZATION_FIELDS}
    after = {key: fields.get(key) for key in ORGANIZATION_FIELDS}
    try:
        with db.session.begin_nested():
            for key in ORGANIZATION_FIELDS:
                setattr(organization, key, after[key])
            db.session.flush()
    except IntegrityError:  # the EIN, registered by a concurrent request
        raise DomainError("Another organization is registered with this EIN.", "ein") from None
    changes = changes_between(before, after)
    if changes:
        record_event(actor, "organization.updated", organization, changes)
    db.session.flush()


INVITATION_MAX_AGE = 7 * 24 * 3600


def invite_member(*, actor: User, organization: Organization, email: str) -> None:
    """E-mail a seven-day invitation to join ``organization``.

    Refuses with DomainError (field ``email``) an address that is already a member. It does not check
    the actor: the route checks membership.
    """
    email = normalize_email(email)
    existing = find_user_by_email(email)
    if existing is not None and any(m.organization_id == organization.id for m in existing.memberships):
        raise DomainError("That person is already a member of this organization.", "email")
    token = _serializer("invitation").dumps({"o": organization.id, "e": email})
    notify("member_invited", to=email, actor=actor, organization=organization, token=token)
    record_event(actor, "organization.member_invited", organization, {"email": email})


def accept_invitation(*, user: User, token: str) -> Organization:
    """Join the organization named in an invitation addressed to ``user``'s e-mail.

    Accepting again (a second click, or two at once) is a success that changes nothing.
    Refuses with DomainError (no field) a forged or expired link, a link sent to another address,
    and an organization that no longer exists.
    """
    try:
        data = _serializer("invitation").loads(token, max_age=INVITATION_MAX_AGE)
    except (BadSignature, SignatureExpired):
        raise DomainError("This invitation link is not valid or has expired. Ask for a new one.") from None
    if data.get("e") != user.email:
        raise DomainError(
            "This invitation was sent to a different e-mail address. "
            "Sign in with the address it was sent to."
        )
    organization = db.session.get(Organization, data.get("o"))
    if organization is None:
        raise DomainError("This organization no longer exists.")
    lock_row(User, user.id)  # two accepts by one user take turns, so the second sees the first
    joined = db.session.scalar(sa.select(Membership.id).where(
        Membership.user_id == user.id, Membership.organization_id == organization.id))
    if joined is not None:
        return organization
    db.session.add(Membership(user=user, organization=organization))
    if APPLICANT not in user.roles:
        user.role_rows.append(UserRole(role=APPLICANT))
    db.session.flush()
    record_event(user, "organization.member_joined", organization, {"user": user.email})
    return organization
