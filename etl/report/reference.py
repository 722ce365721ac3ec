"""What ships with the pack and is not configuration: how each measure reads.

``measures.yml`` says how each measure of KPIS.md is named, shown, suppressed
and defined.  It is checked against :data:`~etl.warehouse.measures.KPI_IDS`
when read, so a measure added to the warehouse without its wording fails
loudly here.  England's and other councils' published figures are not here:
they are DfE's files, loaded into the warehouse (:mod:`etl.reference`).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

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
