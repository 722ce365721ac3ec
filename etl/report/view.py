"""What one audience's copy of the pack shows: every figure already formatted.

:func:`build_view` turns :class:`~etl.report.content.PackData` into a
:class:`View` of plain, frozen dataclasses holding text, so the templates only
lay it out (no arithmetic, no formatting, no suppression logic in Jinja).
The view depends only on the data, the configuration and whether small
numbers are suppressed; :meth:`View.digest` hashes its figures, which is how a changed
pack is told from one already sent (cosmetic template changes do not count
as a change of the pack).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from etl.kpis import SECTIONS, registry
from etl.report import appendix, compare, hub, trends
from etl.report.config import PackConfig, Rag
from etl.report.content import PackData
from etl.report.figures import (
    Shown,
    display_precision,
    moment,
    month_name,
    number_text,
    short_month,
    shown,
)
from etl.report.tables import Table, needs_table, sources_table, teams_table
from etl.report.trends import Chart
from etl.warehouse.measures import KPI_IDS

_STATUS = {
    Rag.GREEN: "On target",
    Rag.AMBER: "Near target",
    Rag.RED: "Off target",
}
_SECTION_TITLES = {
    "workforce": "Workforce",
    "referrals": "Referrals and assessments",
    "closures": "Closures",
}
#: What says which files the figures came from, not what they are, and what is
#: only another layout of figures the digest already holds (the charts' tables).
_LINEAGE_FIELDS = ("appendix", "figures_as_at", "chart_tables")
#: A month (or year) a chart has no figure for: not available, not published, or
#: (in a copy that suppresses small numbers) shown as c elsewhere.
NO_FIGURE = "no figure"
#: The closure measures shown in the capacity call-out, not in the closures table.
_CAPACITY = ("capacity_closures", "capacity_closures_3m")


@dataclass(frozen=True)
class Tile:
    """A headline figure against the plan."""

    kpi_id: str
    label: str
    figure: Shown
    rag: str
    status: str
    target: str
    plan: str
    previous: str
    england: str


@dataclass(frozen=True)
class MeasureRow:
    kpi_id: str
    label: str
    figure: Shown
    previous: Shown
    target: str
    england: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    rows: tuple[MeasureRow, ...]
    tables: tuple[Table, ...]
    charts: tuple[str, ...]


@dataclass(frozen=True)
class Capacity:
    """Capacity closures, called out on their own."""

    this_month: Shown
    three_months: Shown
    by_month: tuple[tuple[str, Shown], ...]
    rag: str
    status: str
    target: str
    period: str


@dataclass(frozen=True)
class Definition:
    kpi_id: str
    label: str
    section: str
    text: str


@dataclass(frozen=True)
class ChartTable:
    """A chart's figures as a table beside it: one row per month (or year)."""

    key: str
    caption: str
    #: "Month" (or "Year"), then each series' label.
    headers: tuple[str, ...]
    #: Per row: the month's label, then each series' figure as printed.
    rows: tuple[tuple[str, ...], ...]
    note: str


def chart_table(chart: Chart, *, suppressed: bool) -> ChartTable:
    """The figures ``chart`` draws, in words, for readers who cannot see it."""
    columns = [
        [NO_FIGURE if v is None else number_text(v, chart.unit) for v in s.values]
        for s in chart.series
    ]
    rows = tuple(
        (label, *(column[i] for column in columns)) for i, label in enumerate(chart.months)
    )
    why = "not available or not published"
    if suppressed and chart.axis == "month":
        why += ", or shown as c in this copy"
    return ChartTable(
        key=chart.key,
        caption=f"Figures of the chart: {chart.title}",
        headers=("Year" if chart.axis == "year" else "Month", *(s.label for s in chart.series)),
        rows=rows,
        note=f"“{NO_FIGURE}”: {why}.",
    )


