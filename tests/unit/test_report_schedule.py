"""The quarterly report schedule: the last period reaches the award's end and is the final report,
never a stub of a few days."""

from datetime import date

from grants.awards.services import report_periods


def test_a_year_and_a_day_gets_four_reports_the_last_one_ending_with_the_award():
    periods = report_periods(date(2026, 11, 30), date(2027, 11, 30))
    assert periods == [
        (date(2026, 11, 30), date(2027, 2, 27)),
        (date(2027, 2, 28), date(2027, 5, 29)),
        (date(2027, 5, 30), date(2027, 8, 29)),
        (date(2027, 8, 30), date(2027, 11, 30)),  # not "November 30, 2027 to November 30, 2027"
    ]


def test_whole_quarters_are_left_as_they_are():
    assert report_periods(date(2027, 1, 1), date(2027, 12, 31)) == [
        (date(2027, 1, 1), date(2027, 3, 31)), (date(2027, 4, 1), date(2027, 6, 30)),
        (date(2027, 7, 1), date(2027, 9, 30)), (date(2027, 10, 1), date(2027, 12, 31)),
    ]


def test_an_award_ending_mid_quarter_keeps_a_final_period_of_a_month_or_more():
    periods = report_periods(date(2027, 1, 1), date(2027, 8, 15))
    assert periods[-1] == (date(2027, 7, 1), date(2027, 8, 15))
    assert len(periods) == 3
    # Exactly a month left over is a period of its own; a day less joins the quarter before.
    assert report_periods(date(2027, 1, 1), date(2027, 7, 31))[-1] == (date(2027, 7, 1), date(2027, 7, 31))
    assert report_periods(date(2027, 1, 1), date(2027, 7, 30))[-1] == (date(2027, 4, 1), date(2027, 7, 30))


def test_a_short_award_has_one_final_period():
    assert report_periods(date(2027, 3, 1), date(2027, 3, 20)) == [(date(2027, 3, 1), date(2027, 3, 20))]
    assert report_periods(date(2027, 3, 1), date(2027, 3, 1)) == [(date(2027, 3, 1), date(2027, 3, 1))]
    # Three months and ten days: one final report for the whole period, not a ten-day second one.
    assert report_periods(date(2027, 1, 1), date(2027, 4, 10)) == [(date(2027, 1, 1), date(2027, 4, 10))]


def test_every_day_of_the_award_is_in_exactly_one_period():
    for start, end in [(date(2026, 11, 30), date(2027, 11, 30)), (date(2027, 1, 31), date(2028, 2, 29)),
                       (date(2027, 1, 1), date(2027, 4, 10)), (date(2027, 5, 31), date(2029, 6, 2))]:
        periods = report_periods(start, end)
        assert periods[0][0] == start and periods[-1][1] == end
        for (_, previous_end), (next_start, _) in zip(periods, periods[1:], strict=False):
            assert (next_start - previous_end).days == 1
        last_start, last_end = periods[-1]
        assert len(periods) == 1 or (last_end - last_start).days >= 27, periods
