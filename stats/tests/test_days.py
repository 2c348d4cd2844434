from datetime import date, datetime, timezone

import pytest

from stats.days import day_bounds, days_between, parse_day


def test_a_seoul_day_is_the_utc_range_from_15_00_the_day_before():
    assert day_bounds(date(2025, 1, 15), "Asia/Seoul") == (
        datetime(2025, 1, 14, 15, tzinfo=timezone.utc), datetime(2025, 1, 15, 15, tzinfo=timezone.utc))


def test_a_day_when_clocks_change_has_its_real_length():
    start, end = day_bounds(date(2025, 3, 9), "America/New_York")  # spring forward
    assert end - start == (datetime(2025, 3, 10) - datetime(2025, 3, 9)) * 23 / 24
    assert day_bounds(date(2025, 3, 10), "America/New_York")[0] == end  # no gap, no overlap


def test_days_between_includes_both_ends():
    assert days_between(date(2024, 2, 28), date(2024, 3, 1)) == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    assert days_between(date(2024, 3, 1), date(2024, 3, 1)) == [date(2024, 3, 1)]


@pytest.mark.parametrize("text, reason", [
    ("2025-02-30", "'2025-02-30' is not a date: day is out of range for month"),
    ("2025-1-5", "'2025-1-5' is not a date: use YYYY-MM-DD, e.g. 2025-01-15"),
    ("2025-W03-1", "'2025-W03-1' is not a date: use YYYY-MM-DD, e.g. 2025-01-15"),
    ("yesterday", "'yesterday' is not a date: use YYYY-MM-DD, e.g. 2025-01-15"),
])
def test_bad_days_are_named(text, reason):
    with pytest.raises(ValueError) as caught:
        parse_day(text)
    assert str(caught.value) == reason
    assert parse_day("2025-01-15") == date(2025, 1, 15)
