"""The measures of KPIS.md, each defined once (``kpis.yml``).

One registry says, for every kpi_id, what the warehouse computes (the dataset
it reads, how many months of files, whether it is a rate) and how the pack
names, shows, suppresses and defines it.  The SQL
(:mod:`etl.warehouse.measures_sql`) is checked against it before any measure
is computed, so a measure added here without its SQL, or SQL without its
entry here, is an error rather than a figure that is silently blank.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from etl.report.yamlfile import read_model

Unit = Literal["percent", "count", "fte", "ratio", "days"]
Dataset = Literal["workforce", "referrals", "closures"]
#: The pack's sections, one per dataset, in the order of KPIS.md.
SECTIONS: tuple[Dataset, ...] = ("workforce", "referrals", "closures")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Kpi(_Strict):
    """One measure: what the warehouse computes and how the pack shows it."""

    kpi_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    dataset: Dataset
    #: How many extract months ending at M must be loaded (1: just M's file).
    window: int = Field(default=1, ge=1)
    #: value = numerator / denominator, both kept.
    rate: bool = False
    #: Why the value is blank when its months are loaded but the denominator
    #: is zero (or, for the median, there is nothing to take it of).
    when_empty: str = ""
    label: str = Field(min_length=1)
    unit: Unit
    #: ``value``, ``numerator`` or another kpi_id: what decides suppression.
    suppress_by: str
    definition: str = Field(min_length=1)

    @property
    def section(self) -> Dataset:
        """The pack's section the measure is shown in: its dataset's."""
        return self.dataset


class Registry(RootModel[dict[str, Kpi]]):
    """Every measure, keyed by kpi_id, in KPIS.md's order."""

    @model_validator(mode="before")
    @classmethod
    def _ids_from_keys(cls, data: object) -> object:
        # The file is keyed by kpi_id; each model carries its own id too.
        if isinstance(data, dict):
            return {
                key: {"kpi_id": key, **value} if isinstance(value, dict) else value
                for key, value in data.items()
            }
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Registry:
        ids = set(self.root)
        bad = [
            k for k, kpi in self.root.items() if kpi.suppress_by not in ("value", "numerator", *ids)
        ]
        if bad:
            raise ValueError(f"suppress_by must be value, numerator or a kpi_id: {bad}")
        unrated = [k for k, kpi in self.root.items() if kpi.unit == "percent" and not kpi.rate]
        if unrated:
            raise ValueError(f"a percent measure must be a rate (rate: true): {unrated}")
        return self

    def __getitem__(self, kpi_id: str) -> Kpi:
        return self.root[kpi_id]

    def __iter__(self) -> Iterator[Kpi]:  # type: ignore[override]
        return iter(self.root.values())

    def __len__(self) -> int:
        return len(self.root)

    @property
    def ids(self) -> list[str]:
        """The kpi_ids in KPIS.md's order."""
        return list(self.root)

    def of(self, dataset: str) -> list[Kpi]:
        """The measures reading ``dataset``, in order."""
        return [kpi for kpi in self if kpi.dataset == dataset]


def read_registry(path: Path) -> Registry:
    """A registry file read and checked (a fault is one sentence naming the file)."""
    result: Registry = read_model(path, Registry)
    return result


@cache
def registry() -> Registry:
    """The registry shipped with the package (``etl/kpis.yml``)."""
    return read_registry(Path(str(resources.files("etl").joinpath("kpis.yml"))))
