from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import UTCDateTime, status_check, status_in, status_label, utcnow
from grants.extensions import Model
from grants.programs.lifecycle import PUBLIC, ProgramStatus

PARTNER_TYPES = {
    "library": "Public library",
    "transit": "Transit system",
    "faith_based": "Faith-based organization",
    "business_improvement_district": "Business improvement district",
    "other_community_anchor": "Other community anchor",
}



class Program(Model):
    """One funding round."""

    __tablename__ = "program"
    # The database refuses a status the lifecycle does not know (ck_program_status).
    __table_args__ = (status_check(ProgramStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    fiscal_year: Mapped[int] = mapped_column(index=True)
    funding_source_code: Mapped[str] = mapped_column(sa.String(40))
    total_budget_cents: Mapped[int] = mapped_column(sa.BigInteger)
    award_floor_cents: Mapped[int] = mapped_column(sa.BigInteger)
    award_ceiling_cents: Mapped[int] = mapped_column(sa.BigInteger)
    match_percent: Mapped[int] = mapped_column(default=0)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Comma-separated keys of PARTNER_TYPES; see ``eligible_partner_types``.
    eligible_partner_types_csv: Mapped[str] = mapped_column(sa.String(200))
    reviewers_per_application: Mapped[int] = mapped_column(default=3)
    score_spread_threshold: Mapped[int] = mapped_column(default=25)
    review_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    share_reviewer_comments: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default=ProgramStatus.DRAFT.value, index=True)
    # Set when the first review is submitted; the rubric cannot change after that.
    rubric_frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Next sequence number for application references; taken under a row lock.
    last_application_number: Mapped[int] = mapped_column(default=0)
    last_award_number: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="program", cascade="all, delete-orphan", order_by="Criterion.position"
    )

    def __repr__(self) -> str:
        return f"<Program {self.slug}>"

    @property
    def eligible_partner_types(self) -> list[str]:
        return [key for key in self.eligible_partner_types_csv.split(",") if key]

    @eligible_partner_types.setter
    def eligible_partner_types(self, keys) -> None:
        self.eligible_partner_types_csv = ",".join(key for key in PARTNER_TYPES if key in set(keys))

    @property
    def eligible_partner_labels(self) -> list[str]:
        return [PARTNER_TYPES[key] for key in self.eligible_partner_types]

    status_label = status_label(ProgramStatus)

    # Only staff can see it; its settings and rubric are still being written.
    is_draft = status_in(ProgramStatus.DRAFT)

    # Public, and accepting applications inside its window.
    is_published = status_in(ProgramStatus.PUBLISHED)

    is_closed = status_in(ProgramStatus.CLOSED)

    is_archived = status_in(ProgramStatus.ARCHIVED)

    # Its public page is up: published or closed.
    is_public = status_in(*PUBLIC)

    @property
    def needs_a_criterion(self) -> bool:
        """Past draft, so its rubric may not become empty."""
        return not self.is_draft

    def accepts_submissions_in_status(self, extended: bool = False) -> bool:
        """Its status lets an application be submitted: published, or closed for an application
        the program officer extended (closing ends the round, not an extension)."""
        return self.is_published or (self.is_closed and extended)

    def is_open(self, now: datetime) -> bool:
        """Accepting submissions: published and inside its window, judged by server time."""
        return self.is_published and self.opens_at <= now < self.closes_at

    def is_upcoming(self, now: datetime) -> bool:
        """Published, but its window has not opened yet."""
        return self.is_published and now < self.opens_at


class Criterion(Model):
    """One line of a program's rubric."""

    __tablename__ = "criterion"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("program.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    guidance: Mapped[str] = mapped_column(sa.Text, default="")
    max_points: Mapped[int]
    weight: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)

    program: Mapped[Program] = relationship(back_populates="criteria")
