"""Workbooks for finance and program staff: the award ledger, applications and scores, 360Giving.

Every builder streams rows from SQL into a write-only workbook, so memory stays flat as rows
grow; amounts come from integer cents; user text is always written as text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import sqlalchemy as sa
from flask import current_app
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font

from grants.accounts.models import Organization
from grants.applications.lifecycle import DECIDED
from grants.applications.lifecycle import LABELS as APPLICATION_STATUSES
from grants.applications.models import Application, Partner
from grants.awards.figures import award_money
from grants.awards.lifecycle import DisbursementStatus
from grants.awards.models import AWARD_STATUSES, Amendment, Award, Disbursement
from grants.clock import format_instant, to_local
from grants.db import utcnow
from grants.exports.sheets import (
    DATE,
    DECIMAL,
    INTEGER,
    MONEY,
    MONEY_FORMAT,
    TEXT,
    VALUE,
    Column,
    SheetWriter,
    sheet_text,
    write_text,
)
from grants.extensions import db
from grants.programs.models import PARTNER_TYPES, Program
from grants.reviews.figures import score_statistics, standard_deviation
from grants.reviews.models import ReviewAssignment, Score
from grants.text import ngettext

SEPARATOR = "\x1f"  # joins partner names in SQL; no one types it
BATCH = 5000

Progress = Callable[[int], None]


@dataclass
class LedgerFilters:
    program: Program | None = None
    fiscal_year: int | None = None
    status: str | None = None

    def describe(self) -> list[tuple[str, str]]:
        return [
            ("Program", self.program.name if self.program else "All programs"),
            ("Fiscal year", str(self.fiscal_year) if self.fiscal_year else "All fiscal years"),
            ("Award status", AWARD_STATUSES.get(self.status, "All statuses") if self.status else "All statuses"),
        ]

    def apply(self, stmt):
        if self.program is not None:
            stmt = stmt.where(Award.program_id == self.program.id)
        if self.fiscal_year is not None:
            stmt = stmt.where(Program.fiscal_year == self.fiscal_year)
        if self.status:
            stmt = stmt.where(Award.status == self.status)
        return stmt


def _string_agg(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.string_agg(column, SEPARATOR)
    return sa.func.group_concat(column, SEPARATOR)


def _split(aggregated: str | None) -> list[str]:
    return sorted(set(aggregated.split(SEPARATOR))) if aggregated else []


def _stream(stmt):
    # Through the connection, not the ORM: these are column rows, and the ORM's per-row handling
    # of them cost more than the SQL (the rows are plain tuples either way).
    return db.session.connection().execute(stmt.execution_options(yield_per=BATCH))


def app_version() -> str:
    """The installed version of the grants package, for the About sheet ("unknown" when not installed).
    Refuses nothing.
    """
    try:
        return version("grants")
    except PackageNotFoundError:
        return "unknown"


# The award ledger -------------------------------------------------------------------------------

AWARD_COLUMNS = [
    Column("Award number", TEXT, 18), Column("Program", TEXT, 32), Column("Fiscal year", INTEGER, 10),
    Column("Funding source", TEXT, 14), Column("Recipient", TEXT, 36), Column("EIN", TEXT, 12),
    Column("UEI", TEXT, 14), Column("County", TEXT, 14), Column("Partner types", TEXT, 30),
    Column("Partners", TEXT, 40), Column("Award date", DATE, 12), Column("Period start", DATE, 12),
    Column("Period end", DATE, 12), Column("Status", TEXT, 16), Column("Original amount", MONEY, 15),
    Column("Net amendments", MONEY, 15), Column("Current amount", MONEY, 15), Column("Disbursed (paid)", MONEY, 15),
    Column("Pending (requested or approved)", MONEY, 15), Column("Remaining", MONEY, 15), Column("Last payment date", DATE, 12),
]
COL = {column.header: index for index, column in enumerate(AWARD_COLUMNS)}


def _letter(header: str) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(COL[header] + 1)


def _award_rows_stmt(filters: LedgerFilters):
    money = award_money()
    partners = (
        sa.select(Partner.application_id, _string_agg(Partner.partner_type).label("types"), _string_agg(Partner.name).label("names"))
        .group_by(Partner.application_id).subquery()
    )
    stmt = (
        sa.select(
            Award.award_number, Program.name, Program.fiscal_year, Program.funding_source_code, Organization.legal_name,
            Organization.ein, Organization.uei, Organization.county, partners.c.types, partners.c.names, Award.created_at,
            Award.start_date, Award.end_date, Award.status, Award.original_cents, Award.amount_cents,
            money.paid, money.pending, money.remaining(), money.last_paid_on,
        )
        .join(Program, Program.id == Award.program_id)
        .join(Application, Application.id == Award.application_id)
        .join(Organization, Organization.id == Application.organization_id)
        .outerjoin(partners, partners.c.application_id == Award.application_id)
        .outerjoin(money.subquery, money.subquery.c.award_id == Award.id)
        .order_by(Award.award_number)
    )
    return filters.apply(stmt)


def count_awards(filters: LedgerFilters) -> int:
    """How many awards the ledger's filters select. Refuses nothing."""
    stmt = sa.select(sa.func.count()).select_from(Award).join(Program, Program.id == Award.program_id)
    return db.session.scalar(filters.apply(stmt))


