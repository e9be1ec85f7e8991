"""Funding rounds and their rubrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from grants.accounts.models import User
from grants.audit.services import changes_between, record_event
from grants.db import lock_row, utcnow
from grants.errors import DomainError
from grants.extensions import db
from grants.money import format_money
from grants.programs import budget, lifecycle
from grants.programs.models import PARTNER_TYPES, Criterion, Program

PROGRAM_FIELDS = (
    "name", "slug", "code", "description", "fiscal_year", "funding_source_code", "total_budget_cents",
    "award_floor_cents", "award_ceiling_cents", "match_percent", "opens_at", "closes_at",
    "eligible_partner_types", "reviewers_per_application", "score_spread_threshold", "review_deadline",
    "share_reviewer_comments",
)


def _snapshot(program: Program) -> dict[str, Any]:
    return {field: getattr(program, field) for field in PROGRAM_FIELDS}


def _check_program(fields: dict[str, Any], program: Program | None = None) -> None:
    if fields["award_floor_cents"] > fields["award_ceiling_cents"]:
        raise DomainError("The award floor cannot be above the ceiling.", "award_floor_cents")
    if fields["award_ceiling_cents"] > fields["total_budget_cents"]:
        raise DomainError("The award ceiling cannot be above the total budget.", "award_ceiling_cents")
    if fields["closes_at"] <= fields["opens_at"]:
        raise DomainError("The closing time must be after the opening time.", "closes_at")
    if not fields["eligible_partner_types"]:
        raise DomainError("Choose at least one eligible partner type.", "eligible_partner_types")
    unknown = set(fields["eligible_partner_types"]) - set(PARTNER_TYPES)
    if unknown:
        raise DomainError("Unknown partner type.", "eligible_partner_types")
    for field in ("slug", "code"):
        clash = db.session.scalar(sa.select(Program.id).where(getattr(Program, field) == fields[field]))
        if clash is not None and (program is None or clash != program.id):
            raise DomainError(f"Another program already uses this {field}.", field)


def create_program(*, actor: User, fields: dict[str, Any]) -> Program:
    """Create a draft program. Raises DomainError naming the field at fault."""
    _check_program(fields)
    program = Program()
    for field in PROGRAM_FIELDS:
        setattr(program, field, fields[field])
    _flush_unique(lambda: db.session.add(program))
    record_event(actor, "program.created", program, _snapshot(program))
    return program


def _flush_unique(change) -> None:
    """Apply ``change`` in a savepoint; a slug or code taken by a concurrent save becomes a field error."""
    try:
        with db.session.begin_nested():
            change()
            db.session.flush()
    except IntegrityError as error:
        field = "code" if "code" in str(error.orig).lower() else "slug"
        raise DomainError(f"Another program already uses this {field}.", field) from error


def update_program(*, actor: User, program: Program, fields: dict[str, Any]) -> None:
    """Change a program's settings. The row is locked: the budget can never drop below what the
    program has already awarded or approved, and the code and fiscal year, which number its
    applications and awards, are fixed once it has applications.

    Refuses with DomainError, on the field at fault: a floor above the ceiling, a ceiling above the
    budget, a closing time not after the opening, no or unknown partner types, a slug or code another
    program uses, a budget below the commitments (``total_budget_cents``), and a new code or fiscal
    year once there are applications. It does not check the actor.
    """
    _check_program(fields, program)
    program = lock_row(Program, program.id)
    committed = budget.committed_cents(program.id)
    if fields["total_budget_cents"] < committed:
        raise DomainError(
            f"The program has already awarded or approved {format_money(committed)}; "
            "the budget cannot be less than that.", "total_budget_cents")
    if program.last_application_number and (fields["code"], fields["fiscal_year"]) != (program.code, program.fiscal_year):
        field = "code" if fields["code"] != program.code else "fiscal_year"
        raise DomainError("Applications are numbered with this program's code and fiscal year; they cannot change now.", field)
    before = _snapshot(program)

    def apply() -> None:
        for field in PROGRAM_FIELDS:
            setattr(program, field, fields[field])

    _flush_unique(apply)
    changes = changes_between(before, _snapshot(program))
    if changes:
        record_event(actor, "program.updated", program, changes)
    db.session.flush()


def change_program_status(*, actor: User, program: Program, status: str) -> None:
    """Move a program along draft → published → closed → archived (or back one step).

    Refuses, with DomainError and nothing changed, a move ``lifecycle.TRANSITIONS`` does not allow
    ("An archived program cannot be published again.") and publishing without rubric criteria.
    """
    lifecycle.transition(program, status, actor=actor)


def open_programs(now: datetime | None = None) -> Sequence[Program]:
    """Published programs open for applications at ``now``, closing soonest first. Refuses nothing."""
    now = now or utcnow()
    return db.session.scalars(
        sa.select(Program)
        .where(Program.is_published, Program.opens_at <= now, Program.closes_at > now)
        .order_by(Program.closes_at, Program.id)
    ).all()


# Rubric ---------------------------------------------------------------------------------------


def _check_rubric_editable(program: Program) -> None:
    if program.rubric_frozen_at is not None:
        raise DomainError(
            "The rubric is frozen because reviews of this program have been submitted; "
            "changing it now would make scores incomparable."
        )


def _lock_rubric(program_id: int) -> Program:
    """Lock the program, read its rubric afresh and refuse a frozen one (DomainError).

    Saving and submitting a review lock the same row (reviews.services), so an edit either lands
    before a first submission, which then totals against it, or waits for it and is refused.
    """
    program = lock_row(Program, program_id)
    db.session.scalars(sa.select(Criterion).where(Criterion.program_id == program_id)
                       .execution_options(populate_existing=True)).all()
    db.session.expire(program, ["criteria"])
    _check_rubric_editable(program)
    return program


def _locked_criterion(criterion: Criterion) -> tuple[Program, Criterion]:
    program = _lock_rubric(criterion.program_id)
    if criterion not in program.criteria:  # removed by another officer meanwhile
        raise DomainError(f"“{criterion.name}” has been removed from the rubric meanwhile.")
    return program, criterion


def add_criterion(*, actor: User, program: Program, name: str, guidance: str, max_points: int, weight: int) -> Criterion:
    """Append a criterion to the rubric. Raises DomainError once the rubric is frozen."""
    program = _lock_rubric(program.id)
    position = max((c.position for c in program.criteria), default=0) + 1
    criterion = Criterion(name=name, guidance=guidance, max_points=max_points, weight=weight, position=position)
    program.criteria.append(criterion)
    db.session.flush()
    record_event(actor, "rubric.criterion_added", program, {"criterion": criterion.id, "name": name, "max_points": max_points, "weight": weight})
    return criterion


def update_criterion(*, actor: User, criterion: Criterion, name: str, guidance: str, max_points: int, weight: int) -> None:
    """Change a criterion. Raises DomainError once the rubric is frozen or the criterion is gone."""
    program, criterion = _locked_criterion(criterion)
    before = {"name": criterion.name, "guidance": criterion.guidance, "max_points": criterion.max_points, "weight": criterion.weight}
    criterion.name, criterion.guidance, criterion.max_points, criterion.weight = name, guidance, max_points, weight
    changes = changes_between(before, {"name": name, "guidance": guidance, "max_points": max_points, "weight": weight})
    if changes:
        record_event(actor, "rubric.criterion_updated", program, {"criterion": criterion.id, **changes})
    db.session.flush()


def remove_criterion(*, actor: User, criterion: Criterion) -> None:
    """Remove a criterion (and any draft scores of it). Raises DomainError once the rubric is frozen."""
    program, criterion = _locked_criterion(criterion)
    if program.needs_a_criterion and len(program.criteria) == 1:
        raise DomainError("A published program needs at least one rubric criterion; add another before removing this one.")
    program.criteria.remove(criterion)
    record_event(actor, "rubric.criterion_removed", program, {"criterion": criterion.id, "name": criterion.name})
    _renumber(program)


def move_criterion(*, actor: User, criterion: Criterion, direction: int) -> None:
    """Swap a criterion with its neighbour (direction -1 = up, +1 = down).

    Refuses with DomainError (no field) a frozen rubric and a criterion removed meanwhile; a move past
    either end changes nothing.
    """
    program, criterion = _locked_criterion(criterion)
    ordered = list(program.criteria)
    index = ordered.index(criterion)
    other = index + direction
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered, start=1):
        item.position = position
    record_event(actor, "rubric.criterion_moved", program, {"criterion": criterion.id, "position": other + 1})
    db.session.flush()
    db.session.expire(program, ["criteria"])


def _renumber(program: Program) -> None:
    for position, item in enumerate(program.criteria, start=1):
        item.position = position
    db.session.flush()
