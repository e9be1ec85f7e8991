"""Words for people that depend on a number, in the shape of gettext's ``ngettext``.

``ngettext(singular, plural, n, **variables)`` picks the form for ``n`` and fills ``%(num)d`` (and any
other ``%(name)s`` given) the way Flask-Babel's ``ngettext`` does, so when translations arrive the
calls stay as they are and this function hands over to the catalogue.
"""

from __future__ import annotations


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    """``singular`` when ``n`` is 1, else ``plural``, formatted with ``num=n`` and ``variables``."""
    text = singular if n == 1 else plural
    return text % {"num": n, **variables}
