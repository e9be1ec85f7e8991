"""The ranking of a program's applications by their reviews, reviewer calibration, and the funding
line drawn down the ranking within the budget (``grants.programs.budget``). Nothing here changes data.

Spreads are population standard deviations (``grants.reviews.figures``). A reviewer's totals are
normalised to the program's scale with z-scores unless the reviewer has fewer than three submitted
reviews in the program or no spread at all.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from grants.accounts.models import Organization, User
from grants.applications import lifecycle as application_lifecycle
from grants.applications.models import Application, Partner
from grants.extensions import db
from grants.programs import budget
from grants.programs.models import PARTNER_TYPES, Program
from grants.reviews.figures import median_term, score_statistics, standard_deviation
from grants.reviews.models import (
    ReviewAssignment,
)

MIN_REVIEWS_TO_NORMALIZE = 3
# A recommendation "contradicts" its score when a reviewer says fund below this total,
# or do-not-fund at or above the upper one.
FUND_BELOW = 50.0
DO_NOT_FUND_AT_OR_ABOVE = 70.0
DECIDABLE = application_lifecycle.DECIDABLE


@dataclass(slots=True)
class RankedApplication:
    application_id: int
    reference: str
    title: str
    organization: str
    county: str
    requested_cents: int
    status: str
    approved_cents: int | None
    reviews: int
    raw_mean: float | None
    normalized_mean: float | None
    median: float | None
    stdev: float | None
    minimum: float | None
    maximum: float | None
    contradictions: int
    flags: list[str] = field(default_factory=list)
    partner_types: list[str] = field(default_factory=list)

    @property
    def spread(self) -> float | None:
        return None if self.minimum is None or self.maximum is None else self.maximum - self.minimum




def _submitted_reviews(program_id: int):
    return (
        sa.select(ReviewAssignment.application_id, ReviewAssignment.reviewer_id, ReviewAssignment.total_score.label("x"), ReviewAssignment.recommendation)
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(Application.program_id == program_id, Application.was_eligible,
               ReviewAssignment.is_submitted)
    )


def _plain_rows(stmt) -> Sequence:
    """Rows straight from the connection: the ranking reads thousands, and the ORM's per-row
    processing of column queries cost more than the SQL itself."""
    return db.session.connection().execute(stmt).all()


def _review_statistics(program: Program, only_application_id: int | None = None):
    """Per application: count, mean, normalized mean, mean square, min, max, contradictions, median.

    One grouped subquery; normalisation and medians are window functions over the submitted reviews.
    With ``only_application_id`` only that application's reviews are read: its own figures and
    flags are exact, but the normalized mean is not (it needs the reviewers' other reviews).
    """
    reviews = _submitted_reviews(program.id)
    if only_application_id is not None:
        reviews = reviews.where(ReviewAssignment.application_id == only_application_id)
    reviews = reviews.subquery("r")
    x = reviews.c.x
    windowed = sa.select(
        reviews.c.application_id, x, reviews.c.recommendation,
        sa.func.count().over(partition_by=reviews.c.reviewer_id).label("rn"),
        sa.func.avg(x).over(partition_by=reviews.c.reviewer_id).label("rmean"),
        sa.func.avg(x * x).over(partition_by=reviews.c.reviewer_id).label("rsq"),
        sa.func.avg(x).over().label("pmean"),
        sa.func.avg(x * x).over().label("psq"),
        sa.func.row_number().over(partition_by=reviews.c.application_id, order_by=x).label("pos"),
        sa.func.count().over(partition_by=reviews.c.application_id).label("an"),
    ).subquery("w")
    r_var = windowed.c.rsq - windowed.c.rmean * windowed.c.rmean
    p_var = windowed.c.psq - windowed.c.pmean * windowed.c.pmean
    # z-score against the reviewer, mapped back onto the program's scale (population SDs).
    normalized = sa.case(
        (sa.and_(windowed.c.rn >= MIN_REVIEWS_TO_NORMALIZE, r_var > 1e-9),
         windowed.c.pmean + (windowed.c.x - windowed.c.rmean) * sa.func.sqrt(sa.case((p_var > 0, p_var), else_=0.0) / r_var)),
        else_=windowed.c.x,
    )
    contradiction = sa.case(
        (sa.or_(sa.and_(windowed.c.recommendation == "fund", windowed.c.x < FUND_BELOW),
                sa.and_(windowed.c.recommendation == "do_not_fund", windowed.c.x >= DO_NOT_FUND_AT_OR_ABOVE)), 1),
        else_=0,
    )
    return sa.select(
        windowed.c.application_id,
        *score_statistics(windowed.c.x),
        sa.func.avg(normalized).label("nmean"),
        sa.func.sum(contradiction).label("contradictions"),
        sa.func.avg(median_term(windowed.c.x, windowed.c.pos, windowed.c.an)).label("median"),
    ).group_by(windowed.c.application_id).subquery("stats")


def _ranked_rows(program: Program, order: str, *, limit: int | None = None, offset: int = 0,
                 hidden: frozenset[int] = frozenset(), only_application_id: int | None = None):
    """Applications with their statistics in ranking order (best first), optionally one page of them,
    or one application without its normalized mean (see ``_review_statistics``).

    ``hidden`` applications (the viewer declared a conflict on them) are left out of the rows; their
    reviews still count in everyone else's normalized means, as for any other viewer."""
    stats = _review_statistics(program, only_application_id)
    key = stats.c.nmean if order == "normalized" else stats.c.mean
    stmt = (
        sa.select(Application.id, Application.reference, Application.title, Application.requested_cents, Application.status,
                  Application.approved_cents, Organization.legal_name, Organization.county,
                  stats.c.n, stats.c.mean, stats.c.nmean, stats.c.sq, stats.c.lo, stats.c.hi, stats.c.contradictions,
                  stats.c.median, sa.func.count().over().label("total"))
        .join(Organization, Organization.id == Application.organization_id)
        .outerjoin(stats, stats.c.application_id == Application.id)
        .where(Application.program_id == program.id, Application.was_eligible)
        .order_by(key.is_(None), key.desc(), Application.reference)
    )
    if hidden:
        stmt = stmt.where(Application.id.not_in(sorted(hidden)))
    if only_application_id is not None:
        stmt = stmt.where(Application.id == only_application_id)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return _plain_rows(stmt)


def _ranked(program: Program, rows, *, page: bool) -> list[RankedApplication]:
    partner_types = defaultdict(set)
    stmt = (sa.select(Partner.application_id, Partner.partner_type).join(Application)
            .where(Application.program_id == program.id, Application.was_eligible))
    if page:
        stmt = stmt.where(Partner.application_id.in_([row[0] for row in rows]))
    if rows:
        for application_id, partner_type in _plain_rows(stmt):
            partner_types[application_id].add(partner_type)
    expected, threshold = program.reviewers_per_application, program.score_spread_threshold
    ranked = []
    # Rows are unpacked as tuples: with thousands of applications, named access was a third of the time.
    for (app_id, reference, title, requested, status, approved, organization, county,
         n, mean, nmean, sq, lo, hi, contradictions, median, _total) in rows:
        if n is None:
            n, stdev, contradictions = 0, None, 0
        else:
            stdev = standard_deviation(mean, sq)
            mean, nmean, median, lo, hi = float(mean), float(nmean), float(median), float(lo), float(hi)
            contradictions = int(contradictions)
        item = RankedApplication(
            app_id, reference, title, organization, county, requested, status, approved, n, mean, nmean,
            median, stdev, lo, hi, contradictions, [], sorted(partner_types[app_id]),
        )
        if n < expected:
            item.flags.append(f"Too few reviews ({n} of {expected})")
        if lo is not None and hi - lo > threshold:
            item.flags.append(f"Scores spread {hi - lo:.1f} points")
        if contradictions:
            item.flags.append("Recommendation contradicts score")
        ranked.append(item)
    return ranked


def ranking(program: Program, order: str = "raw") -> list[RankedApplication]:
    """Every application under review or decided, with its review statistics, best first.

    Two SQL queries whatever the size of the round: the applications joined to their statistics
    (normalisation and medians done by window functions), sorted; and their partner types.
    Refuses nothing (read only); the caller leaves out what a conflicted viewer must not see.
    """
    return _ranked(program, _ranked_rows(program, order), page=False)


def ranking_page(program: Program, order: str, page: int, per_page: int,
                 hidden: frozenset[int] = frozenset()) -> tuple[list[RankedApplication], int]:
    """One page of ``ranking`` and the number of ranked applications: sorted and cut in SQL, so a
    page costs the same whatever the size of the round beyond the grouped statistics. ``hidden``
    applications are left out of both (see ``_ranked_rows``). Refuses nothing (read only)."""
    rows = _ranked_rows(program, order, limit=per_page, offset=(page - 1) * per_page, hidden=hidden)
    if rows:
        return _ranked(program, rows, page=True), rows[0][-1]
    stmt = sa.select(sa.func.count()).select_from(Application).where(
        Application.program_id == program.id, Application.was_eligible)
    if hidden:
        stmt = stmt.where(Application.id.not_in(sorted(hidden)))
    return [], db.session.execute(stmt).scalar_one()


def hidden_from_ranking(program: Program, hidden: set[int] | frozenset[int]) -> int:
    """How many of the program's ranked applications ``hidden`` (a viewer's conflicts) leaves out.
    Refuses nothing."""
    if not hidden:
        return 0
    return db.session.execute(sa.select(sa.func.count()).select_from(Application).where(
        Application.program_id == program.id, Application.was_eligible, Application.id.in_(sorted(hidden)))).scalar_one()


def standing_flags(application: Application) -> list[str]:
    """The ranking's flags on one application (too few reviews, a wide spread, a recommendation
    contradicting its score), computed as the ranking computes them from this application's reviews
    alone (the program's other reviews only matter to the normalized mean, which flags do not use).
    Refuses nothing."""
    rows = _ranked_rows(application.program, "raw", only_application_id=application.id)
    return _ranked(application.program, rows, page=True)[0].flags if rows else []


@dataclass
class ReviewerCalibration:
    reviewer_id: int
    name: str
    reviews: int
    mean: float
    stdev: float | None


def calibration(program: Program, hidden: frozenset[int] = frozenset()) -> tuple[list[ReviewerCalibration], ReviewerCalibration | None]:
    """Each reviewer's count, mean and spread of submitted totals, and the program's own.

    Reviews of ``hidden`` applications (the viewer declared a conflict on them) are left out: a
    reviewer who reviewed only one of them would otherwise show its score as their mean.
    Refuses nothing (read only)."""
    reviews = _submitted_reviews(program.id)
    if hidden:
        reviews = reviews.where(ReviewAssignment.application_id.not_in(sorted(hidden)))
    reviews = reviews.subquery("r")
    n, mean, sq = score_statistics(reviews.c.x)[:3]
    rows = db.session.execute(
        sa.select(User.id, User.name, n, mean, sq)
        .join(User, User.id == reviews.c.reviewer_id)
        .group_by(User.id, User.name)
        .order_by(User.name, User.id)
    ).all()
    per_reviewer = [
        ReviewerCalibration(rid, name, count, float(average), standard_deviation(average, square))
        for rid, name, count, average, square in rows
    ]
    total = db.session.execute(sa.select(n, mean, sq).select_from(reviews)).one()
    overall = None
    if total[0]:
        overall = ReviewerCalibration(0, "All reviewers", total[0], float(total[1]), standard_deviation(total[1], total[2]))
    return per_reviewer, overall


FUNDED_BY_RANK, FUNDED_BY_RESERVE = "rank", "reserve"


@dataclass
class FundingRow:
    ranked: RankedApplication
    funded: bool
    reason: str
    cumulative_cents: int
    funded_by: str | None = None  # FUNDED_BY_RESERVE or FUNDED_BY_RANK; None below the line


@dataclass
class FundingLine:
    available_cents: int
    committed_cents: int
    rows: list[FundingRow]
    above_line: int  # how many rows, from the top of the ranking, are above the line (all of them funded)
    # Rows left out for a viewer who declared a conflict on them (``without``); still part of the line.
    hidden_rows: list[FundingRow] = field(default_factory=list)

    @property
    def funded_rows(self) -> list[FundingRow]:
        return [row for row in self.rows if row.funded]

    @property
    def funded_cents(self) -> int:
        return sum(row.ranked.requested_cents for row in self.funded_rows)

    @property
    def digest(self) -> str:
        """What approving this line would approve (applications and amounts), as a short fingerprint:
        the confirmation form carries it, so a line that changed after the preview approves nothing."""
        funded = sorted((row.ranked.application_id, row.ranked.requested_cents)
                        for row in [*self.rows, *self.hidden_rows] if row.funded)
        return hashlib.sha256(repr(funded).encode()).hexdigest()[:32]

    def without(self, application_ids: set[int]) -> FundingLine:
        """The line as shown to someone who declared a conflict on some of its applications: those rows
        left out, and their amounts out of the cumulative column, so neither their place nor their
        scores show. The line itself is unchanged: the same rows funded, the same ``digest``."""
        if not any(row.ranked.application_id in application_ids for row in self.rows):
            return self
        visible, hidden, above, cumulative = [], [], 0, self.committed_cents
        for index, row in enumerate(self.rows):
            if row.ranked.application_id in application_ids:
                hidden.append(row)
                continue
            above += index < self.above_line
            cumulative += row.ranked.requested_cents if row.funded else 0
            visible.append(replace(row, cumulative_cents=cumulative))
        return FundingLine(self.available_cents, self.committed_cents, visible, above, hidden)


def funding_line(program: Program, *, order: str = "raw", reserve_partner_types: bool = False) -> FundingLine:
    """Walk the ranking and fund while the budget allows; change nothing.

    With ``reserve_partner_types``, first each eligible partner type not yet covered gets its
    best-ranked application that fits the budget left (when the best of a type is too large, the
    next of that type is tried): those rows are funded by reserve, wherever they rank. Then the rest
    are funded in rank order until the first application that does not fit: the line falls there.
    Every row above the line is funded (by rank or by reserve); below it, only reserved rows are.
    Refuses nothing (read only); ``FundingLine.without`` hides a conflicted viewer's rows.
    """
    committed = budget.committed_cents(program.id)
    available = program.total_budget_cents - committed
    candidates = [r for r in ranking(program, order) if r.status in DECIDABLE and r.reviews > 0]
    remaining = available
    reserved: dict[int, str] = {}  # application id -> the partner type it was reserved for
    if reserve_partner_types:
        for partner_type in program.eligible_partner_types:
            if any(partner_type in r.partner_types for r in candidates if r.application_id in reserved):
                continue
            best = next((r for r in candidates if partner_type in r.partner_types and r.application_id not in reserved
                         and r.requested_cents <= remaining), None)
            if best is not None:
                reserved[best.application_id] = partner_type
                remaining -= best.requested_cents
    above_line = len(candidates)
    for index, r in enumerate(candidates):
        if r.application_id in reserved:
            continue
        if r.requested_cents > remaining:
            above_line = index
            break
        remaining -= r.requested_cents
    rows, cumulative = [], committed
    for index, r in enumerate(candidates):
        if r.application_id in reserved:
            funded_by = FUNDED_BY_RESERVE
            reason = f"Reserved: best-ranked with a partner of type {PARTNER_TYPES[reserved[r.application_id]]} that fits the budget"
        elif index < above_line:
            funded_by, reason = FUNDED_BY_RANK, "Within budget in rank order"
        else:
            funded_by, reason = None, "Below the line"
        if funded_by:
            cumulative += r.requested_cents
        rows.append(FundingRow(r, funded_by is not None, reason, cumulative, funded_by))
    return FundingLine(available_cents=available, committed_cents=committed, rows=rows, above_line=above_line)
