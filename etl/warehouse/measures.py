"""Every measure of KPIS.md, computed in the warehouse per LA and month.

The figures come from SQL (:mod:`etl.warehouse.measures_sql`, one grouped
query per family covering all the months asked for).  Python adds only what
the load history knows: whether each input month is loaded.  A measure whose
file (or any file of its window) is not loaded is blank, with a reason the
pack shows; so is a rate whose denominator is zero.  Plain counts of a loaded
month are numbers (0 when there is nothing to count).

Results are materialised in the ``measures`` table, keyed by
(la_code, month, kpi_id), by :func:`recompute_measures`, which every load
calls for the months it affects (:func:`months_affected`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.errors import CscError
from etl.kpis import Kpi, registry
from etl.months import Month
from etl.warehouse.db import Bind, transaction
from etl.warehouse.measures_sql import DEN, NUM, aggregate_queries, check_registry
from etl.warehouse.schema import CURRENT_LOAD, loads, measures, working_days

#: Every measure, in the order of KPIS.md (the order of kpis.csv): the registry's.
KPIS: tuple[Kpi, ...] = tuple(registry())
KPI_IDS: list[str] = [kpi.kpi_id for kpi in KPIS]

#: How far a dataset's month reaches into other months' measures.  A
#: workforce file is in the turnover window of the 11 months after it; a
#: referrals file in the re-referral window of the 12 after it, and its
#: versions update referrals (and their assessments) of the 12 before it; a
#: closures file is in the 3-month capacity window of the 2 after it.
_REACH: dict[str, tuple[int, int]] = {
    "workforce": (0, 11),
    "referrals": (12, 12),
    "closures": (0, 2),
}


def months_affected(dataset: str, month: Month) -> list[Month]:
    """The months whose measures a load of ``dataset`` for ``month`` can change."""
    before, after = _REACH[dataset]
    return [month + offset for offset in range(-before, after + 1)]


#: The header of kpis.csv (KPIS.md).
KPI_CSV_HEADER: tuple[str, ...] = (
    "la_code",
    "month",
    "kpi_id",
    "value",
    "numerator",
    "denominator",
)


@dataclass(frozen=True)
class KpiValue:
    """One row of kpis.csv (plus why the value is blank, for the pack)."""

    la_code: str
    month: Month
    kpi_id: str
    value: float | None
    numerator: float | None
    denominator: float | None
    reason: str | None = None

    def csv_row(self) -> list[str]:
        """The row as kpis.csv writes it: YYYY-MM, unrounded, blank when not available."""
        numbers = (self.value, self.numerator, self.denominator)
        return [self.la_code, str(self.month), self.kpi_id, *(_csv_number(n) for n in numbers)]


def _csv_number(number: float | None) -> str:
    if number is None:
        return ""
    # Counts print as counts (12, not 12.0); everything else in full (repr).
    return str(int(number)) if number.is_integer() else repr(number)


# --- computing ---------------------------------------------------------------------


def loaded_months(
    connection: Connection, la_code: str, first: Month | None = None, last: Month | None = None
) -> dict[str, set[Month]]:
    """Per dataset, the months with a current load for the LA (from ``first`` to ``last``).

    The bounds keep the look-up to the months a computation can read, by the
    (la_code, month) index, however many years of loads the LA has.
    """
    query = sa.select(loads.c.dataset, loads.c.month).where(
        loads.c.la_code == la_code,
        CURRENT_LOAD,
    )
    if first is not None:
        query = query.where(loads.c.month >= first.start)
    if last is not None:
        query = query.where(loads.c.month <= last.start)
    loaded: dict[str, set[Month]] = {kpi.dataset: set() for kpi in KPIS}
    for dataset, day in connection.execute(query):
        loaded.setdefault(dataset, set()).add(Month.of(day))
    return loaded


def known_months(
    connection: Connection, la_code: str, first: Month | None = None, last: Month | None = None
) -> set[Month]:
    """Months with at least one dataset loaded for the LA (from ``first`` to ``last``):
    those that get measures."""
    return set().union(*loaded_months(connection, la_code, first, last).values())


@cache
def _checked(kpis: tuple[Kpi, ...]) -> None:
    # Once per process: building the queries to compare costs ~0.1 s.
    check_registry(kpis)


def _datasets(datasets: Iterable[str] | None, kpis: Sequence[Kpi] = KPIS) -> list[str]:
    every: list[str] = list(dict.fromkeys(kpi.dataset for kpi in kpis))
    if datasets is None:
        return every
    chosen = set(datasets)
    unknown = chosen - set(every)
    if unknown:
        raise KeyError(f"unknown datasets {sorted(unknown)}")
    return [d for d in every if d in chosen]


def compute_measures(
    connection: Connection,
    la_code: str,
    months: Iterable[Month],
    datasets: Iterable[str] | None = None,
    *,
    kpis: Sequence[Kpi] = KPIS,
) -> list[KpiValue]:
    """The measures of ``months`` for one LA (of ``datasets``; default all).

    ``kpis`` is the registry's measures; it must match the SQL exactly
    (:func:`~etl.warehouse.measures_sql.check_registry` raises otherwise).
    """
    _checked(tuple(kpis))
    wanted = sorted(set(months))
    chosen = _datasets(datasets, kpis)
    if not wanted or not chosen:
        return []
    if "referrals" in chosen and connection.scalar(sa.select(working_days.c.day).limit(1)) is None:
        # Timeliness counts calendar rows: an empty calendar would make every
        # assessment look timely.  upgrade() fills it; a bare Alembic run does not.
        raise CscError(
            "the warehouse's working-day calendar is empty: run `csc-pipeline init` "
            "(etl.warehouse.db.upgrade) to fill it"
        )
    if connection.dialect.name == "postgresql":
        # JIT compiling these many-column aggregates costs more (~0.3 s a
        # query) than running them; SET LOCAL ends with the transaction.
        connection.exec_driver_sql("SET LOCAL jit = off")
    figures: dict[Month, dict[str, Any]] = {m: {} for m in wanted}
    for query, parameters in aggregate_queries(la_code, wanted, chosen):
        for row in connection.execute(query, parameters).mappings():
            figures[Month.of(row["month"])].update(row)
    # A measure reads at most its window: kpi.window months back from its month.
    reach = max(kpi.window for kpi in kpis if kpi.dataset in chosen) - 1
    loaded = loaded_months(connection, la_code, wanted[0] - reach, wanted[-1])
    return [
        _value(kpi, la_code, month, figures[month], loaded[kpi.dataset])
        for month in wanted
        for kpi in kpis
        if kpi.dataset in chosen
    ]


def _value(
    kpi: Kpi, la_code: str, month: Month, row: Mapping[str, Any], loaded: set[Month]
) -> KpiValue:
    missing = [m for m in (month - back for back in range(kpi.window)) if m not in loaded]
    if missing:
        return KpiValue(
            la_code, month, kpi.kpi_id, None, None, None, _not_loaded(kpi.dataset, missing)
        )
    value = _number(row.get(kpi.kpi_id))
    numerator = _number(row.get(kpi.kpi_id + NUM)) if kpi.rate else None
    denominator = _number(row.get(kpi.kpi_id + DEN)) if kpi.rate else None
    reason = kpi.when_empty if value is None else None
    return KpiValue(la_code, month, kpi.kpi_id, value, numerator, denominator, reason)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _not_loaded(dataset: str, missing: list[Month]) -> str:
    spans = _spans(sorted(missing))
    noun = "file" if len(missing) == 1 else "files"
    return f"{dataset} {noun} for {', '.join(spans)} not loaded"


def _spans(months: list[Month]) -> list[str]:
    """Consecutive months as ``2024-03..2024-05``."""
    spans: list[list[Month]] = []
    for month in months:
        if spans and month.months_since(spans[-1][-1]) == 1:
            spans[-1].append(month)
        else:
            spans.append([month])
    return [str(s[0]) if len(s) == 1 else f"{s[0]}..{s[-1]}" for s in spans]


def recompute_measures(
    bind: Bind,
    la_code: str,
    months: Iterable[Month],
    datasets: Iterable[str] | None = None,
) -> int:
    """Replace the stored measures of ``months`` for one LA; returns rows written.

    ``datasets`` limits the work to the measures reading those datasets (a
    workforce load cannot change a referral measure); default: all.
    """
    wanted = sorted(set(months))
    chosen = _datasets(datasets)
    if not wanted or not chosen:
        return 0
    kpi_ids = [kpi.kpi_id for kpi in KPIS if kpi.dataset in chosen]
    with transaction(bind, write=True) as connection:
        values = compute_measures(connection, la_code, wanted, chosen)
        connection.execute(
            sa.delete(measures).where(
                measures.c.la_code == la_code,
                measures.c.month.in_([m.start for m in wanted]),
                measures.c.kpi_id.in_(kpi_ids),
            )
        )
        connection.execute(
            sa.insert(measures),
            [
                {
                    "la_code": v.la_code,
                    "month": v.month.start,
                    "kpi_id": v.kpi_id,
                    "value": v.value,
                    "numerator": v.numerator,
                    "denominator": v.denominator,
                    "reason": v.reason,
                }
                for v in values
            ],
        )
    return len(values)


# --- reading --------------------------------------------------------------------------


def kpis_for(bind: Bind, la_code: str, month: Month) -> list[KpiValue]:
    """The stored measures of one LA and month, one per kpi_id in KPIS.md order.

    A measure never computed (no file of any dataset loaded for the month)
    comes back blank with the reason, so kpis.csv always has every kpi_id.
    """
    query = sa.select(measures).where(
        measures.c.la_code == la_code, measures.c.month == month.start
    )
    with transaction(bind) as connection:
        stored = {row.kpi_id: row for row in connection.execute(query)}
    values = []
    for kpi_id in KPI_IDS:
        row = stored.get(kpi_id)
        if row is None:
            values.append(
                KpiValue(la_code, month, kpi_id, None, None, None, f"no files loaded for {month}")
            )
        else:
            values.append(
                KpiValue(
                    la_code, month, kpi_id, row.value, row.numerator, row.denominator, row.reason
                )
            )
    return values
