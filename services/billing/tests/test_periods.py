"""A plan's length added to a moment: calendar months with month ends clamped."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.billing.periods import add_period, to_utc


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 14, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "length", "unit", "expected"),
    [
        (at(2025, 1, 31), 1, "months", at(2025, 2, 28)),
        (at(2024, 1, 31), 1, "months", at(2024, 2, 29)),
        (at(2025, 3, 31), 1, "months", at(2025, 4, 30)),
        (at(2025, 1, 15), 1, "months", at(2025, 2, 15)),
        (at(2025, 1, 30), 2, "months", at(2025, 3, 30)),
        (at(2025, 11, 30), 3, "months", at(2026, 2, 28)),
        (at(2025, 12, 31), 1, "months", at(2026, 1, 31)),
        (at(2025, 5, 31), 12, "months", at(2026, 5, 31)),
        (at(2025, 8, 31), 18, "months", at(2027, 2, 28)),
        (at(2024, 2, 29), 1, "years", at(2025, 2, 28)),
        (at(2024, 2, 29), 4, "years", at(2028, 2, 29)),
        (at(2025, 6, 10), 1, "years", at(2026, 6, 10)),
        (at(2025, 12, 29), 1, "weeks", at(2026, 1, 5)),
        (at(2025, 2, 1), 4, "weeks", at(2025, 3, 1)),
        (at(2024, 2, 28), 1, "days", at(2024, 2, 29)),
        (at(2025, 2, 28), 1, "days", at(2025, 3, 1)),
        (at(2025, 1, 1), 365, "days", at(2026, 1, 1)),
        (at(2025, 1, 31), 0, "months", at(2025, 1, 31)),
    ],
)
def test_add_period(start: datetime, length: int, unit: str, expected: datetime) -> None:
    assert add_period(start, length, unit) == expected


def test_add_period_keeps_the_time_of_day_and_the_zone() -> None:
    result = add_period(at(2025, 1, 31), 1, "months")
    assert (result.hour, result.minute, result.second) == (14, 30, 5)
    assert result.utcoffset() == timedelta(0)


def test_a_negative_length_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_period(at(2025, 1, 1), -1, "months")


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown plan unit 'fortnights'"):
        add_period(at(2025, 1, 1), 1, "fortnights")


def test_a_moment_with_an_offset_is_computed_in_utc() -> None:
    # 00:30 on Mar 1 in UTC+2 is 22:30 on Feb 28 UTC: one month later is Mar 28, not Apr 1.
    plus_two = timezone(timedelta(hours=2))
    result = add_period(datetime(2025, 3, 1, 0, 30, tzinfo=plus_two), 1, "months")
    assert result == datetime(2025, 3, 28, 22, 30, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        to_utc(datetime(2025, 1, 1))
