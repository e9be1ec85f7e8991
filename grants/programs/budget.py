"""The budget rule: a program never promises more than its budget.

What a program has promised (its commitments: every award's current amount, plus approvals not yet
awarded) is counted by the awards domain, which is built on programs and so cannot be imported from
here: ``grants.awards.figures`` hands its ``committed_cents`` to this module when it is loaded
(``counts_commitments``). Every domain that checks the budget (programs, reviews, awards) imports
this module and asks it, holding the program's row lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

from grants.errors import DomainError
from grants.money import format_money

if TYPE_CHECKING:
    from grants.programs.models import Program


class _Commitments(Protocol):
    def __call__(self, program_id: int, *, excluding_application_id: int | None = None) -> int: ...


_commitments: _Commitments | None = None
_Count = TypeVar("_Count", bound=_Commitments)


def counts_commitments(function: _Count) -> _Count:
    """Register the function that counts a program's commitments (``grants.awards.figures``). Refuses nothing."""
    global _commitments
    _commitments = function
    return function


def committed_cents(program_id: int, *, excluding_application_id: int | None = None) -> int:
    """Money the program has promised: every award's current amount, plus approvals not yet awarded
    (less ``excluding_application_id``'s, the approval being turned into an award).
    Refuses nothing; raises RuntimeError only when no count is registered (a wiring fault).
    """
    if _commitments is None:
        raise RuntimeError("No commitments count registered: import grants.awards.figures (create_app does).")
    return _commitments(program_id, excluding_application_id=excluding_application_id)


def remaining_cents(program: Program) -> int:
    """What the program can still promise. Refuses nothing."""
    return program.total_budget_cents - committed_cents(program.id)


def refuse_over_budget(program: Program, adding: int, what: str, field: str = "amount", *,
                       excluding_application_id: int | None = None) -> None:
    """DomainError (on ``field``, with the figures) when promising ``adding`` more would take the
    program's commitments over its budget. The caller holds the program's row lock. Refuses
    nothing else.
    """
    committed = committed_cents(program.id, excluding_application_id=excluding_application_id)
    if committed + adding > program.total_budget_cents:
        raise DomainError(
            f"{what} would take the program's commitments to {format_money(committed + adding)}, over its budget of "
            f"{format_money(program.total_budget_cents)}: only {format_money(program.total_budget_cents - committed)} remains.",
            field,
        )
