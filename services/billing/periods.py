"""Date arithmetic of payment plans: a plan's length added to a moment, month ends clamped.

Everything is computed in UTC: a moment given with another offset is converted first, so "one
month" never depends on the zone an operator typed the date in.
"""

import calendar
from datetime import UTC, datetime, timedelta
from typing import Literal

Unit = Literal["days", "weeks", "months", "years"]


def add_months(moment: datetime, months: int) -> datetime:
    """Same day `months` later; the 31st becomes the last day of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def to_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive moment is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment without a time zone offset is ambiguous")
    return moment.astimezone(UTC)


# How far ahead an operator may set an expiry: far enough for "lifetime" access, near enough
# that a renewal on top of it stays a date Python and the databases can hold.
MAX_YEARS_AHEAD = 100


class PeriodOutOfRange(ValueError):
    """The period would end past the last date that can be stored (year 9999)."""


def add_period(moment: datetime, length: int, unit: Unit | str) -> datetime:
    """`moment` (normalised to UTC) plus `length` units; months and years clamp month ends."""
    moment = to_utc(moment)
    if length < 0:
        raise ValueError("a plan's length cannot be negative")
    if unit not in ("days", "weeks", "months", "years"):
        raise ValueError(f"unknown plan unit {unit!r}")
    try:
        if unit == "days":
            return moment + timedelta(days=length)
        if unit == "weeks":
            return moment + timedelta(weeks=length)
        return add_months(moment, length if unit == "months" else 12 * length)
    except (OverflowError, ValueError) as error:
        raise PeriodOutOfRange(
            f"{length} {unit} after {moment.date()} would end past the year 9999"
        ) from error
