"""Strict models for the descriptions of DfE's publications (``publications/*.yml``).

Like the extract contracts, each publication is described once, as data: its
columns, the symbols that stand for "not available", its geographic levels,
how its ``time_period`` becomes a date, and which of its columns are the
benchmarks of KPIS.md.  The reader, the Great Expectations suite, the
warehouse rows and the pack all follow from that description; these models
refuse anything they do not understand.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Geographic levels, and the column holding each level's area code.
LEVELS: dict[str, str] = {
    "National": "country_code",
    "Regional": "region_code",
    "Local authority": "old_la_code",
}
LA_LEVEL = "Local authority"
NATIONAL = "National"
REGIONAL = "Regional"
#: Where each level's area is named.
LEVEL_NAMES: dict[str, str] = {
    "National": "country_name",
    "Regional": "region_name",
    "Local authority": "la_name",
}

Unit = Literal["percent", "number", "count"]
#: Decimal places a published percentage keeps as a fraction.
FRACTION_DECIMALS = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    """How a ``time_period`` (a year) becomes the date its figures describe."""

    column: str
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    #: How the pack names the period: ``at 30 September {year}``.
    label: str

    def reference_date(self, year: int) -> date:
        return date(year, self.month, self.day)

    def describe(self, year: int) -> str:
        return self.label.format(year=year)


class Indicator(_Strict):
    """A column of the publication that the pack sets beside the LA's own measure."""

    column: str
    label: str
    unit: Unit
    #: The LA's monthly measure (KPIS.md) it compares with.
    kpi_id: str
    #: In ``benchmarks.csv`` (KPIS.md, "Benchmarks").
    benchmark: bool = True
    #: Charted across every published year in the pack.
    chart: bool = False
    #: How DfE's annual definition differs from the monthly one (for the pack).
    compared: str

    def as_fraction(self, value: float | None) -> float | None:
        """A published value as kpis.csv states it (rates as fractions)."""
        if value is None:
            return None
        # Published to one decimal place: 18.9 / 100 is 0.18899999999999997 in
        # floating point; rounded well below what was published, it is 0.189.
        return round(value / 100, FRACTION_DECIMALS) if self.unit == "percent" else value


class Figures(_Strict):
    """A publication of figures by geographic level and year (one row per area and year)."""

    name: str
    kind: Literal["figures"]
    title: str
    table: str
    publisher: str
    url: str
    #: The copy shipped in ``etl/reference/data/``.
    shipped: str
    period: Period
    #: Text columns every file of this publication has.
    dimensions: list[str]
    #: Value columns: a number, or one of ``symbols``, or blank.
    values: list[str]
    #: Symbols DfE puts in a value column instead of a number (none is 0).
    symbols: dict[str, str]
    indicators: dict[str, Indicator] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Figures:
        needed = {self.period.column, *LEVELS.values(), *LEVEL_NAMES.values(), "geographic_level"}
        missing = needed - set(self.dimensions)
        if missing:
            raise ValueError(f"{self.name}: dimensions lack {sorted(missing)}")
        if set(self.dimensions) & set(self.values):
            raise ValueError(f"{self.name}: a column cannot be a dimension and a value")
        for key, indicator in self.indicators.items():
            if indicator.column not in self.values:
                raise ValueError(f"{self.name}: indicator {key} names no value column")
        return self

    @property
    def columns(self) -> list[str]:
        return [*self.dimensions, *self.values]


class Neighbours(_Strict):
    """DfE's statistical neighbour model: each LA's nearest LAs, in order, with closeness."""

    name: str
    kind: Literal["neighbours"]
    title: str
    publisher: str
    url: str
    shipped: str
    la_column: str
    name_column: str
    region_column: str
    dimensions: list[str]
    neighbours: int = Field(ge=1, le=20)
    #: Column names with ``{n}`` for the neighbour's position (1 = nearest).
    code_column: str
    closeness_column: str
    closeness: list[str]

    @model_validator(mode="after")
    def _consistent(self) -> Neighbours:
        for column in (self.la_column, self.name_column, self.region_column):
            if column not in self.dimensions:
                raise ValueError(f"{self.name}: {column} is not among the dimensions")
        return self

    def code(self, n: int) -> str:
        return self.code_column.format(n=n)

    def closeness_of(self, n: int) -> str:
        return self.closeness_column.format(n=n)

    @property
    def columns(self) -> list[str]:
        pairs = [(self.code(n), self.closeness_of(n)) for n in range(1, self.neighbours + 1)]
        return [*self.dimensions, *(column for pair in pairs for column in pair)]


Publication = Annotated[Figures | Neighbours, Field(discriminator="kind")]
