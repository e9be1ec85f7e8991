"""Cells from users are text whatever they begin with; money and dates keep their types."""

import io
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook

from grants.exports.sheets import DATE, MONEY, TEXT, Column, SheetWriter

TRIGGERS = ["=SUM(A1:A9)", '=HYPERLINK("http://example.com","x")', "+15551234", "-2+3", "@cmd", "\tleading tab", "\rleading return", "#N/A"]


def _round_trip(rows):
    workbook = Workbook(write_only=True)
    sheet = SheetWriter(workbook, "Test", [Column("Text", TEXT), Column("Amount", MONEY), Column("Day", DATE)])
    for row in rows:
        sheet.append(row)
    sheet.finish()
    buffer = io.BytesIO()
    workbook.save(buffer)
    return load_workbook(io.BytesIO(buffer.getvalue()))["Test"]


@pytest.mark.parametrize("text", TRIGGERS)
def test_text_that_could_be_a_formula_is_written_as_text(text):
    sheet = _round_trip([(text, 1, date(2027, 1, 2))])
    cell = sheet["A2"]
    assert cell.data_type == "s"
    assert cell.value.replace("\r\n", "\r").replace("\n", "\r") == text.replace("\n", "\r") or cell.value == text


def test_money_is_a_number_in_dollars_with_a_currency_format_and_dates_are_dates():
    sheet = _round_trip([("x", 123456789, date(2027, 3, 31)), ("y", 7, None)])
    assert sheet["B2"].value == 1234567.89 and sheet["B2"].data_type == "n" and "$" in sheet["B2"].number_format
    assert round(sheet["B3"].value * 100) == 7
    assert sheet["C2"].is_date and sheet["C2"].value.date() == date(2027, 3, 31)
    assert sheet["C3"].value is None
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:C3"


def test_control_characters_that_xml_forbids_are_taken_out_and_tabs_and_newlines_kept():
    forbidden = "".join(chr(code) for code in range(32) if chr(code) not in "\t\n\r")
    workbook = Workbook(write_only=True)
    sheet = SheetWriter(workbook, "Test", [Column("Crit\x1berion", TEXT), Column("Other", TEXT)])
    sheet.append(("Lakeside\x0bCrisis\x0cResponse", "V\x1b1"))
    sheet.append((f"={forbidden}1+1", forbidden))
    sheet.append(("a\tb\nc", None))
    sheet.finish()
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = load_workbook(io.BytesIO(buffer.getvalue()))["Test"]
    assert result["A1"].value == "Criterion"
    assert (result["A2"].value, result["B2"].value) == ("Lakeside Crisis Response", "V1")
    assert result["A3"].value == "=  1+1" and result["A3"].data_type == "s"  # still text, never a formula
    assert result["B3"].value == "  "  # only the vertical tab and form feed survive, as spaces
    assert result["A4"].value == "a\tb\nc"
