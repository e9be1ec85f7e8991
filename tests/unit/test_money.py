import pytest

from grants.money import MoneyError, format_money, parse_money


@pytest.mark.parametrize(
    "text, cents",
    [("$1,234.50", 123450), ("1234.5", 123450), ("1234", 123400), (" $ 12 ", 1200), ("0.07", 7), ("1,000,000", 100000000)],
)
def test_parse_money_accepts_what_people_type(text, cents):
    assert parse_money(text) == cents


@pytest.mark.parametrize("text", ["-5", "$-5", "(5.00)", "abc", "1.234", "12,34", "1e5", "", "  ", "1,2345", "$$5"])
def test_parse_money_rejects_negative_and_non_numeric(text):
    with pytest.raises(MoneyError):
        parse_money(text)


def test_parse_money_rejects_absurd_amounts():
    with pytest.raises(MoneyError, match="too large"):
        parse_money("999999999999999")


def test_format_money_round_trips():
    assert format_money(123450) == "$1,234.50"
    assert format_money(-5) == "-$0.05"
    assert parse_money(format_money(98765432)) == 98765432
