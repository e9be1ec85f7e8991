"""Money is integer cents inside the system; these turn it into text and back at the edges."""

from __future__ import annotations

import re

# "$1,234.50", "1234.5", "1,234", " $ 12 " — commas only as thousands separators.
_MONEY = re.compile(r"^\$?\s*(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d{1,2}))?$")
MAX_CENTS = 10**13  # $100 billion: far above any grant, far below integer overflow


class MoneyError(ValueError):
    pass


def parse_money(text: str | None) -> int:
    """Parse a dollar amount typed by a person into cents; raise MoneyError with a message."""
    value = (text or "").strip()
    if not value:
        raise MoneyError("Enter an amount.")
    if len(value) > 30:
        raise MoneyError("That amount is too large.")
    if value.startswith("-") or value.startswith("$-") or value.startswith("("):
        raise MoneyError("Enter an amount that is zero or more.")
    match = _MONEY.match(value)
    if not match:
        raise MoneyError("Enter an amount in dollars, like 1,234.50.")
    whole = int(match["int"].replace(",", ""))
    cents = whole * 100 + int((match["frac"] or "0").ljust(2, "0"))
    if cents >= MAX_CENTS:
        raise MoneyError("That amount is too large.")
    return cents


def format_money(cents: int | None, *, symbol: bool = True) -> str:
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{'$' if symbol else ''}{whole:,}.{frac:02d}"


def money_input_value(cents: int | None) -> str:
    """The value to put back into a form field."""
    return "" if cents is None else format_money(cents, symbol=False)

