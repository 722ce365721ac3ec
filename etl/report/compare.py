"""The pack's "How we compare": the LA beside its neighbours, its region and England.

Every figure comes from DfE's published statistics in the warehouse
(:mod:`etl.reference.benchmarks`), the same rows ``benchmarks.csv`` holds, so
the pack and the file cannot disagree; England's figures in the tiles come
from here too.  A value DfE did not publish reads "not available" with its
symbol's meaning, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl.kpis import Unit
from etl.reference import ATTRIBUTION, figures_publications
from etl.reference.benchmarks import Benchmark, Neighbour
from etl.reference.model import Indicator
from etl.report.content import PackData
from etl.report.figures import Shown, number_text
from etl.report.trends import Chart, Series


@dataclass(frozen=True)
class CompareRow:
    key: str
    label: str
    la: Shown
    neighbours: Shown
    #: "10 of 10 neighbours".
    neighbours_n: str
    region: Shown
    region_name: str
    england: Shown
    #: "93 of 149" (1 = the lowest value), blank when the LA has no value.
    rank: str
    period: str
    source: str


@dataclass(frozen=True)
class Compare:
    """What the section shows; ``available`` is False before any release is loaded."""

    available: bool
    rows: tuple[CompareRow, ...]
    neighbours: tuple[Neighbour, ...]
    charts: tuple[str, ...]
    notes: tuple[str, ...]
    sources: tuple[str, ...]
    attribution: str


def unit_of(indicator: Indicator) -> Unit:
    """The pack's unit for a published indicator."""
    units: dict[str, Unit] = {"percent": "percent", "count": "count", "number": "ratio"}
    return units[indicator.unit]


def published(value: float | None, b: Benchmark, symbol: str | None = None) -> Shown:
    """A figure of ``b``'s publication; one DfE did not publish reads as its symbol
    ("u", with what the publication says it means), or "not available"."""
    if value is None:
        if symbol and symbol in b.publication.symbols:
            return Shown(symbol, "blank", b.publication.symbols[symbol])
        return Shown("not available", "blank", "not published")
    return Shown(number_text(value, unit_of(b.indicator)))


def england_text(data: PackData, kpi_id: str) -> str:
    """ "England 14.2% (at 30 September 2025)" for a tile or table row, or ""."""
    for b in data.comparisons:
        if b.indicator.kpi_id == kpi_id and b.england_value is not None:
            if b.indicator.unit == "count":
                return ""
            text = number_text(b.england_value, unit_of(b.indicator))
            return f"England {text} ({b.period_text})"
    return ""


def compared_definition(kpi_id: str) -> str:
    """How DfE's annual figure for ``kpi_id`` is defined differently, or ""."""
    for publication in figures_publications():
        for indicator in publication.indicators.values():
            if indicator.kpi_id == kpi_id:
                return indicator.compared
    return ""


def _row(b: Benchmark, model_size: int) -> CompareRow:
    i = b.indicator
    return CompareRow(
        key=b.key,
        label=i.label,
        la=published(b.la_value, b, b.la_symbol),
        neighbours=published(b.neighbours_median, b),
        neighbours_n=f"{b.neighbours_n} of {model_size}",
        region=published(b.region_value, b),
        region_name=b.region_name or "",
        england=published(b.england_value, b),
        rank="" if b.rank is None else f"{b.rank} of {b.of}",
        period=b.period_text,
        # Short in the table; the sources paragraph names each publication in full.
        source=f"DfE, {b.publication.title} {b.time_period}" if b.time_period else "",
    )


def build(data: PackData) -> Compare:
    rows = tuple(_row(b, len(data.neighbours)) for b in data.benchmarks)
    available = any(b.time_period is not None for b in data.comparisons)
    notes = []
    for b in data.comparisons:
        if b.indicator.unit == "count" and b.england_value is not None:
            notes.append(
                f"England, {b.period_text}: {number_text(b.england_value, 'count')} "
                f"{b.indicator.label.lower()} ({b.source})."
            )
    # Named, not linked: the e-mail carries no remote URL (INTERFACE.md).
    sources = tuple(f'{p.publisher}, "{p.title}", {p.table}' for p in figures_publications())
    return Compare(
        available=available,
        rows=rows,
        neighbours=tuple(data.neighbours),
        charts=tuple(f"compare_{key}" for key in data.compare_series),
        notes=tuple(notes),
        sources=sources,
        attribution=ATTRIBUTION,
    )


def charts(data: PackData, council: str) -> tuple[Chart, ...]:
    """A chart per charted indicator: the LA, its neighbours' median and England by year."""
    result = []
    for key, years in data.compare_series.items():
        if not years:
            continue
        indicator = years[0].indicator
        labels = tuple(str(b.time_period) for b in years)
        lines = (
            Series(council, tuple(b.la_value for b in years), "line"),
            Series("Neighbours' median", tuple(b.neighbours_median for b in years), "line"),
            Series("England", tuple(b.england_value for b in years), "line"),
        )
        latest = years[-1]
        said = [f"{line.label} {published(line.values[-1], latest).text}" for line in lines]
        title = f"{indicator.label}, {latest.publication.period.label.format(year='each year')}"
        alt = (
            f"{indicator.label} by year, {labels[0]} to {labels[-1]}: {council}, the median of "
            f"its statistical neighbours, and England. {latest.period_text}: {'; '.join(said)}."
        )
        result.append(
            Chart(
                f"compare_{key}",
                title,
                unit_of(indicator),
                labels,
                lines,
                alt,
                axis="year",
            )
        )
    return tuple(result)