def count_ledger_rows(filters: LedgerFilters) -> int:
    """Rows the ledger's Awards, Disbursements and Amendments sheets will hold: the progress bar's length.
    Refuses nothing.
    """
    total = count_awards(filters)
    for model in (Disbursement, Amendment):
        stmt = (sa.select(sa.func.count()).select_from(model).join(Award, Award.id == model.award_id)
                .join(Program, Program.id == Award.program_id))
        total += db.session.scalar(filters.apply(stmt))
    return total


class _ProgressEvery:
    """Report rows written in steps of ``step`` (a bar redrawn per row slows a large export)."""

    def __init__(self, progress: Progress | None, step: int = 1000):
        self.progress, self.step, self.pending = progress, step, 0

    def row(self) -> None:
        if self.progress:
            self.pending += 1
            if self.pending == self.step:
                self.progress(self.step)
                self.pending = 0

    def flush(self) -> None:
        if self.progress and self.pending:
            self.progress(self.pending)
            self.pending = 0


@dataclass
class LedgerCounts:
    awards: int = 0
    disbursements: int = 0
    amendments: int = 0
    totals: dict[str, int] = field(default_factory=dict)


def award_ledger_workbook(target, *, filters: LedgerFilters, generated_by: str, progress: Progress | None = None) -> LedgerCounts:
    """Write the ledger (Awards, Disbursements, Amendments, Summary, About) to ``target``.

    ``progress`` is called with the number of rows written since its last call, over all three data
    sheets (``count_ledger_rows`` is the total). Refuses nothing: the caller checks who may download it.
    """
    workbook = Workbook(write_only=True)
    ticker = _ProgressEvery(progress)
    counts = LedgerCounts(totals={"current": 0, "paid": 0, "pending": 0})
    zone_date = lambda instant: to_local(instant).date()  # noqa: E731 - the agency's calendar day

    awards = SheetWriter(workbook, "Awards", AWARD_COLUMNS)
    for row in _stream(_award_rows_stmt(filters)):
        (number, program, fiscal_year, source, recipient, ein, uei, county, types, names, created_at,
         start, end, status, original, amount, paid, pending, remaining, last_paid) = row
        paid, pending, remaining = int(paid), int(pending), int(remaining)
        awards.append((
            number, program, fiscal_year, source, recipient, ein, uei, county,
            ", ".join(PARTNER_TYPES.get(t, t) for t in _split(types)), "; ".join(_split(names)),
            zone_date(created_at), start, end, AWARD_STATUSES.get(status, status), original, amount - original,
            amount, paid, pending, remaining, last_paid,
        ))
        counts.awards += 1
        counts.totals["current"] += amount
        counts.totals["paid"] += paid
        counts.totals["pending"] += pending
        ticker.row()
    awards.finish()

    payments = SheetWriter(workbook, "Disbursements", [
        Column("Award number", TEXT, 18), Column("Recipient", TEXT, 36), Column("Requested date", DATE, 13),
        Column("Status", TEXT, 11), Column("Amount", MONEY, 15), Column("Paid date", DATE, 12),
        Column("Payment reference", TEXT, 18), Column("Description", TEXT, 40),
    ])
    stmt: sa.Select = (
        sa.select(Award.award_number, Organization.legal_name, Disbursement.requested_on, Disbursement.status,
                  Disbursement.amount_cents, Disbursement.paid_on, Disbursement.payment_reference, Disbursement.description)
        .join(Award, Award.id == Disbursement.award_id)
        .join(Program, Program.id == Award.program_id)
        .join(Application, Application.id == Award.application_id)
        .join(Organization, Organization.id == Application.organization_id)
        .order_by(Award.award_number, Disbursement.id)
    )
    for number, recipient, requested_on, status, amount, paid_on, reference, description in _stream(filters.apply(stmt)):
        payments.append((number, recipient, requested_on, DisbursementStatus(status).label, amount, paid_on, reference, description))
        counts.disbursements += 1
        ticker.row()
    payments.finish()

    amendments = SheetWriter(workbook, "Amendments", [
        Column("Award number", TEXT, 18), Column("Amendment", INTEGER, 11), Column("Date", DATE, 12),
        Column("Amount change", MONEY, 15), Column("New end date", DATE, 13), Column("Closeout", TEXT, 9),
        Column("Reason", TEXT, 50),
    ])
    stmt = (
        sa.select(Award.award_number, Amendment.number, Amendment.created_at, Amendment.amount_delta_cents,
                  Amendment.new_end_date, Amendment.is_closeout, Amendment.reason)
        .join(Award, Award.id == Amendment.award_id)
        .join(Program, Program.id == Award.program_id)
        .order_by(Award.award_number, Amendment.number)
    )
    for number, amendment, created_at, delta, new_end, closeout, reason in _stream(filters.apply(stmt)):
        amendments.append((number, amendment, zone_date(created_at), delta, new_end, "Yes" if closeout else "No", reason))
        counts.amendments += 1
        ticker.row()
    amendments.finish()
    ticker.flush()

    _summary_sheet(workbook, filters, counts.awards)
    _about_sheet(workbook, "Award ledger", filters.describe(), generated_by, [
        ("Awards", counts.awards), ("Disbursements", counts.disbursements), ("Amendments", counts.amendments),
    ])
    workbook.save(target)
    return counts


