"""Dates for the generator: numpy working-day arithmetic that agrees with etl.workdays."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import numpy.typing as npt

from etl.months import Month
from etl.workdays import bank_holidays

Days = npt.NDArray[np.datetime64]


class WorkCalendar:
    """Monday to Friday except England and Wales bank holidays, vectorised.

    ``etl.workdays`` is the definition; this wraps the same holiday list in a
    numpy business-day calendar so thousands of dates shift at once.
    """

    def __init__(self, first: Month, last: Month) -> None:
        holidays = bank_holidays(first.start, last.end)
        self.calendar = np.busdaycalendar(holidays=np.array(holidays, dtype="datetime64[D]"))

    def add(self, start: Days, days: npt.NDArray[np.int64]) -> Days:
        """The date ``days`` working days after ``start`` (``etl.workdays.add_working_days``).

        Rolling backward first makes a weekend start count from the Friday
        before, which is what "working days after start" means.
        """
        return np.busday_offset(start, days, roll="backward", busdaycal=self.calendar)

    def on_or_after(self, day: Days) -> Days:
        """The first working day on or after ``day``."""
        return np.busday_offset(day, 0, roll="forward", busdaycal=self.calendar)

    def is_working(self, days: Days) -> npt.NDArray[np.bool_]:
        return np.is_busday(days, busdaycal=self.calendar)

    def working_days_of(self, month: Month) -> Days:
        days = month_days(month)
        return days[self.is_working(days)]


def month_days(month: Month) -> Days:
    """Every day of ``month``."""
    first = np.datetime64(month.start, "D")
    return first + np.arange(month.end.day)


def as_day(day: date) -> np.datetime64:
    return np.datetime64(day, "D")


def weights(table: Mapping[str, float] | Mapping[int, float]) -> npt.NDArray[np.float64]:
    """A weight table's values as probabilities summing to one."""
    values = np.array(list(table.values()), dtype=np.float64)
    probabilities: npt.NDArray[np.float64] = values / values.sum()
    return probabilities
