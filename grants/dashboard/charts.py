"""Chart specifications: the figures of one chart and of the table printed under it.

A spec is plain JSON. The template macro ``chart_figure`` (templates/dashboard/_charts.html) writes it
into a ``<script type="application/json">`` block beside a ``<canvas data-chart>``, which
static/js/charts.js draws with Chart.js, and prints the same numbers as a table. Money stays in cents
here (the table formats it; the script divides by 100), so the chart and the table cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from grants.awards.figures import AwardFigures, ProgramFigures
from grants.dashboard.services import (
    AmountsRow,
    ReportsDue,
    ReviewerProgramLoad,
    ReviewProgress,
    StatusCount,
)

MONEY, COUNT, SCORE = "money", "count", "score"


def dataset(label: str, data: Sequence, *, kind: str = "bar", value_format: str | None = None, table_only: bool = False) -> dict:
    """One series. ``kind``: bar, range (floating [low, high] bars), point (markers only) or reference (a dashed line).

    ``table_only`` columns are printed in the table but not drawn (e.g. a count beside amounts).
    """
    return {"label": label, "data": list(data), "kind": kind, "format": value_format, "table_only": table_only}


def chart(
    *, chart_id: str, title: str, labels: Sequence[str], datasets: list[dict], category_title: str, value_title: str,
    value_format: str = COUNT, horizontal: bool = False, stacked: bool = False, color_by_label: bool = False,
    links: Sequence[str | None] | None = None, footer: dict | None = None, note: str = "",
) -> dict:
    """A bar chart (the only kind the dashboards need) and its table.

    ``category_title`` names the categories' axis and the table's first column; ``value_title`` the values'
    axis. ``links`` (one per label) make the table's row headers links; ``footer`` is a totals row
    ``{"label": ..., "values": [...]}`` and ``note`` a sentence printed under the table.
    """
    return {
        "id": chart_id, "title": title, "labels": list(labels), "datasets": datasets,
        "category_title": category_title, "value_title": value_title, "format": value_format,
        "horizontal": horizontal, "stacked": stacked, "color_by_label": color_by_label,
        "links": list(links) if links else None, "footer": footer, "note": note,
    }


# Program dashboards -----------------------------------------------------------------------------


def pipeline_chart(rows: list[StatusCount], *, chart_id: str = "pipeline-chart") -> dict:
    return chart(
        chart_id=chart_id, title="Applications by status", labels=[r.label for r in rows],
        datasets=[dataset("Applications", [r.count for r in rows])],
        category_title="Status", value_title="Applications",
        footer={"label": "Total", "values": [sum(r.count for r in rows)]},
    )


def amounts_chart(rows: list[AmountsRow], *, chart_id: str, title: str, category_title: str, note: str = "", footer: bool = True) -> dict:
    values = [[r.applications for r in rows], [r.requested_cents for r in rows], [r.awards for r in rows], [r.awarded_cents for r in rows]]
    return chart(
        chart_id=chart_id, title=title, labels=[r.label or "Not given" for r in rows],
        datasets=[
            dataset("Applications", values[0], value_format=COUNT, table_only=True),
            dataset("Requested", values[1]),
            dataset("Awards", values[2], value_format=COUNT, table_only=True),
            dataset("Awarded", values[3]),
        ],
        category_title=category_title, value_title="Dollars", value_format=MONEY,
        footer={"label": "Total", "values": [sum(v) for v in values]} if footer else None, note=note,
    )


def review_chart(progress: ReviewProgress, *, chart_id: str = "review-chart") -> dict:
    labels = ["Submitted", "In progress", "Not started", "Recused"]
    return chart(
        chart_id=chart_id, title="Review assignments by status", labels=labels,
        datasets=[dataset("Assignments", [progress.submitted, progress.in_progress, progress.not_started, progress.recused])],
        category_title="Status", value_title="Assignments", color_by_label=True,
        note="Not started includes assignments waiting for the reviewer's conflict-of-interest declaration. "
             "Recused assignments do not count as assigned.",
    )


def budget_chart(figures: ProgramFigures, *, chart_id: str = "budget-chart") -> dict:
    labels = ["Total budget", "Awarded", "Approved, not yet awarded", "Disbursed (paid)", "Pending approval or payment", "Remaining"]
    values = [figures.budget_cents, figures.awarded_cents, figures.approved_not_awarded_cents, figures.paid_cents,
              figures.pending_cents, figures.remaining_cents]
    return chart(
        chart_id=chart_id, title="Budget", labels=labels, datasets=[dataset("Amount", values)],
        category_title="Figure", value_title="Dollars", value_format=MONEY, horizontal=True, color_by_label=True,
        note="Awarded is the awards' current amounts, after amendments and closeouts. Remaining is the budget neither "
             "awarded nor approved for an award: what new awards can still use.",
    )


def programs_budget_chart(rows: list[ProgramFigures], *, chart_id: str, links: list[str] | None = None) -> dict:
    return chart(
        chart_id=chart_id, title="Budget, awarded, disbursed and remaining by program",
        labels=[f"{r.name} (FY {r.fiscal_year})" for r in rows],
        datasets=[
            dataset("Budget", [r.budget_cents for r in rows]),
            dataset("Awarded", [r.awarded_cents for r in rows]),
            dataset("Approved, not yet awarded", [r.approved_not_awarded_cents for r in rows], table_only=True),
            dataset("Disbursed (paid)", [r.paid_cents for r in rows]),
            dataset("Pending approval or payment", [r.pending_cents for r in rows], table_only=True),
            dataset("Remaining", [r.remaining_cents for r in rows]),
        ],
        category_title="Program", value_title="Dollars", value_format=MONEY, horizontal=True, links=links,
        footer={"label": "Total", "values": [
            sum(r.budget_cents for r in rows), sum(r.awarded_cents for r in rows), sum(r.approved_not_awarded_cents for r in rows),
            sum(r.paid_cents for r in rows), sum(r.pending_cents for r in rows), sum(r.remaining_cents for r in rows),
        ]} if rows else None,
        note="The same figures as the finance summary and the award ledger.",
    )


def reports_chart(due: ReportsDue, *, chart_id: str = "reports-chart") -> dict:
    return chart(
        chart_id=chart_id, title="Progress reports due", labels=["Overdue", "Due in the next 7 days", "Due in 8 to 30 days"],
        datasets=[dataset("Reports", [due.overdue, due.due_this_week, due.due_later])],
        category_title="When", value_title="Reports", color_by_label=True,
        note="Reports of open awards not yet submitted, or returned for revision.",
    )


# Home pages -------------------------------------------------------------------------------------


def reviewer_chart(rows: list[ReviewerProgramLoad], *, chart_id: str = "my-reviews-chart") -> dict:
    return chart(
        chart_id=chart_id, title="My review assignments by program", labels=[r.program for r in rows],
        datasets=[
            dataset("To do", [r.to_do for r in rows]),
            dataset("In progress", [r.in_progress for r in rows]),
            dataset("Done", [r.done for r in rows]),
        ],
        category_title="Program", value_title="Assignments", horizontal=True, stacked=True,
        footer={"label": "Total", "values": [sum(r.to_do for r in rows), sum(r.in_progress for r in rows), sum(r.done for r in rows)]},
        note="Done includes assignments you were recused from after declaring a conflict.",
    )


def grantee_awards_chart(awards, figures: dict[int, AwardFigures], *, chart_id: str = "my-awards-chart") -> dict:
    rows = [figures[a.id] for a in awards]
    return chart(
        chart_id=chart_id, title="Your awards: paid, pending and left to request", labels=[a.award_number for a in awards],
        datasets=[
            dataset("Paid", [f.paid_cents for f in rows]),
            dataset("Pending approval or payment", [f.pending_cents for f in rows]),
            dataset("Left to request", [f.remaining_cents for f in rows]),
        ],
        category_title="Award", value_title="Dollars", value_format=MONEY, horizontal=True, stacked=True,
    )


# Review calibration -----------------------------------------------------------------------------


def calibration_chart(per_reviewer, overall, *, chart_id: str = "calibration-chart") -> dict:
    """Each reviewer's mean with one standard deviation either side, beside the program's mean.

    Takes grants.reviews.services.calibration's result; the page prints its own table.
    """
    rows = list(per_reviewer) + ([overall] if overall else [])
    labels = [r.name for r in per_reviewer] + (["Program (all reviewers)"] if overall else [])
    datasets = [
        dataset("Mean ± 1 standard deviation", [[round(r.mean - r.stdev, 2), round(r.mean + r.stdev, 2)] for r in rows],
                kind="range"),
        dataset("Mean", [round(r.mean, 2) for r in rows], kind="point"),
    ]
    if overall:
        datasets.append(dataset("Program mean", [round(overall.mean, 2)] * len(rows), kind="reference"))
    return chart(
        chart_id=chart_id, title="Reviewer calibration: mean and spread of submitted totals", labels=labels, datasets=datasets,
        category_title="Reviewer", value_title="Review total (0–100)", value_format=SCORE,
    )