def _summary_sheet(workbook, filters: LedgerFilters, award_rows: int) -> None:
    """Totals written as SUMIFS over the Awards sheet, so finance can audit every figure."""
    sheet = workbook.create_sheet("Summary")
    for letter, width in zip("ABCD", (40, 10, 18, 18), strict=False):
        sheet.column_dimensions[letter].width = width
    last = award_rows + 1
    amount = f"Awards!${_letter('Current amount')}$2:${_letter('Current amount')}${last}"
    paid = f"Awards!${_letter('Disbursed (paid)')}$2:${_letter('Disbursed (paid)')}${last}"
    row = 0
    bold = Font(bold=True)

    def put(values, styles=()):
        nonlocal row
        cells = []
        for index, value in enumerate(values):
            cell = WriteOnlyCell(sheet)
            if index == 0 and isinstance(value, str):
                write_text(cell, value)  # labels are program names and counties: text, never formulas
            else:
                cell.value = value
            if index in styles:
                cell.number_format = MONEY_FORMAT
            cells.append(cell)
        sheet.append(cells)
        row += 1

    def heading(text, label):
        cells = [WriteOnlyCell(sheet, value=v) for v in (text, "Awards", "Awarded", "Disbursed")]
        cells[0].value = f"{text} ({label})"
        for cell in cells:
            cell.font = bold
        sheet.append(cells)
        nonlocal row
        row += 1

    def section(title, label, keys_column, values, criteria=None):
        """One row per value; without ``criteria``, cells equal to the label (exact match)."""
        heading(title, label)
        first = row + 1
        key = f"Awards!${keys_column}$2:${keys_column}${last}"
        for value in values:
            ref = f"$A{row + 1}"
            if criteria is None and len(_escaped_criterion(value)) > CRITERION_LIMIT:
                # Excel matches a criterion of at most 255 characters: compare the cells instead.
                match = f"--({key}={ref})"
                formulas = [f"=SUMPRODUCT({match})", f"=SUMPRODUCT({match},{amount})", f"=SUMPRODUCT({match},{paid})"]
            else:
                crit = criteria(ref) if criteria else _exact_criterion(ref)
                formulas = [f"=COUNTIFS({key},{crit})", f"=SUMIFS({amount},{key},{crit})", f"=SUMIFS({paid},{key},{crit})"]
            put([value, *formulas], styles=(2, 3))
        put([None])
        return first, row - 1

    put(["Award ledger summary. Every figure is a formula over the Awards sheet."])
    put([None])
    programs, years, counties = _summary_keys(filters)
    section("By program", "exact match", _letter("Program"), programs)
    section("By fiscal year", "exact match", _letter("Fiscal year"), years, lambda ref: ref)
    type_first, type_last = section(
        "By partner type", "awards with a partner of this type", _letter("Partner types"),
        list(PARTNER_TYPES.values()), lambda ref: f'"*"&{ref}&"*"')
    section("By county", "exact match", _letter("County"), counties)
    put(["Total", f"=ROWS(Awards!$A$2:$A${last})" if award_rows else 0, f"=SUM({amount})", f"=SUM({paid})"], styles=(2, 3))

    chart = BarChart()
    chart.type = "col"
    chart.title = "Awarded and disbursed by partner type"
    chart.y_axis.title = "Dollars"
    chart.x_axis.title = "Partner type"
    data = Reference(sheet, min_col=3, max_col=4, min_row=type_first - 1, max_row=type_last)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=type_first, max_row=type_last))
    chart.height, chart.width = 9, 18
    sheet.add_chart(chart, "F3")


