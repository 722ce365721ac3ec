"""The working-day calendar table, kept in step with the ``holidays`` package.

Assessment timeliness counts working days in SQL, as rows of the
``working_days`` table between two dates.  A table (rather than a per-row
count stored at load time) keeps every measure computable from the warehouse
alone, and lets a corrected bank-holiday list (a new one-off holiday in a
``holidays`` release) correct every month's measure on the next recompute.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.warehouse.schema import working_days
from etl.workdays import bank_holidays

#: The calendar's range: wide enough for any referral the warehouse holds.
FIRST_DAY = date(1990, 1, 1)
LAST_DAY = date(2060, 12, 31)


def expected_working_days(first: date = FIRST_DAY, last: date = LAST_DAY) -> set[date]:
    """Every working day from ``first`` to ``last`` (England and Wales)."""
    # One bank-holiday list for the whole range: asking day by day is slow.
    holidays = set(bank_holidays(first, last))
    span = (last - first).days + 1
    every_day = (first + timedelta(days=n) for n in range(span))
    return {day for day in every_day if day.weekday() < 5 and day not in holidays}


def sync_calendar(connection: Connection) -> tuple[int, int]:
    """Make the table hold exactly the expected working days; (added, removed)."""
    expected = expected_working_days()
    present = set(connection.scalars(sa.select(working_days.c.day)))
    added = sorted(expected - present)
    removed = sorted(present - expected)
    if removed:
        connection.execute(sa.delete(working_days).where(working_days.c.day.in_(removed)))
    if added:
        connection.execute(sa.insert(working_days), [{"day": d} for d in added])
    return len(added), len(removed)
