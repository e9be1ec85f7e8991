"""Figures for the dashboards and home pages.

Every figure is an SQL aggregate (GROUP BY, or SUM over CASE), and each function runs a fixed
number of queries however many rows it summarises, so a page's query count does not grow with
the data. Money is integer cents; dates are the agency's calendar days, passed in by the caller.
Money figures are grants.awards.figures, so they agree with the finance summary
and the award ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from grants.accounts.models import Organization, User
from grants.applications.lifecycle import IN_PROGRESS as APPLICATION_IN_PROGRESS
from grants.applications.lifecycle import LABELS as APPLICATION_STATUSES
from grants.applications.lifecycle import REQUESTING
from grants.applications.models import Application, Partner
from grants.awards.figures import AwardFigures, award_figures_by_id, award_money
from grants.awards.lifecycle import DisbursementStatus
from grants.awards.models import (
    Award,
    Disbursement,
    ProgressReport,
)
from grants.db import UTCDateTime
from grants.extensions import db
from grants.programs.models import PARTNER_TYPES, Program
from grants.reviews.lifecycle import ReviewStatus
from grants.reviews.models import ReviewAssignment

# The state's fiscal year starts on July 1 and is named for the calendar year in which it ends.
FISCAL_YEAR_START_MONTH = 7
REPORTS_DUE_SOON_DAYS = 30
REPORTS_DUE_THIS_WEEK_DAYS = 7
AWARD_ENDING_SOON_DAYS = 60
LOW_BALANCE_PERCENT = 10  # an open award with less than this share of its amount left to request
ATTENTION_LIMIT = 50  # rows listed on the finance home; the count above the list covers them all
RECENT_PAYMENTS_LIMIT = 10
OPEN_ASSIGNMENTS_LIMIT = 50



def _in_programs(stmt, column, program_ids: list[int] | None):
    """Limit ``stmt`` to some programs; None means every program."""
    return stmt if program_ids is None else stmt.where(column.in_(program_ids))


def _int(value) -> int:
    return int(value or 0)


# Program dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


def applications_by_status(*, program_ids: list[int] | None) -> list[StatusCount]:
    """Applications per status, every status of the pipeline in order (draft → … → awarded, withdrawn last).
    Refuses nothing: a read-only query.
    """
    stmt = sa.select(Application.status, sa.func.count(Application.id)).group_by(Application.status)
    counts = {status: _int(n) for status, n in db.session.execute(_in_programs(stmt, Application.program_id, program_ids))}
    return [StatusCount(status, label, counts.get(status, 0)) for status, label in APPLICATION_STATUSES.items()]


@dataclass(frozen=True)
class AmountsRow:
    key: str
    label: str
    applications: int  # submitted applications (not drafts, not withdrawn)
    requested_cents: int
    awards: int
    awarded_cents: int  # the awards' current amounts, as on the ledger


def _amounts(key_column, program_ids: list[int] | None, joins) -> dict[str, AmountsRow]:
    requesting = Application.status.in_(sorted(REQUESTING))
    stmt = (
        sa.select(
            key_column,
            sa.func.count(sa.case((requesting, Application.id))),
            sa.func.sum(sa.case((requesting, Application.requested_cents), else_=0)),
            sa.func.count(Award.id),
            sa.func.sum(Award.amount_cents),
        )
        .select_from(Application)
    )
    stmt = joins(stmt).outerjoin(Award, Award.application_id == Application.id)
    stmt = stmt.where(sa.or_(requesting, Award.id.is_not(None))).group_by(key_column)
    return {
        key: AmountsRow(key, key, _int(n), _int(requested), _int(awards), _int(awarded))
        for key, n, requested, awards, awarded in db.session.execute(_in_programs(stmt, Application.program_id, program_ids))
    }


def amounts_by_partner_type(*, program_ids: list[int] | None) -> list[AmountsRow]:
    """Requested and awarded per partner type; an application counts once under each type it partners with.
    Refuses nothing: a read-only query.
    """
    types = sa.select(Partner.application_id, Partner.partner_type).distinct().subquery("types")
    found = _amounts(types.c.partner_type, program_ids,
                     lambda stmt: stmt.join(types, types.c.application_id == Application.id))
    return [
        AmountsRow(key, label, *(
            (found[key].applications, found[key].requested_cents, found[key].awards, found[key].awarded_cents)
            if key in found else (0, 0, 0, 0)))
        for key, label in PARTNER_TYPES.items()
    ]


def amounts_by_county(*, program_ids: list[int] | None) -> list[AmountsRow]:
    """Requested and awarded per county of the applicant organization (the ledger's County column).
    Refuses nothing: a read-only query.
    """
    found = _amounts(Organization.county, program_ids,
                     lambda stmt: stmt.join(Organization, Organization.id == Application.organization_id))
    return [found[county] for county in sorted(found, key=lambda c: (c or "").lower())]


@dataclass(frozen=True)
class ReviewProgress:
    not_started: int  # assigned: conflict declaration or scoring not begun
    in_progress: int
    submitted: int
    recused: int

    @property
    def assigned(self) -> int:
        """Assignments that count: every one except the recused (as on the review assignments page)."""
        return self.not_started + self.in_progress + self.submitted

    @property
    def percent_submitted(self) -> int:
        return round(100 * self.submitted / self.assigned) if self.assigned else 0


def review_progress(*, program_ids: list[int] | None) -> ReviewProgress:
    """Review assignments per status (assigned, in progress, submitted, recused) in the programs.
    Refuses nothing: a read-only query.
    """
    stmt = (
        sa.select(ReviewAssignment.status, sa.func.count(ReviewAssignment.id))
        .join(Application, Application.id == ReviewAssignment.application_id)
        .group_by(ReviewAssignment.status)
    )
    counts = {status: _int(n) for status, n in db.session.execute(_in_programs(stmt, Application.program_id, program_ids))}
    return ReviewProgress(counts.get(ReviewStatus.ASSIGNED, 0), counts.get(ReviewStatus.IN_PROGRESS, 0), counts.get(ReviewStatus.SUBMITTED, 0), counts.get(ReviewStatus.RECUSED, 0))


@dataclass(frozen=True)
class OverdueReviewer:
    reviewer_id: int
    name: str
    email: str
    overdue: int  # assignments not submitted after their program's review deadline
    earliest_deadline: datetime


def overdue_reviewers(*, program_ids: list[int] | None, now: datetime) -> list[OverdueReviewer]:
    """Reviewers with assignments still open after the program's review deadline, most overdue first.
    Refuses nothing: a read-only query.
    """
    overdue = sa.func.count(ReviewAssignment.id)
    stmt = (
        sa.select(User.id, User.name, User.email, overdue, sa.func.min(Program.review_deadline, type_=UTCDateTime()))
        .select_from(ReviewAssignment)
        .join(Application, Application.id == ReviewAssignment.application_id)
        .join(Program, Program.id == Application.program_id)
        .join(User, User.id == ReviewAssignment.reviewer_id)
        .where(ReviewAssignment.is_open, Program.review_deadline.is_not(None),
               Program.review_deadline < now)
        .group_by(User.id, User.name, User.email)
        .order_by(overdue.desc(), User.name, User.id)
    )
    return [OverdueReviewer(rid, name, email, _int(n), earliest)
            for rid, name, email, n, earliest in db.session.execute(_in_programs(stmt, Application.program_id, program_ids))]


@dataclass(frozen=True)
class ReportsDue:
    overdue: int
    due_this_week: int  # today to 7 days ahead
    due_later: int  # 8 to 30 days ahead

    @property
    def due_soon(self) -> int:
        return self.due_this_week + self.due_later


def reports_due(*, program_ids: list[int] | None, today: date) -> ReportsDue:
    """Progress reports of open awards still to be (re)submitted: overdue, and due in the next 30 days.
    Refuses nothing: a read-only query.
    """
    week, month = today + timedelta(days=REPORTS_DUE_THIS_WEEK_DAYS), today + timedelta(days=REPORTS_DUE_SOON_DAYS)
    due = ProgressReport.due_on
    stmt = (
        sa.select(
            sa.func.sum(sa.case((due < today, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(due >= today, due <= week), 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(due > week, due <= month), 1), else_=0)),
        )
        .select_from(ProgressReport)
        .join(Award, Award.id == ProgressReport.award_id)
        .where(ProgressReport.is_outstanding, Award.is_open, due <= month)
    )
    overdue, this_week, later = db.session.execute(_in_programs(stmt, Award.program_id, program_ids)).one()
    return ReportsDue(_int(overdue), _int(this_week), _int(later))


def program_ids_for_fiscal_year(fiscal_year: int | None) -> list[int] | None:
    """The ids of the fiscal year's programs, or None (every program) without a fiscal year.
    Refuses nothing: a read-only query.
    """
    if fiscal_year is None:
        return None
    return list(db.session.scalars(sa.select(Program.id).where(Program.fiscal_year == fiscal_year).order_by(Program.id)))


def fiscal_years() -> list[int]:
    """The fiscal years that have programs, newest first. Refuses nothing: a read-only query."""
    return list(db.session.scalars(sa.select(Program.fiscal_year).distinct().order_by(Program.fiscal_year.desc())))


# Finance home -----------------------------------------------------------------------------------


def fiscal_year_start(day: date) -> date:
    """The first day of the state fiscal year that ``day`` falls in. Refuses nothing."""
    year = day.year if day.month >= FISCAL_YEAR_START_MONTH else day.year - 1
    return date(year, FISCAL_YEAR_START_MONTH, 1)


def fiscal_year_of(day: date) -> int:
    """The fiscal year's name: the calendar year in which it ends. Refuses nothing."""
    start = fiscal_year_start(day)
    return start.year + 1 if FISCAL_YEAR_START_MONTH > 1 else start.year


@dataclass(frozen=True)
class PaymentQueue:
    requested_count: int  # waiting for approval
    requested_cents: int
    approved_count: int  # approved, waiting to be paid
    approved_cents: int


def payment_queue() -> PaymentQueue:
    """Payments awaiting approval and awaiting payment: how many and how much of each. Refuses nothing: a read-only query."""
    rows = db.session.execute(
        sa.select(Disbursement.status, sa.func.count(Disbursement.id), sa.func.sum(Disbursement.amount_cents))
        .where(Disbursement.is_pending)
        .group_by(Disbursement.status)
    )
    found = {status: (_int(n), _int(total)) for status, n, total in rows}
    requested, approved = found.get(DisbursementStatus.REQUESTED, (0, 0)), found.get(DisbursementStatus.APPROVED, (0, 0))
    return PaymentQueue(*requested, *approved)


@dataclass(frozen=True)
class PaymentsMade:
    month_start: date
    fiscal_year: int
    fiscal_year_start: date
    month_count: int
    month_cents: int
    year_count: int
    year_cents: int


def payments_made(*, today: date) -> PaymentsMade:
    """Payments marked paid this calendar month and this fiscal year, up to ``today``. Refuses nothing: a read-only query."""
    month_start, year_start = today.replace(day=1), fiscal_year_start(today)
    in_month = Disbursement.paid_on >= month_start
    month_count, month_cents, year_count, year_cents = db.session.execute(
        sa.select(
            sa.func.sum(sa.case((in_month, 1), else_=0)),
            sa.func.sum(sa.case((in_month, Disbursement.amount_cents), else_=0)),
            sa.func.count(Disbursement.id),
            sa.func.sum(Disbursement.amount_cents),
        ).where(Disbursement.is_paid, Disbursement.paid_on >= year_start, Disbursement.paid_on <= today)
    ).one()
    return PaymentsMade(month_start, fiscal_year_of(today), year_start, _int(month_count), _int(month_cents),
                        _int(year_count), _int(year_cents))


@dataclass(frozen=True)
class AwardAttention:
    award_id: int
    award_number: str
    organization: str
    program: str
    status: str
    amount_cents: int
    paid_cents: int
    pending_cents: int
    remaining_cents: int  # what can still be requested, as on the award page and the ledger
    end_date: date
    low_balance: bool
    ending_soon: bool


def awards_needing_attention(*, today: date, limit: int = ATTENTION_LIMIT,
                             hidden: frozenset[int] = frozenset()) -> tuple[list[AwardAttention], int]:
    """Open awards with less than 10% left to request, or ending within 60 days (or already past their end).

    Returns the first ``limit`` by end date and how many there are in all (one query). Awards of
    ``hidden`` applications (the viewer declared a conflict of interest on them) are left out.
    Refuses nothing: a read-only query; the route decides who sees it.
    """
    money = award_money()
    paid, pending, remaining = money.paid, money.pending, money.remaining()
    low = remaining * 100 < Award.amount_cents * LOW_BALANCE_PERCENT
    ending = Award.end_date <= today + timedelta(days=AWARD_ENDING_SOON_DAYS)
    rows = db.session.execute(
        sa.select(Award.id, Award.award_number, Organization.legal_name, Program.name, Award.status, Award.amount_cents,
                  paid, pending, remaining, Award.end_date, low, ending, sa.func.count().over())
        .join(Program, Program.id == Award.program_id)
        .join(Application, Application.id == Award.application_id)
        .join(Organization, Organization.id == Application.organization_id)
        .outerjoin(money.subquery, money.subquery.c.award_id == Award.id)
        .where(Award.is_open, sa.or_(low, ending),
               Application.id.not_in(sorted(hidden)) if hidden else sa.true())
        .order_by(Award.end_date, Award.award_number)
        .limit(limit)
    ).all()
    total = _int(rows[0][-1]) if rows else 0
    return [AwardAttention(aid, number, org, program, status, _int(amount), _int(p), _int(pe), _int(left), end, bool(is_low), bool(is_ending))
            for aid, number, org, program, status, amount, p, pe, left, end, is_low, is_ending, _n in rows], total


# Reviewer home ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewerProgramLoad:
    program_id: int
    program: str
    review_deadline: datetime | None
    to_do: int
    in_progress: int
    done: int  # submitted, or recused after declaring a conflict (as on "My reviews")

    @property
    def total(self) -> int:
        return self.to_do + self.in_progress + self.done


def reviewer_workload(*, reviewer_id: int) -> list[ReviewerProgramLoad]:
    """One reviewer's assignments per program and status: programs with open work first, soonest deadline first.
    Refuses nothing: a read-only query.
    """
    rows = db.session.execute(
        sa.select(
            Program.id, Program.name, Program.review_deadline,
            sa.func.sum(sa.case((ReviewAssignment.is_not_started, 1), else_=0)),
            sa.func.sum(sa.case((ReviewAssignment.is_in_progress, 1), else_=0)),
            sa.func.sum(sa.case((sa.or_(ReviewAssignment.is_submitted, ReviewAssignment.is_recused), 1), else_=0)),
        )
        .select_from(ReviewAssignment)
        .join(Application, Application.id == ReviewAssignment.application_id)
        .join(Program, Program.id == Application.program_id)
        .where(ReviewAssignment.reviewer_id == reviewer_id)
        .group_by(Program.id, Program.name, Program.review_deadline)
        # Programs with work still to do first, then by deadline.
        .order_by(sa.func.sum(sa.case((ReviewAssignment.is_open, 1), else_=0)) == 0,
                  Program.review_deadline.is_(None), Program.review_deadline, Program.name, Program.id)
    )
    return [ReviewerProgramLoad(pid, name, deadline, _int(a), _int(b), _int(c)) for pid, name, deadline, a, b, c in rows]


def open_assignments(*, reviewer_id: int, limit: int = OPEN_ASSIGNMENTS_LIMIT) -> Sequence[ReviewAssignment]:
    """The reviewer's assignments not yet submitted, soonest deadline first, with application and program loaded.
    Refuses nothing: a read-only query.
    """
    return db.session.scalars(
        sa.select(ReviewAssignment)
        .join(ReviewAssignment.application)
        .join(Application.program)
        .where(ReviewAssignment.reviewer_id == reviewer_id, ReviewAssignment.is_open)
        .options(contains_eager(ReviewAssignment.application).contains_eager(Application.program))
        .order_by(Program.review_deadline.is_(None), Program.review_deadline, Application.reference, ReviewAssignment.id)
        .limit(limit)
    ).all()


# Applicant home ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationSummary:
    organization_id: int
    drafts: int
    in_review: int  # submitted, under review or waitlisted: waiting for the agency
    approved: int  # approved, waiting for the award
    open_awards: int
    payments_pending: int  # requested or approved, not yet paid
    reports_overdue: int
    reports_due_soon: int  # due in the next 30 days


def organization_summaries(*, organization_ids: list[int], today: date) -> dict[int, OrganizationSummary]:
    """Per organization: what is in progress and what is due, in three grouped queries. Refuses nothing: a read-only query."""
    if not organization_ids:
        return {}
    status = Application.status
    applications = {
        org: (_int(d), _int(r), _int(a)) for org, d, r, a in db.session.execute(
            sa.select(
                Application.organization_id,
                sa.func.sum(sa.case((Application.is_draft, 1), else_=0)),
                sa.func.sum(sa.case((status.in_(sorted(APPLICATION_IN_PROGRESS)), 1), else_=0)),
                sa.func.sum(sa.case((Application.is_approved, 1), else_=0)),
            ).where(Application.organization_id.in_(organization_ids)).group_by(Application.organization_id)
        )
    }
    awards = {
        org: (_int(n), _int(p)) for org, n, p in db.session.execute(
            sa.select(
                Application.organization_id,
                sa.func.count(sa.distinct(sa.case((Award.is_open, Award.id)))),
                sa.func.count(sa.case((Disbursement.is_pending, Disbursement.id))),
            )
            .select_from(Award)
            .join(Application, Application.id == Award.application_id)
            .outerjoin(Disbursement, Disbursement.award_id == Award.id)
            .where(Application.organization_id.in_(organization_ids))
            .group_by(Application.organization_id)
        )
    }
    month = today + timedelta(days=REPORTS_DUE_SOON_DAYS)
    reports = {
        org: (_int(o), _int(s)) for org, o, s in db.session.execute(
            sa.select(
                Application.organization_id,
                sa.func.sum(sa.case((ProgressReport.due_on < today, 1), else_=0)),
                sa.func.sum(sa.case((ProgressReport.due_on >= today, 1), else_=0)),
            )
            .select_from(ProgressReport)
            .join(Award, Award.id == ProgressReport.award_id)
            .join(Application, Application.id == Award.application_id)
            .where(Application.organization_id.in_(organization_ids), ProgressReport.is_outstanding,
                   Award.is_open, ProgressReport.due_on <= month)
            .group_by(Application.organization_id)
        )
    }
    return {
        org: OrganizationSummary(org, *applications.get(org, (0, 0, 0)), *awards.get(org, (0, 0)), *reports.get(org, (0, 0)))
        for org in organization_ids
    }


def grantee_awards(organization_ids: list[int]) -> tuple[Sequence[Award], dict[int, AwardFigures], dict[int, ProgressReport]]:
    """The organizations' awards, their money figures and next report due: three queries, whatever the count.
    Refuses nothing: a read-only query.
    """
    if not organization_ids:
        return [], {}, {}
    awards = db.session.scalars(
        sa.select(Award).join(Award.application)
        .where(Application.organization_id.in_(organization_ids))
        .options(contains_eager(Award.application).joinedload(Application.organization), joinedload(Award.program))
        .order_by(Award.created_at.desc(), Award.id.desc())
    ).all()
    award_ids = [award.id for award in awards]
    if not award_ids:
        return [], {}, {}
    payments = award_figures_by_id(award_ids)
    # The earliest report still to be (re)submitted on each award.
    open_reports = sa.and_(ProgressReport.award_id.in_(award_ids), ProgressReport.is_outstanding)
    first = (sa.select(ProgressReport.award_id, sa.func.min(ProgressReport.sequence).label("sequence"))
             .where(open_reports).group_by(ProgressReport.award_id).subquery())
    next_reports = {
        report.award_id: report
        for report in db.session.scalars(
            sa.select(ProgressReport).join(first, sa.and_(first.c.award_id == ProgressReport.award_id, first.c.sequence == ProgressReport.sequence))
            .order_by(ProgressReport.award_id)
        )
    }
    return awards, payments, next_reports


def recent_payments(*, organization_ids: list[int], limit: int = RECENT_PAYMENTS_LIMIT) -> Sequence[Disbursement]:
    """The organizations' latest payments and payment requests, newest first, with their award loaded.
    Refuses nothing: a read-only query.
    """
    if not organization_ids:
        return []
    return db.session.scalars(
        sa.select(Disbursement)
        .join(Disbursement.award)
        .join(Award.application)
        .where(Application.organization_id.in_(organization_ids))
        .options(contains_eager(Disbursement.award).contains_eager(Award.application))
        .order_by(Disbursement.id.desc())
        .limit(limit)
    ).all()

