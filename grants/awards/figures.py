"""The money figures, each written once: what an award has paid, has pending and has left to
request, and what a program has committed and has left.

Every page, dashboard and workbook that shows one of these figures reads it from here, as SQL it
can join into its own query (one grouped subquery, whatever the number of awards) or as the small
helpers below, so the award page, the awards list, the finance pages, the dashboards and the
workbooks cannot disagree.

- paid: the award's payments marked paid;
- pending: payments requested or approved, not yet paid;
- remaining: the award's current amount less every non-void payment (paid or pending): what can
  still be requested;
- a program's committed: its awards' current amounts (terminated and closed ones included: their
  amounts were cut to what was paid) plus what approved applications not yet awarded were promised;
  its remaining: the budget less what is committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from grants.applications.models import Application
from grants.awards.models import PAID, PENDING_PAYMENT, REQUESTED, Award, Disbursement
from grants.extensions import db
from grants.programs import budget
from grants.programs.models import Program

# Award figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwardMoney:
    """An award's money figures as SQL: join ``subquery`` on ``award_id`` (an outer join: an award
    without payments has no row) and select the coalesced columns."""

    subquery: sa.Subquery

    def join(self, stmt, award_id=Award.id):
        return stmt.outerjoin(self.subquery, self.subquery.c.award_id == award_id)

    @property
    def paid(self):
        return sa.func.coalesce(self.subquery.c.paid, 0)

    @property
    def pending(self):
        return sa.func.coalesce(self.subquery.c.pending, 0)

    @property
    def requested(self):
        """The part of pending still only requested (finance has not approved it)."""
        return sa.func.coalesce(self.subquery.c.requested, 0)

    @property
    def last_paid_on(self):
        return self.subquery.c.last_paid_on

    def remaining(self, amount_cents=Award.amount_cents):
        """The current amount less every non-void payment."""
        return amount_cents - self.paid - self.pending


def award_money(award_ids: Iterable[int] | None = None, name: str = "award_money") -> AwardMoney:
    """Per award: paid, pending, requested cents and the last paid date, in one grouped subquery
    (restricted to ``award_ids`` when given, so a page of awards reads only its own payments).
    Refuses nothing.
    """
    stmt = sa.select(
        Disbursement.award_id,
        sa.func.sum(sa.case((Disbursement.status == PAID, Disbursement.amount_cents), else_=0)).label("paid"),
        sa.func.sum(sa.case((Disbursement.status.in_(PENDING_PAYMENT), Disbursement.amount_cents), else_=0)).label("pending"),
        sa.func.sum(sa.case((Disbursement.status == REQUESTED, Disbursement.amount_cents), else_=0)).label("requested"),
        sa.func.max(sa.case((Disbursement.status == PAID, Disbursement.paid_on), else_=None)).label("last_paid_on"),
    ).group_by(Disbursement.award_id)
    if award_ids is not None:
        stmt = stmt.where(Disbursement.award_id.in_(sorted(award_ids)))
    return AwardMoney(stmt.subquery(name))


@dataclass(frozen=True)
class AwardFigures:
    amount_cents: int
    paid_cents: int
    pending_cents: int  # requested or approved, not yet paid
    remaining_cents: int  # what can still be requested: the amount less every non-void payment


def award_figures_by_id(award_ids: Iterable[int]) -> dict[int, AwardFigures]:
    """The figures of each of ``award_ids`` (absent ids are left out), in one query. Refuses nothing."""
    award_ids = sorted(set(award_ids))
    if not award_ids:
        return {}
    money = award_money(award_ids)
    stmt = money.join(sa.select(Award.id, Award.amount_cents, money.paid, money.pending, money.remaining())
                      .where(Award.id.in_(award_ids)))
    return {award_id: AwardFigures(int(amount), int(paid), int(pending), int(remaining))
            for award_id, amount, paid, pending, remaining in db.session.execute(stmt)}


def award_figures(award: Award) -> AwardFigures:
    """One award's figures (the row is flushed first, so a change made in this transaction counts).
    Refuses nothing.
    """
    return award_figures_by_id([award.id])[award.id]


# Program figures --------------------------------------------------------------------------------


def _awarded_by_program(program_ids):
    stmt = sa.select(Award.program_id, sa.func.sum(Award.amount_cents).label("awarded")).group_by(Award.program_id)
    if program_ids is not None:
        stmt = stmt.where(Award.program_id.in_(program_ids))
    return stmt.subquery("awarded")


def _approved_by_program(program_ids, excluding_application_id: int | None):
    stmt = (sa.select(Application.program_id, sa.func.sum(Application.approved_cents).label("approved"))
            .where(Application.is_approved).group_by(Application.program_id))
    if program_ids is not None:
        stmt = stmt.where(Application.program_id.in_(program_ids))
    if excluding_application_id is not None:
        stmt = stmt.where(Application.id != excluding_application_id)
    return stmt.subquery("approved")


def _payments_by_program(program_ids):
    money = award_money(name="award_money")
    stmt = money.join(sa.select(Award.program_id, sa.func.sum(money.paid).label("paid"), sa.func.sum(money.pending).label("pending"),
                                sa.func.sum(money.requested).label("requested"))).group_by(Award.program_id)
    if program_ids is not None:
        stmt = stmt.where(Award.program_id.in_(program_ids))
    return stmt.subquery("program_payments")


@dataclass(frozen=True)
class ProgramMoney:
    """A program's money figures as SQL, to select from ``Program`` after ``join``."""

    awarded_subquery: sa.Subquery
    approved_subquery: sa.Subquery
    payments_subquery: sa.Subquery | None

    def join(self, stmt):
        stmt = (stmt.outerjoin(self.awarded_subquery, self.awarded_subquery.c.program_id == Program.id)
                .outerjoin(self.approved_subquery, self.approved_subquery.c.program_id == Program.id))
        if self.payments_subquery is not None:
            stmt = stmt.outerjoin(self.payments_subquery, self.payments_subquery.c.program_id == Program.id)
        return stmt

    @property
    def awarded(self):
        """The awards' current amounts, after amendments and closeouts."""
        return sa.func.coalesce(self.awarded_subquery.c.awarded, 0)

    @property
    def approved_not_awarded(self):
        return sa.func.coalesce(self.approved_subquery.c.approved, 0)

    @property
    def committed(self):
        return self.awarded + self.approved_not_awarded

    @property
    def remaining(self):
        return Program.total_budget_cents - self.committed

    @property
    def paid(self):
        return sa.func.coalesce(self.payments_subquery.c.paid, 0)

    @property
    def pending(self):
        return sa.func.coalesce(self.payments_subquery.c.pending, 0)

    @property
    def requested(self):
        return sa.func.coalesce(self.payments_subquery.c.requested, 0)


