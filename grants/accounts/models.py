from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import UTCDateTime, utcnow
from grants.extensions import Model

APPLICANT = "applicant"
REVIEWER = "reviewer"
PROGRAM_OFFICER = "program_officer"
FINANCE = "finance"
ADMIN = "admin"
STAFF_ROLES = (REVIEWER, PROGRAM_OFFICER, FINANCE, ADMIN)
ALL_ROLES = (APPLICANT, *STAFF_ROLES)
ROLE_LABELS = {
    APPLICANT: "Applicant",
    REVIEWER: "Reviewer",
    PROGRAM_OFFICER: "Program officer",
    FINANCE: "Finance",
    ADMIN: "Administrator",
}

ORGANIZATION_TYPES = {
    "city": "City or town",
    "county": "County",
    "nonprofit": "Nonprofit organization",
    "ems": "Emergency medical services agency",
    "behavioral_health": "Behavioral-health provider",
    "tribal": "Tribal government",
    "other_public": "Other public agency",
}


def new_session_token() -> str:
    return secrets.token_hex(16)


class User(UserMixin, Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Failed sign-ins since the last success, from anywhere (shown in the audit trail; it never
    # locks the account: SignInThrottle slows the guessing client alone).
    failed_logins: Mapped[int] = mapped_column(default=0)
    # Part of the login cookie's identity; replacing it ends every session of the user.
    session_token: Mapped[str] = mapped_column(sa.String(32), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(row.role for row in self.role_rows)

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        return self.has_role(*STAFF_ROLES)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login
        return f"{self.id}:{self.session_token}"


class SignInThrottle(Model):
    """Failed sign-ins for one e-mail address from one client network.

    Guessing is paused for that client alone, so a stranger who knows an address cannot lock its
    owner out (OWASP ASVS 2.2.1, NIST SP 800-63B 5.2.2). Keyed by the address as typed, known or
    not, so the answer never tells whether an account exists; kept in the database so every
    server process sees the same count.
    """

    __tablename__ = "sign_in_throttle"
    __table_args__ = (sa.UniqueConstraint("email", "client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))  # normalized, as User.email
    client: Mapped[str] = mapped_column(sa.String(64))  # the client's address (an IPv6 /64)
    failures: Mapped[int] = mapped_column(default=0)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class UserRole(Model):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(32), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class Organization(Model):
    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(sa.String(200), index=True)
    ein: Mapped[str] = mapped_column(sa.String(10), unique=True)
    uei: Mapped[str | None] = mapped_column(sa.String(12))
    org_type: Mapped[str] = mapped_column(sa.String(32))
    county: Mapped[str] = mapped_column(sa.String(80), index=True)
    address_line1: Mapped[str] = mapped_column(sa.String(200))
    address_line2: Mapped[str | None] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    state: Mapped[str] = mapped_column(sa.String(2))
    postal_code: Mapped[str] = mapped_column(sa.String(10))
    contact_name: Mapped[str] = mapped_column(sa.String(120))
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organization", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.legal_name}>"

    @property
    def org_type_label(self) -> str:
        return ORGANIZATION_TYPES.get(self.org_type, self.org_type)


class Membership(Model):
    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(back_populates="memberships")
