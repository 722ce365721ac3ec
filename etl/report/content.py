"""Everything a pack shows, read from the warehouse for one LA and month.

The figures are the stored measures (:func:`~etl.warehouse.measures.kpis_for`
and 24 months of their history); the load history feeds the data-quality
appendix; a few breakdowns (by team, by referral source, by primary need) are
grouped in SQL from the month's current data.  Only aggregates leave the
warehouse: no query here selects an identifier, so no pseudonym can reach a
pack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.contracts import DATASETS, load_contract
from etl.kpis import registry
from etl.months import Month
from etl.reference.benchmarks import (
    Benchmark,
    Neighbour,
    benchmarks,
    indicators,
    la_name,
    neighbours,
    series,
)
from etl.warehouse.db import Bind, transaction
from etl.warehouse.measures import KPI_IDS, KpiValue, kpis_for
from etl.warehouse.measures_sql import DEN, NUM, TEAM_KPIS, current_referrals, teams_query
from etl.warehouse.schema import loads, measures

#: Months of history the trend charts show (the pack's month included).
HISTORY_MONTHS = 24
#: How far back the appendix looks for resubmissions: the longest measure
#: window (re-referrals read the 12 months before M).
RESUBMISSION_MONTHS = 12


@dataclass(frozen=True)
class WarningRule:
    """A soft rule a loaded file broke: which, where, how many rows (never a value)."""

    rule: str
    column: str | None
    message: str
    count: int


@dataclass(frozen=True)
class LoadRecord:
    """One load of a file (a row of ``loads`` with status loaded)."""

    dataset: str
    month: Month
    file_name: str
    loaded_at: datetime
    rows_read: int
    rows_loaded: int
    warnings: int
    current: bool
    #: When the resubmission that replaced it was loaded (superseded loads).
    replaced_at: datetime | None
    #: This load replaced an earlier one (it is a resubmission).
    resubmission: bool
    warning_rules: tuple[WarningRule, ...]


@dataclass(frozen=True)
class TeamFigures:
    """One team's month: the measures of :data:`TEAM_KPIS`, from the measures' own SQL."""

    team: str
    #: Per kpi_id of :data:`TEAM_KPIS`, the team's value (numerator and denominator for rates).
    figures: dict[str, KpiValue]


@dataclass(frozen=True)
class CodeCount:
    """How many of the month's referrals carry a code (source or need)."""

    code: str
    count: int


@dataclass(frozen=True)
class PackData:
    """What the pack of one LA and month is made from."""

    la_code: str
    month: Month
    kpis: dict[str, KpiValue]
    #: The months of the trend charts, oldest first, ending with ``month``.
    months: list[Month]
    #: Per kpi_id, one value per month of ``months``.
    history: dict[str, list[KpiValue]]
    loads: list[LoadRecord]
    teams: list[TeamFigures]
    sources: list[CodeCount]
    needs: list[CodeCount]
    #: Every indicator of DfE's publications for the pack's period (benchmarks.csv's
    #: rows, and England's yearly counts), in description order.
    comparisons: list[Benchmark]
    #: The LA's statistical neighbours, nearest first.
    neighbours: list[Neighbour]
    #: Per charted indicator, every published year, oldest first.
    compare_series: dict[str, list[Benchmark]]
    #: The LA's name in DfE's statistical neighbour model, if it is there.
    la_name: str | None = None

    @property
    def benchmarks(self) -> list[Benchmark]:
        """The rows of benchmarks.csv (KPIS.md, "Benchmarks")."""
        return [b for b in self.comparisons if b.indicator.benchmark]

    @property
    def loaded_datasets(self) -> list[str]:
        """Datasets with a current load for the pack's month."""
        current = {r.dataset for r in self.loads if r.current and r.month == self.month}
        return [d for d in DATASETS if d in current]


def gather(bind: Bind, la_code: str, month: Month) -> PackData:
    """Read everything the pack of ``la_code`` and ``month`` shows."""
    months = [month - back for back in range(HISTORY_MONTHS - 1, -1, -1)]
    kpis = {v.kpi_id: v for v in kpis_for(bind, la_code, month)}
    with transaction(bind) as connection:
        history = _history(connection, la_code, months)
        records = _loads(connection, la_code, month)
        teams = _teams(connection, la_code, month)
        sources = _referral_codes(connection, la_code, month, "referral_source")
        needs = _referral_codes(connection, la_code, month, "primary_need")
    charted = [key for _p, key, i in indicators(benchmarks_only=False) if i.chart]
    return PackData(
        la_code,
        month,
        kpis,
        months,
        history,
        records,
        teams,
        sources,
        needs,
        comparisons=benchmarks(bind, la_code, month, benchmarks_only=False),
        neighbours=neighbours(bind, la_code),
        compare_series={key: series(bind, la_code, key, month) for key in charted},
        la_name=la_name(bind, la_code),
    )