# COUNTIFS and SUMIFS read *, ? and ~ in a criterion as wildcards; ~ escapes them, so a program
# named "Crisis* Teams" counts only its own awards, not "Crisis Response Teams" as well.
CRITERION_LIMIT = 255


def _exact_criterion(ref: str) -> str:
    return f'"="&SUBSTITUTE(SUBSTITUTE(SUBSTITUTE({ref},"~","~~"),"*","~*"),"?","~?")'


def _escaped_criterion(label) -> str:
    text = sheet_text(label)
    return "=" + text.replace("~", "~~").replace("*", "~*").replace("?", "~?")


def _summary_keys(filters: LedgerFilters) -> tuple[Sequence[str], Sequence[int], Sequence[str]]:
    base = (sa.select(Award.id).join(Program, Program.id == Award.program_id))
    ids = filters.apply(base).subquery()
    programs = db.session.scalars(sa.select(Program.name).join(Award, Award.program_id == Program.id)
                                  .where(Award.id.in_(sa.select(ids.c.id))).distinct().order_by(Program.name)).all()
    years = db.session.scalars(sa.select(Program.fiscal_year).join(Award, Award.program_id == Program.id)
                               .where(Award.id.in_(sa.select(ids.c.id))).distinct().order_by(Program.fiscal_year)).all()
    counties = db.session.scalars(
        sa.select(Organization.county).join(Application, Application.organization_id == Organization.id)
        .join(Award, Award.application_id == Application.id).where(Award.id.in_(sa.select(ids.c.id)))
        .distinct().order_by(Organization.county)).all()
    return programs, years, counties


def _about_sheet(workbook, title: str, filters: list[tuple[str, str]], generated_by: str, counts: list[tuple[str, int]],
                 notes: Sequence[tuple[str, str]] = ()) -> None:
    sheet = SheetWriter(workbook, "About", [Column("Item", TEXT, 24), Column("Value", VALUE, 50)], freeze=False)
    sheet.append(("Workbook", title))
    sheet.append(("Agency", current_app.config["AGENCY_NAME"]))
    for name, value in filters:
        sheet.append((f"Filter: {name}", value))
    for name, value in notes:
        sheet.append((name, value))
    sheet.append(("Generated at", format_instant(utcnow(), "%Y-%m-%d %H:%M:%S %Z")))
    sheet.append(("Generated by", generated_by))
    for name, count in counts:
        sheet.append((f"Rows: {name}", count))  # a number, so it can be summed and compared
    sheet.append(("Application version", app_version()))


# Applications and scores --------------------------------------------------------------------------


