from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.applications.models import Application
from grants.awards.lifecycle import (  # noqa: F401 - re-exported for code that imports them from here
    NON_VOID,
    OPEN_AWARD,
    OUTSTANDING_REPORT,
    PENDING_PAYMENT,
    AwardStatus,
    DisbursementStatus,
    ReportStatus,
)
from grants.db import UTCDateTime, status_check, status_in, status_label, utcnow
from grants.extensions import Model
from grants.programs.models import Program

# The enum members under their old names, for code that imports them from here.
PENDING_AGREEMENT, ACTIVE, CLOSED, TERMINATED = AwardStatus
AWARD_STATUSES: dict[str, str] = {status: status.label for status in AwardStatus}

REQUESTED, APPROVED, PAID, VOID = DisbursementStatus
DISBURSEMENT_STATUSES = {status: status.label for status in DisbursementStatus}

DUE, SUBMITTED, ACCEPTED, REVISION_REQUESTED = ReportStatus
REPORT_STATUSES = {status: status.label for status in ReportStatus}

REPORT_METRICS = {
    "people_served": "People served",
    "calls_answered": "Calls answered",
    "referrals": "Referrals to partner organizations",
    "awareness_events": "Public-awareness events",
    "partner_meetings": "Partner meetings",
}


class Award(Model):
    __tablename__ = "award"
    __table_args__ = (status_check(AwardStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    award_number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("application.id"), unique=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("program.id"), index=True)
    # The current amount (original plus amendments), in cents.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    original_cents: Mapped[int] = mapped_column(sa.BigInteger)
    start_date: Mapped[date]
    end_date: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(20), default=AwardStatus.PENDING_AGREEMENT, index=True)
    agreement_signed_on: Mapped[date | None]
    conditions: Mapped[str] = mapped_column(sa.Text, default="")
    termination_reason: Mapped[str | None] = mapped_column(sa.Text)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    application: Mapped[Application] = relationship()
    program: Mapped[Program] = relationship()
    amendments: Mapped[list[Amendment]] = relationship(back_populates="award", order_by="Amendment.number")
    disbursements: Mapped[list[Disbursement]] = relationship(back_populates="award", order_by="Disbursement.id")
    reports: Mapped[list[ProgressReport]] = relationship(back_populates="award", order_by="ProgressReport.sequence")

    def __repr__(self) -> str:
        return f"<Award {self.award_number}>"

    status_label = status_label(AwardStatus)

    # Pending agreement or active: the award can still be amended, paid on, reported on or terminated.
    is_open = status_in(*OPEN_AWARD)

    is_pending_agreement = status_in(AwardStatus.PENDING_AGREEMENT)

    # Agreement signed and not ended: payments can be requested and made.
    is_active = status_in(AwardStatus.ACTIVE)

    is_terminated = status_in(AwardStatus.TERMINATED)


class Amendment(Model):
    __tablename__ = "amendment"
    __table_args__ = (sa.UniqueConstraint("award_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(sa.ForeignKey("award.id"), index=True)
    number: Mapped[int]
    amount_delta_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    new_end_date: Mapped[date | None]
    reason: Mapped[str] = mapped_column(sa.Text)
    is_closeout: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    award: Mapped[Award] = relationship(back_populates="amendments")
    created_by: Mapped[User | None] = relationship()


class Disbursement(Model):
    """A payment on an award: requested → approved → paid, or void."""

    __tablename__ = "disbursement"
    __table_args__ = (sa.Index("ix_disbursement_award_status", "award_id", "status"),
                      status_check(DisbursementStatus))

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(sa.ForeignKey("award.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default=DisbursementStatus.REQUESTED, index=True)
    requested_on: Mapped[date]
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    description: Mapped[str] = mapped_column(sa.Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    from_grantee_request: Mapped[bool] = mapped_column(default=False)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    finance_comment: Mapped[str] = mapped_column(sa.Text, default="")
    paid_on: Mapped[date | None] = mapped_column(index=True)
    payment_reference: Mapped[str | None] = mapped_column(sa.String(60))
    void_reason: Mapped[str | None] = mapped_column(sa.Text)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    award: Mapped[Award] = relationship(back_populates="disbursements")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])

    status_label = status_label(DisbursementStatus)

    # Not void: requested, approved or paid money uses up the award's amount.
    counts_against_award = status_in(*NON_VOID)

    # Requested or approved, not yet paid.
    is_pending = status_in(*PENDING_PAYMENT)

    is_paid = status_in(DisbursementStatus.PAID)

    # Waiting for finance to approve or reject it.
    is_requested = status_in(DisbursementStatus.REQUESTED)

    # Approved by finance, not yet paid.
    is_approved = status_in(DisbursementStatus.APPROVED)


class ProgressReport(Model):
    __tablename__ = "progress_report"
    __table_args__ = (sa.UniqueConstraint("award_id", "sequence"), sa.Index("ix_progress_report_status_due", "status", "due_on"),
                      status_check(ReportStatus))

    id: Mapped[int] = mapped_column(primary_key=True)
    award_id: Mapped[int] = mapped_column(sa.ForeignKey("award.id"), index=True)
    sequence: Mapped[int]
    period_start: Mapped[date]
    period_end: Mapped[date]
    due_on: Mapped[date]
    is_final: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(20), default=ReportStatus.DUE)
    people_served: Mapped[int | None]
    calls_answered: Mapped[int | None]
    referrals: Mapped[int | None]
    awareness_events: Mapped[int | None]
    partner_meetings: Mapped[int | None]
    narrative: Mapped[str] = mapped_column(sa.Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")

    award: Mapped[Award] = relationship(back_populates="reports")

    status_label = status_label(ReportStatus)

    # Due or returned for revision: the grantee still has to submit it.
    is_outstanding = status_in(*OUTSTANDING_REPORT)

    # Submitted, waiting for the program officer to accept it or ask for a revision.
    is_awaiting_review = status_in(ReportStatus.SUBMITTED)

    is_accepted = status_in(ReportStatus.ACCEPTED)

    is_revision_requested = status_in(ReportStatus.REVISION_REQUESTED)

    @property
    def title(self) -> str:
        return "Final report" if self.is_final else f"Quarterly report {self.sequence}"
