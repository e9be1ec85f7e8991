"""Streaming worksheets for finance: typed columns, text that can never become a formula.

Each column has a kind. Plain values go to openpyxl as they are; money, decimals and text that
openpyxl would read as a formula go through one reusable styled cell per column. openpyxl's
write-only mode serialises a row as soon as it is appended, so memory stays flat however many
rows there are (bench/export.py measures both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

MONEY_FORMAT = '"$"#,##0.00;[Red]-"$"#,##0.00'
DATE_FORMAT = "yyyy-mm-dd"
NUMBER_FORMAT = "0.0"
TEXT, MONEY, DATE, INTEGER, DECIMAL, FORMULA = "text", "money", "date", "integer", "decimal", "formula"
VALUE = "value"  # a number stays a number, anything else is text (the About sheet's values)

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1A4480")  # USWDS primary-dark


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT
    width: float = 16


class SheetWriter:
    """Write one sheet: header row, frozen panes, autofilter, widths, typed cells."""

    def __init__(self, workbook, title: str, columns: list[Column], *, freeze: bool = True):
        self.sheet = workbook.create_sheet(title)
        self.columns = columns
        self.rows = 0
        for index, column in enumerate(columns, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = column.width
        if freeze:
            self.sheet.freeze_panes = "A2"
        header = []
        for column in columns:
            cell = WriteOnlyCell(self.sheet)
            write_text(cell, column.header)  # headers can carry user text (rubric criterion names)
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            header.append(cell)
        self.sheet.append(header)
        self._cells = [self._template(column) for column in columns]

    def _template(self, column: Column) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.sheet, value=None)
        if column.kind == MONEY:
            cell.number_format = MONEY_FORMAT
        elif column.kind == DATE:
            cell.number_format = DATE_FORMAT
        elif column.kind == DECIMAL:
            cell.number_format = NUMBER_FORMAT
        return cell

    def append(self, values) -> None:
        # Only values that need a style or a forced type go through a cell: openpyxl handles an
        # appended cell several times slower than a plain value (it first tries the cell as a value
        # and formats an error message), which made the ledger half again slower than a plain dump.
        row: list[object] = []
        for cell, column, value in zip(self._cells, self.columns, values, strict=False):
            if value is None or value == "":
                row.append(None)
            elif column.kind == VALUE and isinstance(value, (int, float)) and not isinstance(value, bool):
                row.append(value)
            elif column.kind in (TEXT, VALUE):
                text = sheet_text(value)
                if not text:
                    row.append(None)
                elif text[:1] == "=" or text in ERROR_CODES:  # openpyxl would write a formula or an error
                    write_text(cell, text)
                    row.append(cell)
                else:
                    row.append(text)
            elif column.kind == MONEY:
                # Integer cents → dollars, exact for any realistic amount. The cell is numeric from
                # birth (data_type "n"), so the value goes in without openpyxl's type sniffing, which
                # was a tenth of the export's time.
                cell._value = value / 100
                row.append(cell)
            elif column.kind == DATE:
                row.append(as_date(value))  # openpyxl gives a date the same yyyy-mm-dd format
            elif column.kind == DECIMAL:
                cell._value = float(value)  # numeric from birth, as above
                row.append(cell)
            else:
                row.append(value)
        self.sheet.append(row)
        self.rows += 1

    def finish(self) -> None:
        if self.rows:
            last = get_column_letter(len(self.columns))
            self.sheet.auto_filter.ref = f"A1:{last}{self.rows + 1}"


def sheet_text(value) -> str:
    """``value`` as text a workbook can hold: control characters XML 1.0 forbids are taken out.

    openpyxl refuses them (IllegalCharacterError), so one organization named with a vertical tab
    would fail every export. A vertical tab or form feed becomes a space (they separate words);
    the others (escape, NUL, ...) are dropped. Tab, newline and carriage return are legal and kept.
    """
    text = str(value)
    if ILLEGAL_CHARACTERS_RE.search(text) is None:
        return text
    return ILLEGAL_CHARACTERS_RE.sub(lambda match: " " if match.group() in "\x0b\x0c" else "", text)


def write_text(cell, value) -> None:
    """Put text in a cell as text, whatever it begins with (never as a formula)."""
    cell.value = sheet_text(value)
    # openpyxl reads a leading "=" as a formula (and "#N/A" as an error): force a string cell.
    cell.data_type = "s"


def as_date(value) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value