def _unranked(program: Program) -> list:
    """Submitted applications outside the ranking (not yet screened, ineligible, withdrawn), by reference.

    Each carries the raw figures of any reviews submitted before it left review (a withdrawal);
    normalization and flags belong to the ranking, so they stay empty.
    """
    from grants.reviews.services import RankedApplication

    reviews = (
        sa.select(ReviewAssignment.application_id, *score_statistics(ReviewAssignment.total_score)[:3])
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(Application.program_id == program.id, ReviewAssignment.is_submitted)
        .group_by(ReviewAssignment.application_id).subquery()
    )
    rows = db.session.execute(
        sa.select(Application.id, Application.reference, Application.title, Organization.legal_name, Organization.county,
                  Application.requested_cents, Application.status, reviews.c.n, reviews.c.mean, reviews.c.sq)
        .join(Organization, Organization.id == Application.organization_id)
        .outerjoin(reviews, reviews.c.application_id == Application.id)
        .where(Application.program_id == program.id, sa.not_(Application.is_draft), sa.not_(Application.was_eligible))
        .order_by(Application.reference)
    ).all()
    partner_types = defaultdict(set)
    if rows:
        for application_id, partner_type in db.session.execute(
            sa.select(Partner.application_id, Partner.partner_type).where(Partner.application_id.in_([row[0] for row in rows]))
        ):
            partner_types[application_id].add(partner_type)
    unranked = []
    for app_id, reference, title, organization, county, requested, status, n, mean, sq in rows:
        stdev = standard_deviation(mean, sq)
        mean = None if mean is None else float(mean)
        unranked.append(RankedApplication(
            app_id, reference, title, organization, county, requested, status, None, int(n or 0), mean, None,
            None, stdev, None, None, 0, [], sorted(partner_types[app_id]),
        ))
    return unranked


def applications_scores_workbook(target, *, program: Program, generated_by: str, hidden: frozenset[int] = frozenset()) -> int:
    """One row per application of the program except drafts: the ranking first (best first), then
    submitted applications outside it by reference; per-criterion averages; reviewer calibration.

    ``hidden`` applications (the downloader declared a conflict of interest on them) are left out of
    every sheet's rows, and the About sheet says how many. Refuses nothing: the caller checks who
    may download it.
    """
    from grants.reviews.services import calibration, ranking

    workbook = Workbook(write_only=True)
    everything = ranking(program) + _unranked(program)
    rows = [r for r in everything if r.application_id not in hidden]
    left_out = len(everything) - len(rows)
    sheet = SheetWriter(workbook, "Applications", [
        Column("Reference", TEXT, 16), Column("Organization", TEXT, 34), Column("County", TEXT, 14), Column("Title", TEXT, 40),
        Column("Partner types", TEXT, 28), Column("Requested", MONEY, 15), Column("Status", TEXT, 14),
        Column("Reviews submitted", INTEGER, 10), Column("Raw mean", DECIMAL, 10), Column("Normalized mean", DECIMAL, 12),
        Column("Standard deviation", DECIMAL, 11), Column("Flags", TEXT, 40), Column("Decision", TEXT, 12), Column("Approved amount", MONEY, 15),
    ])
    decisions = {application_id: outcome for application_id, outcome in db.session.execute(
        sa.select(Application.id, Application.status).where(Application.program_id == program.id))}
    for r in rows:
        outcome = decisions.get(r.application_id)
        sheet.append((
            r.reference, r.organization, r.county, r.title, ", ".join(PARTNER_TYPES.get(t, t) for t in r.partner_types),
            r.requested_cents, APPLICATION_STATUSES.get(r.status, r.status), r.reviews,
            _round(r.raw_mean), _round(r.normalized_mean), _round(r.stdev), "; ".join(r.flags),
            APPLICATION_STATUSES[outcome] if outcome in DECIDED else "",
            r.approved_cents,
        ))
    sheet.finish()

    criteria = list(program.criteria)
    averages = SheetWriter(workbook, "Criterion averages", [Column("Reference", TEXT, 16)] + [
        Column(f"{c.name} (of {c.max_points})", DECIMAL, 14) for c in criteria])
    means = {}
    for application_id, criterion_id, mean in db.session.execute(
        sa.select(ReviewAssignment.application_id, Score.criterion_id, sa.func.avg(Score.points))
        .join(Score, Score.assignment_id == ReviewAssignment.id)
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(Application.program_id == program.id, ReviewAssignment.is_submitted)
        .group_by(ReviewAssignment.application_id, Score.criterion_id)
    ):
        means[(application_id, criterion_id)] = float(mean) if mean is not None else None
    for r in rows:
        averages.append([r.reference] + [_round(means.get((r.application_id, c.id))) for c in criteria])
    averages.finish()

    per_reviewer, overall = calibration(program, hidden)
    calibration_sheet = SheetWriter(workbook, "Reviewer calibration", [
        Column("Reviewer", TEXT, 28), Column("Reviews", INTEGER, 10), Column("Mean", DECIMAL, 10), Column("Standard deviation", DECIMAL, 12)])
    for c in per_reviewer + ([overall] if overall else []):
        calibration_sheet.append((c.name if c.reviewer_id else "Program (all reviewers)", c.reviews, _round(c.mean), _round(c.stdev)))
    calibration_sheet.finish()
    notes = [
        ("Applications included", "Every application of the program except drafts, which are the applicant's private work until submitted."),
        ("Scores", "Normalized means, flags and the reviewer calibration cover applications under review or decided; "
                   "an application outside review shows the raw figures of any reviews submitted before it left."),
    ]
    if left_out:
        notes.append(("Left out", ngettext("%(num)d application on which %(who)s declared a conflict of interest.",
                                             "%(num)d applications on which %(who)s declared a conflict of interest.",
                                             left_out, who=generated_by)))
    _about_sheet(workbook, "Applications and scores", [("Program", program.name)], generated_by, [("Applications", len(rows))], notes=notes)
    workbook.save(target)
    return len(rows)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# 360Giving ----------------------------------------------------------------------------------------

