"""Hostile form values, and how to tell whether a request changed anything.

Everything a browser sends is text, so "wrong types" are text where a number, a date, an id or a
choice belongs. The strategies mix plausible values (so a payload reaches the services) with junk.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from hypothesis import strategies as st

from grants.extensions import db
from tests import factories

MISSING = object()  # leave the field out of the form


@dataclass(frozen=True)
class Upload:
    """A file to send in a multipart form; turned into a fresh stream for every request."""

    data: bytes
    name: str

    def as_form_value(self):
        return (io.BytesIO(self.data), self.name)


SPECIAL_TEXT = [
    "", " ", "\t", "\r\n", "\u202egnp.exe", "\u200f\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",  # RTL override, Hebrew, Arabic
    "👩‍🚒🚑🏳️‍🌈", "\U0001f4a9" * 50, "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334", "\x1b[31mred\x1b[0m", "\x07\x08\x0b\x0c\x7f",
    "\ufeffBOM", "\u2028line\u2029para", "'; DROP TABLE \"user\"; --", "\" OR 1=1 --", "<script>alert(1)</script>",
    "{{ 7*7 }}", "{% raw %}", "%s%s%n", "../../../etc/passwd", "C:\\Windows\\system32", "null", "None", "true", "[]", "{}",
    "\x00", "a\x00b", "𝟙𝟚𝟛", "ＡＢＣ", "İı", "ß", "\ud7ff",
]
NUMBERS = [
    "-1", "0", "-0", "1.5", "1e3", "1e309", "nan", "NaN", "inf", "-inf", "Infinity", "0x1F", "1_000", "٣", "١٢٣", "²", "¹²",
    "１２３", "99999999999999999999999999", "-99999999999999999999", "2147483648", "9223372036854775808", "1" * 5000,
]
MONEY = [
    "-5", "$-5", "(5)", "$ 1,234.56", "1,00", "1.999", "$1,000,000,000,000.00", "99999999999.99", "100000000000", "$", "$$5",
    "5$", "1 000", "1,2,3", "٣٣", "１２３", "0.001", "1e6", ".5", "5.", "−5", "€5", "5,000.00.00",
]
DATES = [
    "2027-02-30", "2027-02-29", "9999-12-31", "0001-01-01", "10000-01-01", "2027-13-01", "2027-00-10", "2027-1-1", "27/01/2027",
    "01/27/2027", "2027-01-01T25:00", "2027-03-14T02:30", "2027-11-07T01:30", "0000-00-00", "-2027-01-01", "2027-W01",
    "2027-01-01T00:00:00Z", "2027-01-01 12:00", "yesterday", "0001-01-01T00:00", "9999-12-31T23:59",
]
IDS = ["-1", "0", "1", "2", "2147483647", "2147483648", "9223372036854775808", "1.5", "abc", "²", "1 OR 1=1", "0x10"]


EDGES = [*NUMBERS, *MONEY, *DATES, *IDS]  # tried often: where parsing and arithmetic break


def huge_text() -> st.SearchStrategy[str]:
    """Far beyond every length limit, in one- to four-byte characters (at most ~400 KB a field)."""
    return st.tuples(st.sampled_from(["x", "é", "€", "🚑", "\u202e"]), st.integers(300, 100_000)).map(lambda t: t[0] * t[1])


def junk() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.sampled_from(SPECIAL_TEXT),
        st.sampled_from(NUMBERS),
        st.sampled_from(MONEY),
        st.sampled_from(DATES),
        st.sampled_from(IDS),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        huge_text(),
    )


HOSTILE_FILES = [
    Upload(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "letter.pdf"),        # a Windows executable, renamed
    Upload(b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "letter.docx"),                      # a Linux executable, renamed
    Upload(b"%PDF-1.4\nMZ\x90\x00" + b"\x00" * 100, "polyglot.pdf"),                     # PDF header glued onto a program
    Upload(b"<html><script>alert(1)</script>" + factories.PDF_BYTES, "page.pdf"),         # HTML with a PDF inside
    Upload(b"", "empty.pdf"),
    Upload(factories.PDF_BYTES, "../../x.pdf"),
    Upload(factories.PDF_BYTES, "..\\..\\x.pdf"),
    Upload(factories.PDF_BYTES, "\u202efdp.exe"),
    Upload(factories.PDF_BYTES, ""),
    Upload(factories.PNG_BYTES, "a" * 600 + ".png"),
]


def file_value() -> st.SearchStrategy:
    return st.one_of(st.sampled_from(HOSTILE_FILES), junk())


def extra_field_names() -> st.SearchStrategy[str]:
    alphabet = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\')
    return st.text(alphabet=alphabet, min_size=1, max_size=20)


def payloads(base: dict, *, file_fields: tuple[str, ...] = (), extra_names=None) -> st.SearchStrategy[dict]:
    """A valid ``base`` form with up to four fields replaced by junk, left out or repeated, plus extra fields.

    File fields get hostile files or text; text fields get text (a file sent in a text field is a
    separate, known defect: see test_a_file_sent_in_a_text_field_is_refused_not_a_500).
    """
    names = list(base)

    def replacement(name: str) -> st.SearchStrategy:
        value = file_value() if name in file_fields else junk()
        return st.one_of(st.just(MISSING), value, st.lists(value, min_size=2, max_size=3), st.sampled_from(EDGES))

    changes = st.lists(st.sampled_from(names), unique=True, max_size=4).flatmap(
        lambda keys: st.fixed_dictionaries({key: replacement(key) for key in keys}))
    extras = st.dictionaries(extra_names if extra_names is not None else extra_field_names(), junk(), max_size=3)

    def build(changed, more):
        data = {**base, **changed}
        for key, new in more.items():
            data.setdefault(key, new)
        return {key: val for key, val in data.items() if val is not MISSING}

    return st.builds(build, changes, extras)


def form_data(payload: dict) -> dict:
    """What the test client sends: uploads as fresh streams, repeated values as lists."""
    def convert(value):
        if isinstance(value, Upload):
            return value.as_form_value()
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {key: convert(value) for key, value in payload.items()}


# What changed --------------------------------------------------------------------------------


def database_state() -> dict[str, list[tuple]]:
    """Every row of every table, and the files in the upload folder."""
    state = {}
    for table in db.metadata.sorted_tables:
        state[table.name] = [tuple(row) for row in db.session.execute(sa.select(table).order_by(*table.primary_key.columns))]
    folder = current_app.config["UPLOAD_FOLDER"]
    state["<upload folder>"] = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    db.session.commit()  # end the read, so the next request's changes are visible afterwards
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


MESSAGE_MARKERS = (
    b"usa-error-message",      # beside a field
    b"data-error-summary",     # the summary at the top of a form
    b"usa-alert--error",       # a flashed refusal
    b"usa-alert--warning",
    b"Error code: 400",        # the friendly bad-request page (NUL characters, an expired form)
    b"Error code: 413",        # the friendly too-large page
)


def shows_a_message(body: bytes) -> bool:
    return any(marker in body for marker in MESSAGE_MARKERS)
