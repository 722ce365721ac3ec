"""Working days: Monday to Friday except England and Wales bank holidays.

Used for assessment timeliness (KPIS.md) and by the sample generator, so the
two agree on what "45 working days" means.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    # England and Wales share one list of bank holidays; subdiv "ENG" is it.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def bank_holidays(first: date, last: date) -> list[date]:
    """England and Wales bank holidays from ``first`` to ``last`` inclusive."""
    days: list[date] = []
    for year in range(first.year, last.year + 1):
        days.extend(d for d in _bank_holidays(year) if first <= d <= last)
    return sorted(days)


def working_days_after(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
    count = 0
    day = start + timedelta(days=1)
    while day <= end:
        if is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start``."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            days -= 1
    return day
