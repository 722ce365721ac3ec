"""KPIS.md's benchmarks, in SQL: the LA beside its neighbours, its region and England.

For a pack (LA, month M) and each indicator of a publication's description:

* ``period``: the latest year whose reference date (30 September; 31 March)
  is on or before the last day of M, whatever the LA's own value;
* the LA's value, its region's (the region_code of the LA's own row), and
  England's, for that year;
* the median of its statistical neighbours' values (those that have one) and
  how many had one;
* its rank: 1 + the LAs with a strictly lower value, and of how many LAs with
  a value, a row DfE publishes for several LAs together counting once.

One statement per indicator and year, the same on SQLite and PostgreSQL
(the median by ``row_number``, which both have).  Values are returned as
published (percent, or as the column states); :class:`Benchmark` turns them
into kpis.csv's units.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.months import Month
from etl.reference import figures_publications
from etl.reference.model import LA_LEVEL, NATIONAL, REGIONAL, Figures, Indicator
from etl.warehouse.db import Bind, transaction
from etl.warehouse.schema import published_figures, statistical_neighbours

BENCHMARKS_HEADER = (
    "la_code",
    "indicator",
    "period",
    "la_value",
    "neighbours_median",
    "neighbours_n",
    "region_value",
    "england_value",
    "rank",
    "of",
)
#: Published values are rounded; a quotient is kept to this many places.
DECIMALS = 10


@dataclass(frozen=True)
class Benchmark:
    """One indicator for one LA and year, in kpis.csv's units (rates as fractions)."""

    la_code: str
    key: str
    indicator: Indicator
    publication: Figures
    period: date | None
    time_period: int | None
    la_value: float | None
    la_symbol: str | None
    neighbours_median: float | None
    neighbours_n: int
    region_value: float | None
    region_name: str | None
    england_value: float | None
    rank: int | None
    of: int | None

    @property
    def period_text(self) -> str:
        """How the pack names the period ("at 30 September 2024")."""
        if self.time_period is None:
            return "no published year yet"
        return self.publication.period.describe(self.time_period)

    @property
    def source(self) -> str:
        p = self.publication
        year = f", {self.time_period}" if self.time_period else ""
        return f'{p.publisher}, "{p.title}" ({p.table}{year})'

    def csv_row(self) -> list[str]:
        return [
            self.la_code,
            self.key,
            self.period.isoformat() if self.period else "",
            _number(self.la_value),
            _number(self.neighbours_median),
            str(self.neighbours_n),
            _number(self.region_value),
            _number(self.england_value),
            "" if self.rank is None else str(self.rank),
            "" if self.of is None else str(self.of),
        ]


def _number(value: float | None) -> str:
    return "" if value is None else repr(round(value, DECIMALS))


def indicators(*, benchmarks_only: bool = True) -> list[tuple[Figures, str, Indicator]]:
    """Every indicator of every publication, in description order."""
    return [
        (p, key, indicator)
        for p in figures_publications()
        for key, indicator in p.indicators.items()
        if indicator.benchmark or not benchmarks_only
    ]


def benchmarks(
    bind: Bind, la_code: str, month: Month, *, benchmarks_only: bool = True
) -> list[Benchmark]:
    """Each indicator for ``la_code`` in its period for ``month`` (KPIS.md's rows)."""
    with transaction(bind) as connection:
        return [
            _benchmark(
                connection, la_code, p, key, indicator, _period(connection, p, indicator, month)
            )
            for p, key, indicator in indicators(benchmarks_only=benchmarks_only)
        ]


def series(bind: Bind, la_code: str, key: str, month: Month) -> list[Benchmark]:
    """One indicator for ``la_code`` in every year published for a date up to
    ``month``'s end, oldest first (for charts)."""
    p, indicator = next((p, i) for p, k, i in indicators(benchmarks_only=False) if k == key)
    f = published_figures
    with transaction(bind) as connection:
        years = connection.scalars(
            sa.select(f.c.time_period)
            .where(
                f.c.publication == p.name,
                f.c.measure == indicator.column,
                f.c.period_end <= month.end,
            )
            .distinct()
            .order_by(f.c.time_period)
        ).all()
        return [_benchmark(connection, la_code, p, key, indicator, int(y)) for y in years]


