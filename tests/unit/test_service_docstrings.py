"""Every public service and lifecycle function says what it refuses, and with which error (issue 14)."""

import inspect

import pytest

from grants import submissions
from grants.accounts import services as account_services
from grants.applications import lifecycle as application_lifecycle
from grants.applications import services as application_services
from grants.audit import services as audit_services
from grants.awards import figures as award_figures
from grants.awards import lifecycle as award_lifecycle
from grants.awards import services as award_services
from grants.dashboard import services as dashboard_services
from grants.exports import services as export_services
from grants.notifications import emails as notification_emails
from grants.notifications import services as notification_services
from grants.programs import budget as program_budget
from grants.programs import lifecycle as program_lifecycle
from grants.programs import services as program_services
from grants.reviews import assignment, decisions, lifecycle, ranking, scoring
from grants.reviews import figures as review_figures

MODULES = (
    account_services,
    application_services,
    application_lifecycle,
    program_services,
    program_lifecycle,
    program_budget,
    award_services,
    award_lifecycle,
    award_figures,
    assignment,
    scoring,
    ranking,
    decisions,
    lifecycle,
    review_figures,
    audit_services,
    notification_services,
    notification_emails,
    dashboard_services,
    export_services,
    submissions,
)


def _public_functions():
    for module in MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and function.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", function


@pytest.mark.parametrize(("name", "function"), list(_public_functions()), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring_says_what_it_refuses(name, function):
    doc = " ".join((inspect.getdoc(function) or "").split())  # a phrase may wrap across lines
    assert "refuse" in doc.lower() or "raises" in doc.lower(), f"{name}: say what it refuses (or 'Refuses nothing')"
    if "refuses nothing" not in doc.lower():
        assert "DomainError" in doc or "NotPermitted" in doc, f"{name}: name the error it refuses with"
