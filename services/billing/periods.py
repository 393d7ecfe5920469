"""Date arithmetic of payment plans: a plan's length added to a moment, month ends clamped."""

import calendar
from datetime import datetime, timedelta
from typing import Literal

Unit = Literal["days", "weeks", "months", "years"]


def add_months(moment: datetime, months: int) -> datetime:
    """Same day `months` later; the 31st becomes the last day of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def add_period(moment: datetime, length: int, unit: Unit | str) -> datetime:
    if length < 0:
        raise ValueError("a plan's length cannot be negative")
    if unit == "days":
        return moment + timedelta(days=length)
    if unit == "weeks":
        return moment + timedelta(weeks=length)
    if unit == "months":
        return add_months(moment, length)
    if unit == "years":
        return add_months(moment, 12 * length)
    raise ValueError(f"unknown plan unit {unit!r}")
