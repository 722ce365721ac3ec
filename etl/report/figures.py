"""How one figure reads in the pack: formatted for people, suppressed, or not available.

Every number a pack prints goes through :func:`shown` (a measure) or
:func:`count`/:func:`amount`/:func:`share` (a breakdown), so the two rules
officials rely on hold everywhere:

* a blank measure reads "not available" with its reason, never 0;
* for an audience that suppresses small numbers, a count from 1 to 5, and a
  rate (or average) built on a numerator from 1 to 5, reads ``c`` (the DfE
  convention); 0 and 6 or more are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from etl.kpis import Kpi, Unit
from etl.months import Month
from etl.warehouse.measures import KpiValue

#: What a suppressed figure reads as (DfE convention: "c", confidential).
SUPPRESSED = "c"
NOT_AVAILABLE = "not available"
#: Counts from 1 to this are suppressed.
SMALL = 5
#: FTE sums carry float noise (432.500000000001): compare at this precision.
_PRECISION = 6


@dataclass(frozen=True)
class Shown:
    """A figure as printed: its text, and why it is blank when it is."""

    text: str
    kind: Literal["value", "suppressed", "blank"] = "value"
    reason: str | None = None

    @property
    def long(self) -> str:
        """With the reason: "not available — no referrals in the month"."""
        if self.kind == "blank" and self.reason:
            return f"{self.text} — {self.reason}"
        return self.text

    @property
    def available(self) -> bool:
        return self.kind == "value"


BLANK = Shown(NOT_AVAILABLE, "blank")
HIDDEN = Shown(SUPPRESSED, "suppressed")


def is_small(number: float | None) -> bool:
    """A count (or numerator) from 1 to 5: what suppression hides."""
    return number is not None and 0 < round(number, _PRECISION) <= SMALL


def number_text(value: float, unit: Unit) -> str:
    """``value`` as people read it: 26.4%, 1,234, 432.5 (FTE), 16.2, 74."""
    match unit:
        case "percent":
            return f"{value * 100:.1f}%"
        case "count":
            return f"{round(value):,}"
        case "days":
            whole = round(value)
            return f"{whole:,}" if abs(value - whole) < 1e-9 else f"{value:,.1f}"
        case "fte" | "ratio":
            return f"{value:,.1f}"
    raise ValueError(f"unknown unit {unit!r}")  # pragma: no cover


def display_precision(value: float, unit: Unit) -> float:
    """``value`` rounded as printed, so a RAG rating agrees with the figure read."""
    match unit:
        case "percent":
            return round(value, 3)
        case "count":
            return float(round(value))
        case _:
            return round(value, 1)


def suppression_basis(
    value: KpiValue, info: Kpi, month_values: Mapping[str, KpiValue]
) -> float | None:
    """The figure whose smallness hides ``value``: itself, its numerator, or another measure."""
    if info.suppress_by == "value":
        return value.value
    if info.suppress_by == "numerator":
        return value.numerator
    other = month_values.get(info.suppress_by)
    return None if other is None else other.value


def shown(
    value: KpiValue,
    info: Kpi,
    *,
    suppress: bool,
    month_values: Mapping[str, KpiValue],
) -> Shown:
    """One measure as this audience reads it."""
    if value.value is None:
        return Shown(NOT_AVAILABLE, "blank", value.reason or "no figure for the month")
    if suppress and is_small(suppression_basis(value, info, month_values)):
        return HIDDEN
    return Shown(number_text(value.value, info.unit))


def count(number: float, *, suppress: bool) -> Shown:
    """A count in a breakdown or the appendix (suppressed like any count)."""
    if suppress and is_small(number):
        return HIDDEN
    return Shown(number_text(number, "count"))


def amount(number: float, unit: Unit, *, suppress: bool) -> Shown:
    """An FTE or other sum, hidden when small like a count."""
    if suppress and is_small(number):
        return HIDDEN
    return Shown(number_text(number, unit))


def share(
    numerator: float,
    denominator: float,
    *,
    suppress: bool,
    unit: Unit = "percent",
    empty: str = "nothing to divide by",
) -> Shown:
    """A rate of a breakdown: blank on a zero denominator (``empty`` says why),
    hidden on a small numerator."""
    if denominator == 0:
        return Shown(NOT_AVAILABLE, "blank", empty)
    if suppress and is_small(numerator):
        return HIDDEN
    return Shown(number_text(numerator / denominator, unit))


#: English month names, whatever the machine's locale (strftime follows it).
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def month_name(month: Month) -> str:
    """``March 2025``."""
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def short_month(month: Month) -> str:
    """``Mar 2025``."""
    return f"{MONTH_NAMES[month.month - 1][:3]} {month.year}"


#: The pack prints times as the council reads them.
LOCAL_TIME = ZoneInfo("Europe/London")


def moment(when: datetime) -> str:
    """``5 Apr 2025 09:14`` in UK time (a naive time from SQLite is UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    local = when.astimezone(LOCAL_TIME)
    return f"{local.day} {MONTH_NAMES[local.month - 1][:3]} {local.year} {local:%H:%M}"


def day(when: datetime) -> str:
    """``5 April 2025`` in UK time."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    local = when.astimezone(LOCAL_TIME)
    return f"{local.day} {MONTH_NAMES[local.month - 1]} {local.year}"