def benchmarks_csv(rows: Iterable[Benchmark]) -> bytes:
    """benchmarks.csv exactly as KPIS.md defines it: header, then one row per indicator."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(BENCHMARKS_HEADER)
    for row in rows:
        writer.writerow(row.csv_row())
    return buffer.getvalue().encode("utf-8")


@dataclass(frozen=True)
class Neighbour:
    position: int
    la_code: str
    name: str
    closeness: str


def la_name(bind: Bind, la_code: str) -> str | None:
    """The LA's name as DfE's neighbour model gives it (None when it is not in the model)."""
    n = statistical_neighbours
    with transaction(bind) as connection:
        name: str | None = connection.scalar(
            sa.select(n.c.la_name).where(n.c.la_code == la_code).limit(1)
        )
    return name


def neighbours(bind: Bind, la_code: str) -> list[Neighbour]:
    """The LA's statistical neighbours, nearest first, named from the model."""
    n = statistical_neighbours
    named = n.alias("named")
    name = (
        sa.select(named.c.la_name)
        .where(named.c.la_code == n.c.neighbour_code)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        sa.select(n.c.position, n.c.neighbour_code, name.label("name"), n.c.closeness)
        .where(n.c.la_code == la_code)
        .order_by(n.c.position)
    )
    with transaction(bind) as connection:
        return [
            Neighbour(r.position, r.neighbour_code, r.name or r.neighbour_code, r.closeness)
            for r in connection.execute(query)
        ]


# --- SQL ---------------------------------------------------------------------------------


def _period(connection: Connection, p: Figures, indicator: Indicator, month: Month) -> int | None:
    f = published_figures
    year = connection.scalar(
        sa.select(sa.func.max(f.c.time_period)).where(
            f.c.publication == p.name,
            f.c.measure == indicator.column,
            f.c.period_end <= month.end,
        )
    )
    return None if year is None else int(year)


def _benchmark(
    connection: Connection,
    la_code: str,
    p: Figures,
    key: str,
    indicator: Indicator,
    year: int | None,
) -> Benchmark:
    if year is None:
        return Benchmark(
            la_code,
            key,
            indicator,
            p,
            None,
            None,
            None,
            None,
            None,
            0,
            None,
            None,
            None,
            None,
            None,
        )
    f = published_figures
    same = sa.and_(
        f.c.publication == p.name, f.c.measure == indicator.column, f.c.time_period == year
    )
    las = sa.and_(same, f.c.geographic_level == LA_LEVEL)
    own = connection.execute(
        sa.select(f.c.value, f.c.symbol, f.c.region_code).where(las, f.c.area_code == la_code)
    ).first()
    la_value = None if own is None else own.value
    region = None
    if own is not None and own.region_code:
        region = connection.execute(
            sa.select(f.c.value, f.c.area_name).where(
                same, f.c.geographic_level == REGIONAL, f.c.area_code == own.region_code
            )
        ).first()
    england = connection.scalar(sa.select(f.c.value).where(same, f.c.geographic_level == NATIONAL))
    median, available = _neighbours_median(connection, las, la_code)
    rank = of = None
    if la_value is not None:
        counted = sa.func.count(sa.distinct(f.c.reported_as))
        rank = 1 + int(connection.scalar(sa.select(counted).where(las, f.c.value < la_value)) or 0)
        of = int(connection.scalar(sa.select(counted).where(las, f.c.value.is_not(None))) or 0)
    return Benchmark(
        la_code=la_code,
        key=key,
        indicator=indicator,
        publication=p,
        period=p.period.reference_date(year),
        time_period=year,
        la_value=indicator.as_fraction(la_value),
        la_symbol=None if own is None else own.symbol,
        neighbours_median=indicator.as_fraction(median),
        neighbours_n=available,
        region_value=indicator.as_fraction(region.value if region else None),
        region_name=region.area_name if region else None,
        england_value=indicator.as_fraction(england),
        rank=rank,
        of=of,
    )


def _neighbours_median(
    connection: Connection, las: sa.ColumnElement[bool], la_code: str
) -> tuple[float | None, int]:
    """The median of the neighbours' published values, and how many had one."""
    f, n = published_figures, statistical_neighbours
    values = (
        sa.select(
            f.c.value,
            sa.func.row_number().over(order_by=f.c.value).label("position"),
            sa.func.count().over().label("available"),
        )
        .select_from(n.join(f, f.c.area_code == n.c.neighbour_code))
        .where(n.c.la_code == la_code, las, f.c.value.is_not(None))
        .subquery("available")
    )
    # The middle value, or the mean of the middle two: positions (n+1)/2 and
    # (n+2)/2 in integer division.
    middle = sa.or_(
        values.c.position == (values.c.available + 1) // 2,
        values.c.position == (values.c.available + 2) // 2,
    )
    row = connection.execute(
        sa.select(sa.func.avg(values.c.value), sa.func.max(values.c.available)).where(middle)
    ).first()
    if row is None or row[1] is None:
        return None, 0
    return float(row[0]), int(row[1])