GIVING_COLUMNS = [
    Column("Identifier", TEXT, 30), Column("Title", TEXT, 40), Column("Description", TEXT, 50), Column("Currency", TEXT, 9),
    Column("Amount Applied For", MONEY, 15), Column("Amount Awarded", MONEY, 15), Column("Amount Disbursed", MONEY, 15),
    Column("Award Date", DATE, 12), Column("Planned Dates:Start Date", DATE, 12), Column("Planned Dates:End Date", DATE, 12),
    Column("Recipient Org:Identifier", TEXT, 20), Column("Recipient Org:Name", TEXT, 36), Column("Beneficiary Location:Name", TEXT, 16),
    Column("Funding Org:Identifier", TEXT, 18), Column("Funding Org:Name", TEXT, 30), Column("Grant Programme:Code", TEXT, 12),
    Column("Grant Programme:Title", TEXT, 32), Column("Last modified", TEXT, 22),
]


def giving360_workbook(target, *, program: Program | None, progress: Progress | None = None) -> int:
    """The grants in the 360Giving Data Standard spreadsheet layout, for open publication. Refuses nothing."""
    prefix = current_app.config["ORG_ID_PREFIX"]
    agency = current_app.config["AGENCY_NAME"]
    workbook = Workbook(write_only=True)
    sheet = SheetWriter(workbook, "grants", GIVING_COLUMNS)
    money = award_money()
    stmt = (
        sa.select(Award.award_number, Award.created_at, Award.start_date, Award.end_date, Award.amount_cents,
                  Application.title, Application.summary, Application.requested_cents, Organization.ein, Organization.legal_name,
                  Organization.county, Program.code, Program.name, money.paid)
        .join(Application, Application.id == Award.application_id)
        .join(Organization, Organization.id == Application.organization_id)
        .join(Program, Program.id == Award.program_id)
        .outerjoin(money.subquery, money.subquery.c.award_id == Award.id)
        .order_by(Award.award_number)
    )
    if program is not None:
        stmt = stmt.where(Award.program_id == program.id)
    modified = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    count = 0
    ticker = _ProgressEvery(progress)
    for (number, created_at, start, end, amount, title, summary, requested, ein, recipient, county,
         code, program_name, disbursed) in _stream(stmt):
        sheet.append((
            f"{prefix}-{number}", title, summary, "USD", requested, amount, int(disbursed), to_local(created_at).date(),
            start, end, f"US-EIN-{ein.replace('-', '')}", recipient, county, prefix, agency, code, program_name, modified,
        ))
        count += 1
        ticker.row()
    ticker.flush()
    sheet.finish()
    workbook.save(target)
    return count


def export_filename(kind: str, *, program: Program | None = None, fiscal_year: int | None = None) -> str:
    """The download's file name: kind, program slug (or all-programs), fiscal year, today's date. Refuses nothing."""
    parts = [kind, program.slug if program else "all-programs"]
    if fiscal_year:
        parts.append(f"fy{fiscal_year}")
    parts.append(to_local(utcnow()).strftime("%Y-%m-%d"))
    return "-".join(parts) + ".xlsx"