@dataclass(frozen=True)
class View:
    """One audience's pack, ready to lay out."""

    la_code: str
    council: str
    month: str
    month_name: str
    plan_name: str
    plan_month: str
    suppressed: bool
    missing: tuple[str, ...]
    figures_as_at: str
    tiles: tuple[Tile, ...]
    capacity: Capacity
    sections: tuple[Section, ...]
    charts: tuple[Chart, ...]
    compare: compare.Compare
    #: The regional hub's table, for an audience that asks for it.
    hub: hub.HubTable | None
    appendix: appendix.Appendix
    definitions: tuple[Definition, ...]
    #: Each chart's figures as a table, in the order of ``charts``.
    chart_tables: tuple[ChartTable, ...] = ()

    def digest(self) -> str:
        """SHA-256 of what the pack says: equal digests mean the same figures.

        The data-quality appendix and the "figures as at" time are left out:
        a file resubmitted with the same figures changes them, and is no
        reason to send the commissioner a correction.  So are the charts'
        tables: the charts, which the digest holds, say the same figures.
        """
        content = asdict(self)
        for lineage in _LINEAGE_FIELDS:
            content.pop(lineage)
        text = json.dumps(content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def chart(self, key: str) -> Chart:
        for chart in self.charts:
            if chart.key == key:
                return chart
        raise KeyError(key)

    def chart_table(self, key: str) -> ChartTable:
        for table in self.chart_tables:
            if table.key == key:
                return table
        raise KeyError(key)


# --- building -------------------------------------------------------------------------


class _Builder:
    """Formats the figures of one pack for one audience."""

    def __init__(
        self, data: PackData, config: PackConfig, suppress: bool, hub_las: list[hub.HubLa] | None
    ) -> None:
        self.data = data
        self.config = config
        self.suppress = suppress
        self.hub_las = hub_las
        self.catalogue = registry()
        self.plan_month = config.plan.plan_month(data.month)
        #: Per month, that month's values (suppression may look at another measure).
        self.by_month = [
            {kpi_id: data.history[kpi_id][i] for kpi_id in KPI_IDS} for i in range(len(data.months))
        ]

    def figure(self, kpi_id: str, back: int = 0) -> Shown:
        """``kpi_id`` as shown, ``back`` months before the pack's month."""
        index = len(self.data.months) - 1 - back
        value = self.data.kpis[kpi_id] if back == 0 else self.data.history[kpi_id][index]
        return shown(
            value,
            self.catalogue[kpi_id],
            suppress=self.suppress,
            month_values=self.data.kpis if back == 0 else self.by_month[index],
        )

    def previous(self, kpi_id: str) -> Shown:
        return self.figure(kpi_id, back=1)

    def target(self, kpi_id: str) -> tuple[float | None, str]:
        target = self.config.targets.get(kpi_id)
        if target is None or self.plan_month < 1:
            return None, ""
        value = target.at(self.plan_month)
        unit = self.catalogue[kpi_id].unit
        return value, f"Target {number_text(value, unit)}"

    def england_text(self, kpi_id: str) -> str:
        if self.catalogue[kpi_id].unit == "count":
            return ""
        return compare.england_text(self.data, kpi_id)

    def rag(self, kpi_id: str) -> tuple[Rag, str]:
        target, _text = self.target(kpi_id)
        figure = self.figure(kpi_id)
        value = self.data.kpis[kpi_id].value
        if target is None:
            return Rag.NONE, "No target yet" if kpi_id in self.config.targets else "No target"
        if not figure.available or value is None:
            return Rag.NONE, "Not rated"
        unit = self.catalogue[kpi_id].unit
        rag = self.config.targets[kpi_id].rag(display_precision(value, unit), target)
        return rag, _STATUS[rag]

    def plan_text(self, kpi_id: str) -> str:
        target = self.config.targets[kpi_id]
        unit = self.catalogue[kpi_id].unit
        steps = [
            f"{number_text(m.target, unit)} by "
            f"{short_month(self.config.plan.month_of(m.by_plan_month))}"
            for m in target.milestones
        ]
        return "Plan: " + ", ".join(steps)

    def tile(self, kpi_id: str) -> Tile:
        rag, status = self.rag(kpi_id)
        previous = self.previous(kpi_id)
        prior_month = short_month(self.data.months[-2])
        return Tile(
            kpi_id=kpi_id,
            label=self.catalogue[kpi_id].label,
            figure=self.figure(kpi_id),
            rag=rag.value,
            status=status,
            target=self.target(kpi_id)[1],
            plan=self.plan_text(kpi_id),
            previous=f"{prior_month}: {previous.text}",
            england=self.england_text(kpi_id),
        )

    def row(self, kpi_id: str) -> MeasureRow:
        return MeasureRow(
            kpi_id=kpi_id,
            label=self.catalogue[kpi_id].label,
            figure=self.figure(kpi_id),
            previous=self.previous(kpi_id),
            target=self.target(kpi_id)[1],
            england=self.england_text(kpi_id),
        )

    def section(self, key: str) -> Section:
        kpi_ids = [k for k in KPI_IDS if self.catalogue[k].section == key and k not in _CAPACITY]
        tables: list[Table] = []
        charts: tuple[str, ...] = ()
        if key == "workforce":
            tables.append(teams_table(self.data, suppress=self.suppress))
            charts = ("workforce_rates", "caseload")
        elif key == "referrals":
            tables.append(sources_table(self.data, suppress=self.suppress))
            tables.append(needs_table(self.data, suppress=self.suppress))
            charts = ("referrals", "referral_rates")
        else:
            charts = ("capacity",)
        return Section(
            key, _SECTION_TITLES[key], tuple(self.row(k) for k in kpi_ids), tuple(tables), charts
        )

    def capacity(self) -> Capacity:
        rag, status = self.rag("capacity_closures_3m")
        months = self.data.months[-3:]
        return Capacity(
            this_month=self.figure("capacity_closures"),
            three_months=self.figure("capacity_closures_3m"),
            by_month=tuple(
                (short_month(m), self.figure("capacity_closures", back=2 - i))
                for i, m in enumerate(months)
            ),
            rag=rag.value,
            status=status,
            target=self.target("capacity_closures_3m")[1],
            period=f"{month_name(months[0])} to {month_name(months[-1])}",
        )

    def definitions(self) -> tuple[Definition, ...]:
        return tuple(
            Definition(
                k,
                self.catalogue[k].label,
                _SECTION_TITLES[self.catalogue[k].section],
                " ".join(
                    part
                    for part in (self.catalogue[k].definition, compare.compared_definition(k))
                    if part
                ),
            )
            for k in KPI_IDS
        )

    def missing(self) -> tuple[str, ...]:
        loaded = self.data.loaded_datasets
        return tuple(
            f"No {dataset} file is loaded for {month_name(self.data.month)}: its measures "
            "read “not available”."
            for dataset in ("workforce", "referrals", "closures")
            if dataset not in loaded
        )

    def figures_as_at(self) -> str:
        times = [r.loaded_at for r in self.data.loads if r.current and r.month == self.data.month]
        return moment(max(times)) if times else "no files loaded"

    def build(self) -> View:
        plan = self.config.plan
        plan_month = (
            f"month {self.plan_month} of the plan (started {month_name(plan.start_month)})"
            if self.plan_month >= 1
            else f"before the plan starts ({month_name(plan.start_month)})"
        )
        council = self.config.council(self.data.la_code, self.data.la_name)
        charts = (
            *trends.build(self.data, self.config, self.suppress, self.by_month),
            *compare.charts(self.data, council),
        )
        return View(
            la_code=self.data.la_code,
            council=council,
            month=str(self.data.month),
            month_name=month_name(self.data.month),
            plan_name=plan.name,
            plan_month=plan_month,
            suppressed=self.suppress,
            missing=self.missing(),
            figures_as_at=self.figures_as_at(),
            tiles=tuple(self.tile(k) for k in self.config.targets),
            capacity=self.capacity(),
            sections=tuple(self.section(key) for key in SECTIONS),
            charts=charts,
            compare=compare.build(self.data),
            hub=None
            if self.hub_las is None
            else hub.build(
                self.hub_las, list(self.config.targets), self.data.month, suppress=self.suppress
            ),
            appendix=appendix.build(self.data, suppress=self.suppress),
            definitions=self.definitions(),
            chart_tables=tuple(chart_table(c, suppressed=self.suppress) for c in charts),
        )


def build_view(
    data: PackData,
    config: PackConfig,
    *,
    suppress: bool,
    hub_las: list[hub.HubLa] | None = None,
) -> View:
    """The pack of ``data`` as seen by an audience that does (or does not) suppress;
    with ``hub_las``, the regional hub's table of those LAs too."""
    return _Builder(data, config, suppress, hub_las).build()
