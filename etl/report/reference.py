"""What ships with the pack and is not configuration: how measures read, England's figures.

``measures.yml`` says how each measure of KPIS.md is named, shown, suppressed
and defined; ``england.yml`` holds the published DfE figures the pack sets
beside the LA's, each with its source.  Both are checked against
:data:`~etl.warehouse.measures.KPI_IDS` when read, so a measure added to the
warehouse without its wording fails loudly here.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from etl.months import Month
from etl.report.yamlfile import packaged, read_model
from etl.warehouse.measures import KPI_IDS

Unit = Literal["percent", "count", "fte", "ratio", "days"]
Section = Literal["workforce", "referrals", "closures"]
SECTIONS: tuple[Section, ...] = ("workforce", "referrals", "closures")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MeasureInfo(_Strict):
    """How the pack names, shows and explains one measure."""

    label: str = Field(min_length=1)
    unit: Unit
    section: Section
    #: ``value``, ``numerator`` or another kpi_id: what decides suppression.
    suppress_by: str
    definition: str = Field(min_length=1)


class Catalogue(RootModel[dict[str, MeasureInfo]]):
    """Every measure of KPIS.md, exactly once."""

    @model_validator(mode="after")
    def _every_measure(self) -> Catalogue:
        missing = [k for k in KPI_IDS if k not in self.root]
        unknown = [k for k in self.root if k not in KPI_IDS]
        if missing or unknown:
            raise ValueError(f"measures missing: {missing}; not in KPIS.md: {unknown}")
        bad = [
            k
            for k, info in self.root.items()
            if info.suppress_by not in ("value", "numerator", *KPI_IDS)
        ]
        if bad:
            raise ValueError(f"suppress_by must be value, numerator or a kpi_id: {bad}")
        return self

    def __getitem__(self, kpi_id: str) -> MeasureInfo:
        return self.root[kpi_id]


@cache
def catalogue() -> Catalogue:
    """The measure catalogue shipped with the package (``measures.yml``)."""
    result: Catalogue = read_model(packaged("measures.yml"), Catalogue)
    return result


# --- England ---------------------------------------------------------------------------


class Source(_Strict):
    title: str
    publisher: str
    url: str


class EnglandFigures(_Strict):
    """One publication's England figures (one reporting year of one source)."""

    source: str
    reporting_year: int
    #: The date the figures describe (a census day, or a year's last day).
    as_at: date
    #: How the pack names that date: "at 30 September 2024".
    period: str
    values: dict[str, float]


class England(_Strict):
    sources: dict[str, Source]
    figures: list[EnglandFigures]

    @model_validator(mode="after")
    def _consistent(self) -> England:
        for figures in self.figures:
            if figures.source not in self.sources:
                raise ValueError(f"figures name an unknown source {figures.source!r}")
            unknown = [k for k in figures.values if k not in KPI_IDS]
            if unknown:
                raise ValueError(f"England figures for measures not in KPIS.md: {unknown}")
        return self

    def for_measure(self, kpi_id: str, month: Month) -> EnglandValue | None:
        """England's figure for ``kpi_id`` to set beside ``month``'s, or None.

        The latest dated on or before the month's end; a month older than
        every figure gets the earliest (its period is always printed).
        """
        candidates = sorted((f for f in self.figures if kpi_id in f.values), key=lambda f: f.as_at)
        if not candidates:
            return None
        due = [f for f in candidates if f.as_at <= month.end]
        chosen = due[-1] if due else candidates[0]
        source = self.sources[chosen.source]
        return EnglandValue(
            kpi_id=kpi_id,
            value=chosen.values[kpi_id],
            period=chosen.period,
            source=f'{source.publisher}, "{source.title}", reporting year {chosen.reporting_year}',
        )


class EnglandValue(BaseModel):
    model_config = ConfigDict(frozen=True)

    kpi_id: str
    value: float
    period: str
    source: str


@cache
def england() -> England:
    """England's published figures shipped with the package (``england.yml``)."""
    result: England = read_model(packaged("england.yml"), England)
    return result
