"""Every event a service notifies has a template in templates/email, and every template there is an
event some service notifies: the wording cannot drift from the code that sends it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "email"
# The functions that take an event name, and the position of that argument.
NOTIFYING = {"notify": 0, "notify_grantee": 1, "_notify_grantee": 1}


def event_literals(node: ast.expr) -> set[str]:
    """The names an event argument can take: a literal, either side of ``a if c else b``, the values of ``{…}[key]``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return event_literals(node.body) | event_literals(node.orelse)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict):
        return set().union(*(event_literals(value) for value in node.value.values))
    return set()


def notified_events() -> tuple[set[str], list[str]]:
    """The event names literally passed to a notifying call in grants/, and the calls whose name is not a literal."""
    events: set[str] = set()
    unreadable: list[str] = []
    for path in sorted((ROOT / "grants").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        # The event parameter of a notifying function defined here, which it passes on.
        forwarding = {node.args.args[NOTIFYING[node.name]].arg for node in ast.walk(tree)
                      if isinstance(node, ast.FunctionDef) and node.name in NOTIFYING and len(node.args.args) > NOTIFYING[node.name]}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name not in NOTIFYING or len(node.args) <= NOTIFYING[name]:
                continue
            argument = node.args[NOTIFYING[name]]
            if isinstance(argument, ast.Name) and argument.id in forwarding:
                continue  # notify_grantee passing its own ``event`` on
            names = event_literals(argument)
            if not names:
                unreadable.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            events |= names
    return events, unreadable


def test_every_notified_event_has_a_template_and_every_template_is_notified():
    events, unreadable = notified_events()
    templates = {path.stem for path in TEMPLATES.glob("*.txt")}
    assert not unreadable, f"name the event with a string literal so this test can check it: {unreadable}"
    assert len(events) >= 20  # the scan found the services' calls
    assert events - templates == set(), "events with no template in templates/email"
    assert templates - events == set(), "templates no service notifies"


def test_no_service_writes_a_message_itself():
    """Messages are queued only by notify(): no queue_message() with its own wording outside the notifications package."""
    callers = []
    for path in sorted((ROOT / "grants").rglob("*.py")):
        if path.parent.name == "notifications":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        callers += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) == "queue_message"]
    assert callers == []
