from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.applications.models import Application
from grants.db import UTCDateTime, status_check, status_in, utcnow
from grants.extensions import Model
from grants.programs.models import Criterion
from grants.reviews.lifecycle import OPEN, ConflictStatus, DecisionOutcome, ReviewStatus

ASSIGNMENT_STATUSES = {status.value: status.label for status in ReviewStatus}


RECOMMENDATIONS = {
    "fund": "Fund",
    "fund_with_conditions": "Fund with conditions",
    "do_not_fund": "Do not fund",
}

APPROVED, DECLINED, WAITLISTED = DecisionOutcome.APPROVED, DecisionOutcome.DECLINED, DecisionOutcome.WAITLISTED
OUTCOMES: dict[str, str] = {APPROVED: "Approve", DECLINED: "Decline", WAITLISTED: "Waitlist"}
# A recorded decision as staff read it, and as the applicant reads it.
OUTCOME_LABELS: dict[str, str] = {APPROVED: "Approved", DECLINED: "Declined", WAITLISTED: "Waitlisted"}
APPLICANT_OUTCOME_LABELS: dict[str, str] = {APPROVED: "Approved", DECLINED: "Not funded", WAITLISTED: "Waiting list"}


class ReviewerAffiliation(Model):
    """An organization a reviewer works for or with; auto-assignment keeps them off its applications."""

    __tablename__ = "reviewer_affiliation"
    __table_args__ = (sa.UniqueConstraint("user_id", "organization_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    organization_name: Mapped[str] = mapped_column(sa.String(200))


class ReviewAssignment(Model):
    __tablename__ = "review_assignment"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "reviewer_id"),
        sa.Index("ix_review_assignment_reviewer_status", "reviewer_id", "status"),
        status_check(ReviewStatus),
        status_check(ConflictStatus, "coi_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("application.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    coi_status: Mapped[str] = mapped_column(sa.String(16), default=ConflictStatus.PENDING.value)
    coi_reason: Mapped[str | None] = mapped_column(sa.Text)
    coi_declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(16), default=ReviewStatus.ASSIGNED.value, index=True)
    overall_comment: Mapped[str] = mapped_column(sa.Text, default="")
    recommendation: Mapped[str | None] = mapped_column(sa.String(32))
    # The review's total on a 0–100 scale, set at submission (aggregated in SQL for rankings).
    total_score: Mapped[float | None] = mapped_column(sa.Float)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    application: Mapped[Application] = relationship()
    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])
    scores: Mapped[list[Score]] = relationship(back_populates="assignment", cascade="all, delete-orphan")

    @property
    def status_label(self) -> str:
        return ASSIGNMENT_STATUSES[self.status]

    @property
    def may_see_content(self) -> bool:
        """Invariant 4: content only after declaring no conflict, and never once recused."""
        return self.coi_status == ConflictStatus.NONE.value and self.status != ReviewStatus.RECUSED.value

    # Predicates for templates and queries: hybrids, so ``ReviewAssignment.is_submitted`` is SQL too.
    is_not_started = status_in(ReviewStatus.ASSIGNED)
    is_in_progress = status_in(ReviewStatus.IN_PROGRESS)
    is_submitted = status_in(ReviewStatus.SUBMITTED)
    is_recused = status_in(ReviewStatus.RECUSED)
    is_declaration_pending = status_in(ConflictStatus.PENDING, column="coi_status")
    is_conflicted = status_in(ConflictStatus.CONFLICTED, column="coi_status")
    declared_no_conflict = status_in(ConflictStatus.NONE, column="coi_status")

    @hybrid_property
    def is_open(self) -> bool:
        """Still the reviewer's to do: assigned or in progress."""
        return self.status in OPEN

    @is_open.inplace.expression
    @classmethod
    def _is_open_expression(cls):
        return cls.status.in_([s.value for s in OPEN])

    @property
    def is_done(self) -> bool:
        """Nothing left for the reviewer: submitted, or recused after declaring a conflict."""
        return self.status in (ReviewStatus.SUBMITTED, ReviewStatus.RECUSED)

    @property
    def is_editable(self) -> bool:
        """The reviewer may still score it: no conflict declared, and not submitted or recused."""
        return self.may_see_content and self.status in OPEN


class Score(Model):
    __tablename__ = "score"
    __table_args__ = (sa.UniqueConstraint("assignment_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("review_assignment.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[int] = mapped_column(sa.ForeignKey("criterion.id", ondelete="CASCADE"), index=True)
    points: Mapped[int | None]
    comment: Mapped[str] = mapped_column(sa.Text, default="")

    assignment: Mapped[ReviewAssignment] = relationship(back_populates="scores")
    criterion: Mapped[Criterion] = relationship()


class Decision(Model):
    """A program officer's decision on an application; the latest one is in force."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("application.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    approved_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    rationale: Mapped[str] = mapped_column(sa.Text)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    application: Mapped[Application] = relationship()
    decided_by: Mapped[User | None] = relationship()

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[self.outcome]

    @property
    def applicant_outcome_label(self) -> str:
        return APPLICANT_OUTCOME_LABELS[self.outcome]
