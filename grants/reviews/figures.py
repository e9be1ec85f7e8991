"""Review statistics, each written once: how many reviews, their mean, standard deviation, lowest,
highest and median total.

The ranking page, the review assignments page (reviewer calibration) and the applications and
scores workbook all take their statistics from these, so they cannot disagree. The SQL parts are
aggregate columns to put in a grouped query (the ranking's one grouped window query among them);
the standard deviation is finished from the mean and the mean of the squares in Python, one call
per row.
"""

from __future__ import annotations

import math

import sqlalchemy as sa


def score_statistics(x) -> tuple:
    """The aggregate columns over a score column ``x``, for a grouped query: ``n`` (reviews),
    ``mean``, ``sq`` (the mean of the squares, for the standard deviation), ``lo`` and ``hi``.
    Refuses nothing.
    """
    return (
        sa.func.count().label("n"),
        sa.func.avg(x).label("mean"),
        sa.func.avg(x * x).label("sq"),
        sa.func.min(x).label("lo"),
        sa.func.max(x).label("hi"),
    )


def median_term(x, position, count):
    """Averaged over a group, the median of ``x``: the middle value, or the mean of the two middle
    ones. ``position`` is x's row number in the group ordered by x (from 1), ``count`` the group's
    size (both window functions); avg skips the NULLs of every other row. Refuses nothing.
    """
    return sa.case((sa.or_(position == (count + 1) // 2, position == (count + 2) // 2), x), else_=None)


def standard_deviation(mean, mean_square) -> float | None:
    """The population standard deviation from the mean and the mean of the squares (None without
    reviews); never negative, though rounding can make the difference of the two a hair below 0.
    Refuses nothing.
    """
    if mean is None:
        return None
    mean = float(mean)
    return math.sqrt(max(float(mean_square) - mean * mean, 0.0))
