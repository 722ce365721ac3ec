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
    return loaded_months_of(connection, [la_code], first, last)[la_code]


def loaded_months_of(
    connection: Connection,
    la_codes: Iterable[str],
    first: Month | None = None,
    last: Month | None = None,
) -> dict[str, dict[str, set[Month]]]:
    """:func:`loaded_months` of each of ``la_codes``, in one query."""
    wanted = sorted(set(la_codes))
    query = sa.select(loads.c.la_code, loads.c.dataset, loads.c.month).where(
        loads.c.la_code.in_(wanted),
        CURRENT_LOAD,
    )
    if first is not None:
        query = query.where(loads.c.month >= first.start)
    if last is not None:
        query = query.where(loads.c.month <= last.start)
    loaded: dict[str, dict[str, set[Month]]] = {
        la: {kpi.dataset: set() for kpi in KPIS} for la in wanted
    }
    for la_code, dataset, day in connection.execute(query):
        loaded[la_code].setdefault(dataset, set()).add(Month.of(day))
    return loaded


def known_months(
    connection: Connection, la_code: str, first: Month | None = None, last: Month | None = None
) -> set[Month]:
    """Months with at least one dataset loaded for the LA (from ``first`` to ``last``):
    those that get measures."""
    return known_months_of(connection, [la_code], first, last)[la_code]


def known_months_of(
    connection: Connection,
    la_codes: Iterable[str],
    first: Month | None = None,
    last: Month | None = None,
) -> dict[str, set[Month]]:
    """:func:`known_months` of each of ``la_codes``, in one query."""
    return {
        la: set().union(*by_dataset.values())
        for la, by_dataset in loaded_months_of(connection, la_codes, first, last).items()
    }


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
    return compute_measures_of(connection, {la_code: months}, datasets, kpis=kpis)


def compute_measures_of(
    connection: Connection,
    months: Mapping[str, Iterable[Month]],
    datasets: Iterable[str] | None = None,
    *,
    kpis: Sequence[Kpi] = KPIS,
) -> list[KpiValue]:
    """:func:`compute_measures` of many LAs, each its own ``months``, set-based:
    one query per family for a hub's month, not one per LA.  By LA, then month."""
    _checked(tuple(kpis))
    wanted = _by_la(months)
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
    periods = [(la, m) for la, la_months in wanted.items() for m in la_months]
    figures: dict[tuple[str, Month], dict[str, Any]] = {period: {} for period in periods}
    for query, parameters in aggregate_queries(periods, chosen):
        for row in connection.execute(query, parameters).mappings():
            found = figures.get((row["la_code"], Month.of(row["month"])))
            if found is not None:  # the median's query has every LA's every month
                found.update(row)
    # A measure reads at most its window: kpi.window months back from its month.
    reach = max(kpi.window for kpi in kpis if kpi.dataset in chosen) - 1
    first, last = min(m[0] for m in wanted.values()), max(m[-1] for m in wanted.values())
    loaded = loaded_months_of(connection, wanted, first - reach, last)
    return [
        _value(kpi, la, month, figures[la, month], loaded[la][kpi.dataset])
        for la, month in periods
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


def _by_la(months: Mapping[str, Iterable[Month]]) -> dict[str, list[Month]]:
    """Each LA's months, sorted and once each; LAs without months left out."""
    return {la: ordered for la, m in sorted(months.items()) if (ordered := sorted(set(m)))}


def in_periods(table: sa.Table, months: Mapping[str, Sequence[Month]]) -> sa.ColumnElement[bool]:
    """``table``'s rows of each LA's months (its ``la_code`` and ``month`` columns).

    LAs with the same months share one condition: a hub's month is one.
    """
    by_months: dict[tuple[Month, ...], list[str]] = {}
    for la, la_months in months.items():
        by_months.setdefault(tuple(la_months), []).append(la)
    return sa.or_(
        *(
            sa.and_(table.c.la_code.in_(las), table.c.month.in_([m.start for m in group]))
            for group, las in by_months.items()
        )
    )


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
    return recompute_measures_of(bind, {la_code: months}, datasets)


def recompute_measures_of(
    bind: Bind,
    months: Mapping[str, Iterable[Month]],
    datasets: Iterable[str] | None = None,
) -> int:
    """:func:`recompute_measures` of many LAs, each its own ``months``, set-based."""
    wanted = _by_la(months)
    chosen = _datasets(datasets)
    if not wanted or not chosen:
        return 0
    kpi_ids = [kpi.kpi_id for kpi in KPIS if kpi.dataset in chosen]
    with transaction(bind, write=True) as connection:
        values = compute_measures_of(connection, wanted, chosen)
        connection.execute(
            sa.delete(measures).where(measures.c.kpi_id.in_(kpi_ids), in_periods(measures, wanted))
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
