from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import Organization, User
from grants.applications.lifecycle import DECIDABLE, DECIDED, REVIEWED, WITHDRAWABLE, ApplicationStatus
from grants.db import UTCDateTime, status_check, status_in, status_label, utcnow
from grants.extensions import Model
from grants.programs.models import PARTNER_TYPES, Program

BUDGET_CATEGORIES = {
    "personnel": "Personnel",
    "training": "Training",
    "outreach": "Outreach and public awareness",
    "equipment": "Equipment",
    "partner_subawards": "Partner subawards",
    "other": "Other",
}
# The most lines one budget may have: enough for any project, few enough to read on one page.
MAX_BUDGET_LINES = 60

ATTACHMENT_KINDS = {
    "commitment_letter": "Partner commitment letter",
    "budget_justification": "Budget justification",
    "letter_of_support": "Letter of support",
    "organizational_chart": "Organizational chart",
    "other": "Other supporting document",
    "payment_documentation": "Payment request documentation",
}


class Application(Model):
    __tablename__ = "application"
    __table_args__ = (
        sa.Index("ix_application_program_status", "program_id", "status"),
        # The database refuses a status the lifecycle does not know (ck_application_status).
        status_check(ApplicationStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(40), unique=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("program.id"), index=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organization.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default=ApplicationStatus.DRAFT.value, index=True)

    title: Mapped[str] = mapped_column(sa.String(200), default="")
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    need: Mapped[str] = mapped_column(sa.Text, default="")
    approach: Mapped[str] = mapped_column(sa.Text, default="")
    counties_served: Mapped[str] = mapped_column(sa.String(500), default="")
    awareness_component: Mapped[bool | None] = mapped_column()
    awareness_plan: Mapped[str] = mapped_column(sa.Text, default="")
    expected_outcomes: Mapped[str] = mapped_column(sa.Text, default="")
    # Always the sum of the budget lines (kept by the service layer).
    requested_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    match_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The amount approved by the decision in force (reviews.Decision keeps the history).
    approved_cents: Mapped[int | None] = mapped_column(sa.BigInteger)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    extension_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extension_reason: Mapped[str | None] = mapped_column(sa.Text)
    screened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ineligible_reason: Mapped[str | None] = mapped_column(sa.Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)

    program: Mapped[Program] = relationship()
    organization: Mapped[Organization] = relationship()
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    partners: Mapped[list[Partner]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Partner.id"
    )
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="BudgetLine.position"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Attachment.id"
    )

    def __repr__(self) -> str:
        return f"<Application {self.reference}>"

    status_label = status_label(ApplicationStatus)

    # Still being written: the applicant may change it; nobody else sees it yet.
    is_draft = status_in(ApplicationStatus.DRAFT)

    # Submitted and waiting for eligibility screening.
    is_submitted = status_in(ApplicationStatus.SUBMITTED)

    @property
    def can_be_screened(self) -> bool:
        return self.is_submitted

    is_under_review = status_in(ApplicationStatus.UNDER_REVIEW)

    is_ineligible = status_in(ApplicationStatus.INELIGIBLE)

    is_withdrawn = status_in(ApplicationStatus.WITHDRAWN)

    # Approved and not yet awarded: the officer may make the award.
    is_approved = status_in(ApplicationStatus.APPROVED)

    @property
    def is_awardable(self) -> bool:
        return self.is_approved

    # Under review or on the waiting list: a decision may be recorded.
    is_decidable = status_in(*DECIDABLE)

    # A decision is in force (approved, declined or waitlisted) or the award was made.
    is_decided = status_in(*DECIDED)

    # Screened eligible: under review or past it, so it is ranked and has reviews to show.
    was_eligible = status_in(*REVIEWED)

    @property
    def can_be_withdrawn(self) -> bool:
        """The applicant may withdraw it: submitted or under review, until a decision."""
        return self.status in WITHDRAWABLE

    @property
    def partner_types(self) -> list[str]:
        return sorted({partner.partner_type for partner in self.partners})

    def deadline(self) -> datetime:
        """When this application stops being accepted: the close, or its extension if later."""
        if self.extension_until is not None and self.extension_until > self.program.closes_at:
            return self.extension_until
        return self.program.closes_at


class Partner(Model):
    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("application.id", ondelete="CASCADE"), index=True)
    partner_type: Mapped[str] = mapped_column(sa.String(40), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    contact_name: Mapped[str] = mapped_column(sa.String(120))
    contact_email: Mapped[str] = mapped_column(sa.String(254))
    role: Mapped[str] = mapped_column(sa.Text)

    application: Mapped[Application] = relationship(back_populates="partners")
    commitment_letter: Mapped[Attachment | None] = relationship(
        primaryjoin="Attachment.partner_id == Partner.id", uselist=False, viewonly=True
    )

    @property
    def type_label(self) -> str:
        return PARTNER_TYPES.get(self.partner_type, self.partner_type)


class BudgetLine(Model):
    __tablename__ = "budget_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("application.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(sa.String(32))
    description: Mapped[str] = mapped_column(sa.String(300))
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    position: Mapped[int] = mapped_column(default=0)

    application: Mapped[Application] = relationship(back_populates="budget_lines")

    @property
    def category_label(self) -> str:
        return BUDGET_CATEGORIES.get(self.category, self.category)


class Attachment(Model):
    """An uploaded file: stored under a random name, served only to those who may see it."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    partner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("partner.id", ondelete="CASCADE"), index=True)
    # Supporting documentation of a payment request (the file also belongs to the application).
    disbursement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("disbursement.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    original_name: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    size: Mapped[int]
    content_type: Mapped[str] = mapped_column(sa.String(100))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    application: Mapped[Application | None] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User | None] = relationship()

    @property
    def kind_label(self) -> str:
        return ATTACHMENT_KINDS.get(self.kind, self.kind)
