"""A regional hub's table: the month's headline measures of every loaded LA side by side.

For an audience with ``hub_table: true`` (pack configuration) the pack adds a
table with one row per LA that has a current load for the month, and the
hub's total computed from the rows: a rate's numerators summed over its
denominators (never an average of the LAs' rates), a count summed.  The
total is taken over the LAs that have the figure, and the table says how
many those are.  Read in one query for every LA of the month.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from etl.kpis import registry
from etl.months import Month
from etl.report.figures import Shown, shown
from etl.warehouse.db import Bind, transaction
from etl.warehouse.measures import KpiValue
from etl.warehouse.schema import CURRENT_LOAD, loads, measures, statistical_neighbours

#: The hub total's ``la_code`` in the values it is formatted from.
HUB = "hub"


@dataclass(frozen=True)
class HubLa:
    """One loaded LA's stored measures for the month."""

    la_code: str
    name: str
    kpis: dict[str, KpiValue]


@dataclass(frozen=True)
class HubTable:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Shown, ...]], ...]
    total: tuple[Shown, ...]
    note: str


def hub_las(bind: Bind, month: Month, names: dict[str, str]) -> list[HubLa]:
    """Every LA with a current load for ``month``, its measures, in LA-code order."""
    current = (
        sa.select(loads.c.la_code)
        .where(
            loads.c.month == month.start,
            CURRENT_LOAD,
        )
        .distinct()
    )
    query = sa.select(measures).where(
        measures.c.month == month.start, measures.c.la_code.in_(current)
    )
    published = sa.select(statistical_neighbours.c.la_code, statistical_neighbours.c.la_name).where(
        statistical_neighbours.c.position == 1
    )
    by_la: dict[str, dict[str, KpiValue]] = defaultdict(dict)
    with transaction(bind) as connection:
        for r in connection.execute(query):
            by_la[r.la_code][r.kpi_id] = KpiValue(
                r.la_code, month, r.kpi_id, r.value, r.numerator, r.denominator, r.reason
            )
        dfe_names = dict(connection.execute(published).tuples().all())
    return [
        HubLa(la, names.get(la) or dfe_names.get(la) or f"LA {la}", kpis)
        for la, kpis in sorted(by_la.items())
    ]


def hub_total(las: list[HubLa], kpi_id: str, month: Month) -> tuple[KpiValue, int]:
    """The hub's figure for ``kpi_id`` from the LAs' rows, and how many LAs it covers."""
    values = [la.kpis[kpi_id] for la in las if kpi_id in la.kpis]
    available = [v for v in values if v.value is not None]
    if not available:
        return KpiValue(HUB, month, kpi_id, None, None, None, "no LA has the figure"), 0
    if all(v.denominator is not None and v.numerator is not None for v in available):
        numerator = sum(v.numerator or 0.0 for v in available)
        denominator = sum(v.denominator or 0.0 for v in available)
        if not denominator:
            return KpiValue(HUB, month, kpi_id, None, numerator, denominator, "zero base"), 0
        value = numerator / denominator
        return KpiValue(HUB, month, kpi_id, value, numerator, denominator), len(available)
    if any(v.denominator is not None for v in available) or registry()[kpi_id].unit != "count":
        # A median, say: no total can be made from the rows.
        return KpiValue(HUB, month, kpi_id, None, None, None, "not additive"), 0
    total = sum(v.value or 0.0 for v in available)
    return KpiValue(HUB, month, kpi_id, total, None, None), len(available)


def build(las: list[HubLa], kpi_ids: list[str], month: Month, *, suppress: bool) -> HubTable:
    """The table as one audience reads it (small numbers suppressed when it suppresses)."""
    info = registry()
    rows = []
    for la in las:
        cells = tuple(
            shown(la.kpis[k], info[k], suppress=suppress, month_values=la.kpis)
            if k in la.kpis
            else Shown("not available", "blank", "no figure for the month")
            for k in kpi_ids
        )
        rows.append((la.name, cells))
    totals = {k: hub_total(las, k, month) for k in kpi_ids}
    total_values = {k: v for k, (v, _n) in totals.items()}
    total = tuple(
        shown(totals[k][0], info[k], suppress=suppress, month_values=total_values) for k in kpi_ids
    )
    partial = [info[k].label for k, (_v, n) in totals.items() if 0 < n < len(las)]
    note = (
        "The hub's figures are computed from the LAs' own numbers: each rate is the sum of "
        "its numerators over the sum of its denominators, each count a sum."
    )
    if partial:
        note += (
            f" Not every LA has a figure for: {', '.join(partial)}; those totals cover "
            "the LAs that do."
        )
    return HubTable(
        title=f"Regional hub: {len(las)} LAs loaded for this month",
        headers=("LA", *(info[k].label for k in kpi_ids)),
        rows=tuple(rows),
        total=total,
        note=note,
    )
