"""The reviews domain's services, by sub-area (this module re-exports their public names, so
``from grants.reviews import services`` keeps working):

- ``grants.reviews.assignment``: affiliations, assigning, auto-assigning, removing, replacing;
- ``grants.reviews.scoring``: the conflict declaration, saving, submitting and reopening reviews;
- ``grants.reviews.ranking``: ranking, reviewer calibration and the funding line (read only);
- ``grants.reviews.decisions``: deciding one application or the funding line, and what the applicant reads.

The review assignment's statuses and their moves are in ``grants.reviews.lifecycle``; review
statistics in ``grants.reviews.figures``; the budget rule in ``grants.programs.budget``.
"""

from __future__ import annotations

from grants.reviews.assignment import (  # noqa: F401 - re-exported
    AssignResult,
    AutoAssignResult,
    assign_reviewer,
    assign_reviewers,
    auto_assign,
    remove_assignment,
    replace_assignment,
    replacement_reviewers,
    reviewer_is_affiliated,
    reviewers,
    set_affiliations,
)
from grants.reviews.decisions import (  # noqa: F401 - re-exported
    STATUS_AFTER,
    LineApproval,
    approve_above_line,
    current_decision,
    decide,
    shared_comments,
)
from grants.reviews.ranking import (  # noqa: F401 - re-exported
    DECIDABLE,
    DO_NOT_FUND_AT_OR_ABOVE,
    FUND_BELOW,
    FUNDED_BY_RANK,
    FUNDED_BY_RESERVE,
    MIN_REVIEWS_TO_NORMALIZE,
    FundingLine,
    FundingRow,
    RankedApplication,
    ReviewerCalibration,
    calibration,
    funding_line,
    hidden_from_ranking,
    ranking,
    ranking_page,
    standing_flags,
)
from grants.reviews.scoring import (  # noqa: F401 - re-exported
    ALREADY_DECLARED,
    declare_conflict,
    reopen_review,
    review_total,
    save_review,
    submit_review,
)
