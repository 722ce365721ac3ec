"""The pack's trend charts as data: 24 months per series, the plan's trajectory beside.

A :class:`Chart` holds only what is drawn (labels and numbers), so it is part
of the view's digest and of the chart cache key; :mod:`etl.report.charts`
draws it.  For an audience that suppresses small numbers a month whose figure
would read ``c`` is a gap, like a month with no figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from etl.kpis import Unit, registry
from etl.report.config import PackConfig
from etl.report.content import PackData
from etl.report.figures import BLANK, short_month, shown
from etl.warehouse.measures import KpiValue


@dataclass(frozen=True)
class Series:
    """One line or set of bars of a chart; None is a gap (blank or suppressed)."""

    label: str
    values: tuple[float | None, ...]
    kind: str  # "line", "bar" or "target"
    #: The last month's figure as the tables print it ("12.4%", "c", "not available").
    latest: str = ""


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: Unit
    months: tuple[str, ...]
    series: tuple[Series, ...]
    #: The chart in words, for the alt text and the plain-text e-mail.
    alt: str
    #: What ``months`` holds: month names ("Apr 2023") or years ("2023").
    axis: str = "month"


class _Trends:
    """Builds the charts of one audience's copy."""

    def __init__(
        self,
        data: PackData,
        config: PackConfig,
        suppress: bool,
        by_month: Sequence[Mapping[str, KpiValue]],
    ) -> None:
        self.data = data
        self.config = config
        self.suppress = suppress
        self.by_month = by_month
        self.catalogue = registry()

    def series(self, kpi_id: str, kind: str = "line", label: str = "") -> Series:
        """A measure's 24 months; suppressed or blank months are gaps."""
        values = []
        figure = BLANK
        for i, value in enumerate(self.data.history[kpi_id]):
            figure = shown(
                value,
                self.catalogue[kpi_id],
                suppress=self.suppress,
                month_values=self.by_month[i],
            )
            values.append(value.value if figure.available else None)
        return Series(label or self.catalogue[kpi_id].label, tuple(values), kind, figure.text)

    def target_series(self, kpi_id: str, label: str) -> Series:
        target = self.config.targets[kpi_id]
        values = []
        for month in self.data.months:
            plan_month = self.config.plan.plan_month(month)
            values.append(target.at(plan_month) if plan_month >= 1 else None)
        return Series(label, tuple(values), "target")

    def chart(self, key: str, title: str, unit: Unit, series: list[Series]) -> Chart:
        months = tuple(short_month(m) for m in self.data.months)
        latest = [f"{s.label} {s.latest}" for s in series if s.kind != "target"]
        alt = f"{title}, {months[0]} to {months[-1]}. Latest: {'; '.join(latest)}."
        return Chart(key, title, unit, months, tuple(series), alt)

    def charts(self) -> tuple[Chart, ...]:
        return (
            self.chart(
                "workforce_rates",
                "Vacancy, agency and turnover rates",
                "percent",
                [
                    self.series("vacancy_rate", label="Vacancy"),
                    self.series("agency_rate", label="Agency"),
                    self.series("turnover_rate_12m", label="Turnover (12 months)"),
                    *self._targets("vacancy_rate", "Vacancy target"),
                ],
            ),
            self.chart(
                "caseload",
                "Average caseload",
                "ratio",
                [
                    self.series("average_caseload", label="Average caseload"),
                    *self._targets("average_caseload"),
                ],
            ),
            self.chart(
                "referrals",
                "Referrals and assessments completed",
                "count",
                [
                    self.series("referrals", "bar", "Referrals"),
                    self.series("assessments_completed", label="Assessments completed"),
                ],
            ),
            self.chart(
                "referral_rates",
                "Re-referrals, no further action and assessment timeliness",
                "percent",
                [
                    self.series("re_referral_rate", label="Re-referrals"),
                    self.series("nfa_rate", label="No further action"),
                    self.series("assessment_timeliness", label="Assessed in 45 days"),
                ],
            ),
            self.chart(
                "capacity",
                "Closures because no social worker could be allocated",
                "count",
                [
                    self.series("capacity_closures", "bar", "In the month"),
                    self.series("capacity_closures_3m", label="Last 3 months"),
                    *self._targets("capacity_closures_3m", "Target (3 months)"),
                ],
            ),
        )

    def _targets(self, kpi_id: str, label: str = "Target") -> list[Series]:
        """The plan's trajectory for ``kpi_id`` (none when it has no target)."""
        return [self.target_series(kpi_id, label)] if kpi_id in self.config.targets else []


def build(
    data: PackData,
    config: PackConfig,
    suppress: bool,
    by_month: Sequence[Mapping[str, KpiValue]],
) -> tuple[Chart, ...]:
    """Every chart of the pack; ``by_month`` holds each history month's values."""
    return _Trends(data, config, suppress, by_month).charts()