def program_money(program_ids: Iterable[int] | None = None, *, payments: bool = True,
                  excluding_application_id: int | None = None) -> ProgramMoney:
    """Per program (of ``program_ids``, or every one): awarded, approved not yet awarded (less one
    application's approval while it is being turned into an award), committed, remaining, and,
    with ``payments``, its awards' paid, pending and requested (sums of the award figures).
    Refuses nothing.
    """
    ids = None if program_ids is None else sorted(set(program_ids))
    return ProgramMoney(_awarded_by_program(ids), _approved_by_program(ids, excluding_application_id),
                        _payments_by_program(ids) if payments else None)


@dataclass(frozen=True)
class ProgramFigures:
    program_id: int
    name: str
    fiscal_year: int
    budget_cents: int
    awarded_cents: int
    paid_cents: int
    pending_cents: int
    approved_not_awarded_cents: int
    awaiting_approval_cents: int  # the part of pending still only requested
    remaining_cents: int  # the budget neither awarded nor approved for an award: what new awards may use

    @property
    def committed_cents(self) -> int:
        """Awarded plus approved, not yet awarded: what the program has promised."""
        return self.awarded_cents + self.approved_not_awarded_cents

    @property
    def approved_unpaid_cents(self) -> int:
        """The part of pending that finance approved and has not paid yet."""
        return self.pending_cents - self.awaiting_approval_cents


def program_figures(program_ids: list[int] | None = None) -> list[ProgramFigures]:
    """Budget, awarded, approved, paid, pending and remaining per program, in one query; newest
    fiscal year first, then by name. Refuses nothing: the caller decides who sees them.
    """
    money = program_money(program_ids)
    stmt = money.join(sa.select(
        Program.id, Program.name, Program.fiscal_year, Program.total_budget_cents, money.awarded, money.paid,
        money.pending, money.approved_not_awarded, money.requested, money.remaining,
    )).order_by(Program.fiscal_year.desc(), Program.name)
    if program_ids is not None:
        stmt = stmt.where(Program.id.in_(program_ids))
    return [ProgramFigures(pid, name, fy, int(budget), int(a), int(p), int(pe), int(ap), int(rq), int(rem))
            for pid, name, fy, budget, a, p, pe, ap, rq, rem in db.session.execute(stmt)]


def total_figures(rows: list[ProgramFigures], *, name: str = "All programs", fiscal_year: int = 0) -> ProgramFigures:
    """The sum of several programs' figures (a total row). Refuses nothing."""
    def total(attribute: str) -> int:
        return sum(getattr(row, attribute) for row in rows)

    return ProgramFigures(0, name, fiscal_year, total("budget_cents"), total("awarded_cents"), total("paid_cents"),
                          total("pending_cents"), total("approved_not_awarded_cents"), total("awaiting_approval_cents"),
                          total("remaining_cents"))


@budget.counts_commitments
def committed_cents(program_id: int, *, excluding_application_id: int | None = None) -> int:
    """Money the program has promised: every award's current amount, plus approvals not yet awarded
    (less ``excluding_application_id``'s, the approval being turned into an award). Refuses nothing.
    """
    money = program_money([program_id], payments=False, excluding_application_id=excluding_application_id)
    return int(db.session.scalar(money.join(sa.select(money.committed).select_from(Program).where(Program.id == program_id))) or 0)