def _history(
    connection: Connection, la_code: str, months: Sequence[Month]
) -> dict[str, list[KpiValue]]:
    m = measures
    query = sa.select(m).where(
        m.c.la_code == la_code, m.c.month >= months[0].start, m.c.month <= months[-1].start
    )
    stored = {(Month.of(r.month), r.kpi_id): r for r in connection.execute(query)}
    history: dict[str, list[KpiValue]] = {}
    for kpi_id in KPI_IDS:
        values = []
        for month in months:
            row = stored.get((month, kpi_id))
            if row is None:
                values.append(
                    KpiValue(
                        la_code, month, kpi_id, None, None, None, f"no files loaded for {month}"
                    )
                )
            else:
                values.append(
                    KpiValue(
                        la_code,
                        month,
                        kpi_id,
                        row.value,
                        row.numerator,
                        row.denominator,
                        row.reason,
                    )
                )
        history[kpi_id] = values
    return history


def _loads(connection: Connection, la_code: str, month: Month) -> list[LoadRecord]:
    """The month's loads, and resubmissions of the months its measures read."""
    load = loads
    replacement = loads.alias("replacement")
    replaced = loads.alias("replaced")
    query = (
        sa.select(
            load,
            replacement.c.loaded_at.label("replaced_at"),
            sa.select(replaced.c.load_id)
            .where(replaced.c.superseded_by == load.c.load_id)
            .exists()
            .label("resubmission"),
        )
        .select_from(load.outerjoin(replacement, replacement.c.load_id == load.c.superseded_by))
        .where(
            load.c.la_code == la_code,
            load.c.status == "loaded",
            load.c.month >= (month - RESUBMISSION_MONTHS).start,
            load.c.month <= month.start,
        )
        .order_by(load.c.month.desc(), load.c.dataset, load.c.loaded_at)
    )
    records = []
    for row in connection.execute(query):
        record_month = Month.of(row.month)
        # Earlier months appear only through their resubmissions.
        if record_month != month and not (row.resubmission or row.superseded_by):
            continue
        records.append(
            LoadRecord(
                dataset=row.dataset,
                month=record_month,
                file_name=row.file_name,
                loaded_at=row.loaded_at,
                rows_read=row.rows_read,
                rows_loaded=row.rows_loaded,
                warnings=row.warnings,
                current=row.superseded_by is None,
                replaced_at=row.replaced_at,
                resubmission=bool(row.resubmission),
                warning_rules=_warning_rules(row.validation_summary),
            )
        )
    return records


def _warning_rules(summary: Any) -> tuple[WarningRule, ...]:
    """The soft-rule problems kept with a load (rule, column, message, count only)."""
    problems = summary.get("problems", []) if isinstance(summary, dict) else []
    return tuple(
        WarningRule(
            rule=str(p.get("rule", "")),
            column=p.get("column"),
            message=str(p.get("message", "")),
            count=int(p.get("count") or 0),
        )
        for p in problems
        if isinstance(p, dict) and p.get("severity") == "warning"
    )


def _teams(connection: Connection, la_code: str, month: Month) -> list[TeamFigures]:
    rows = connection.execute(teams_query(), {"la_code": la_code, "month": month.start})
    teams = []
    for row in rows.mappings():
        figures = {}
        for kpi_id in TEAM_KPIS:
            numerator, denominator = row.get(kpi_id + NUM), row.get(kpi_id + DEN)
            figures[kpi_id] = KpiValue(
                la_code,
                month,
                kpi_id,
                _float(row[kpi_id]),
                _float(numerator),
                _float(denominator),
                None if row[kpi_id] is not None else registry()[kpi_id].when_empty,
            )
        teams.append(TeamFigures(team=row["team"], figures=figures))
    return teams


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _referral_codes(
    connection: Connection, la_code: str, month: Month, column: str
) -> list[CodeCount]:
    """Counts of the month's current referrals by ``column`` (NFA ones left out of needs)."""
    current = current_referrals(la_code).subquery("current")
    code = current.c[column]
    query = sa.select(code, sa.func.count()).where(
        current.c.referral_date >= month.start, current.c.referral_date <= month.end
    )
    if column == "primary_need":
        query = query.where(current.c.nfa.is_(sa.false()))
    rows = connection.execute(query.group_by(code)).all()
    return [CodeCount(str(value) if value is not None else "", int(n)) for value, n in rows]


def code_labels(dataset: str, column: str) -> dict[str, str]:
    """A code column's labels from its contract, in contract order."""
    codes = load_contract(dataset).columns[column].codes or {}
    return {str(code): label for code, label in codes.items()}
