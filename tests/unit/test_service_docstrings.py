"""Every public service function of the reviews domain says what it refuses, and with which error."""

import inspect

import pytest

from grants.reviews import assignment, decisions, lifecycle, ranking, scoring

MODULES = (assignment, scoring, ranking, decisions, lifecycle)


def _public_functions():
    for module in MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and function.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", function


@pytest.mark.parametrize(("name", "function"), list(_public_functions()), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring_says_what_it_refuses(name, function):
    doc = inspect.getdoc(function) or ""
    assert "refuse" in doc.lower() or "raises" in doc.lower(), f"{name}: say what it refuses (or 'Refuses nothing')"
    if "refuses nothing" not in doc.lower():
        assert "DomainError" in doc or "NotPermitted" in doc, f"{name}: name the error it refuses with"
