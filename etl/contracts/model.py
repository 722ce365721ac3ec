"""Strict models for the dataset descriptions in ``etl/contracts/*.yml``.

A description is data, not code: every column, type, code list, required-when
condition and hard or soft rule of EXTRACTS.md lives in one YAML file per
dataset.  These models load it and refuse anything they do not understand
(unknown keys, rules naming columns that do not exist), so a typo in a
contract fails loudly at import rather than silently skipping a check.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A typed scalar as it appears in a condition or code list.
Scalar = str | int | bool


class ColumnType(StrEnum):
    TEXT = "text"
    DATE = "date"
    BOOL = "bool"
    INT = "int"
    DECIMAL = "decimal"
    CODE = "code"


class Severity(StrEnum):
    """Error rejects the whole file; warning is recorded and the file loads."""

    ERROR = "error"
    WARNING = "warning"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ``{column: [allowed values]}``; all pairs must hold (AND).
Condition = dict[str, list[Scalar]]


class Column(_Strict):
    name: str = ""
    type: ColumnType
    required: bool = False
    required_when: Condition | None = None
    blank_when: Condition | None = None
    description: str = ""
    pattern: str | None = None
    max_length: int | None = None
    min: float | None = None
    min_exclusive: bool = False
    max: float | None = None
    codes: dict[Scalar, str] | None = None
    identifier: bool = False
    coarsen: Literal["month"] | None = None
    cin_rule: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if self.required and self.required_when:
            raise ValueError(f"{self.name}: 'required' and 'required_when' are exclusive")
        if self.type is ColumnType.CODE and not self.codes:
            raise ValueError(f"{self.name}: a code column needs its code list")
        if self.codes and self.type not in (ColumnType.CODE, ColumnType.INT):
            raise ValueError(f"{self.name}: only code and int columns take a code list")
        if self.coarsen and self.type is not ColumnType.DATE:
            raise ValueError(f"{self.name}: only dates can be coarsened")
        return self

    @property
    def code_values(self) -> list[Scalar]:
        return list(self.codes or {})


class _Rule(_Strict):
    id: str
    column: str
    message: str
    severity: Severity = Severity.ERROR
    where: Condition | None = None
    cin_rule: str | None = None


class CompareRule(_Rule):
    """``column op other`` where other is a column or ``@month_start``/``@month_end``.

    Rows where either side is blank are not checked: blanks are the business
    of the column's required rules.
    """

    kind: Literal["compare"]
    op: Literal["==", "<=", ">=", "<", ">"]
    other: str


class InMonthRule(_Rule):
    """The date falls inside the reporting month."""

    kind: Literal["in_month"]


class UniqueRule(_Rule):
    """No two (filtered) rows share a value of ``column``."""

    kind: Literal["unique"]


class RequiresRule(_Rule):
    """When ``column`` has a value, ``other`` must too."""

    kind: Literal["requires"]
    other: str


class AllowedRule(_Rule):
    """``column`` takes one of ``values`` (on rows matching ``where``)."""

    kind: Literal["allowed"]
    values: list[Scalar]


class MatchesFileRule(_Rule):
    """``column`` equals a part of the file name (``la_code``)."""

    kind: Literal["matches_file"]
    part: Literal["la_code"]


class ReferenceRule(_Rule):
    """``column`` names a row of another dataset already in the warehouse.

    With ``needs``, the referenced row must also have a value in that column.
    """

    kind: Literal["reference"]
    dataset: str
    needs: str | None = None


Rule = Annotated[
    CompareRule
    | InMonthRule
    | UniqueRule
    | RequiresRule
    | AllowedRule
    | MatchesFileRule
    | ReferenceRule,
    Field(discriminator="kind"),
]

MONTH_BOUNDS = ("@month_start", "@month_end")


class Contract(_Strict):
    dataset: Literal["workforce", "referrals", "closures"]
    title: str
    grain: str
    codes_from: str
    key: list[str] = Field(default_factory=list)
    columns: dict[str, Column]
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _name_columns(cls, data: object) -> object:
        # The YAML keys are the names; copy them in so a Column knows itself.
        if isinstance(data, dict) and isinstance(data.get("columns"), dict):
            data = dict(data)
            data["columns"] = {
                name: {**spec, "name": name} if isinstance(spec, dict) else spec
                for name, spec in data["columns"].items()
            }
        return data

    @model_validator(mode="after")
    def _references_resolve(self) -> Contract:
        known = set(self.columns)
        for column in self.columns.values():
            for cond in (column.required_when, column.blank_when):
                self._check_names(f"column {column.name}", cond or {}, known)
        ids = [rule.id for rule in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.dataset}: duplicate rule ids")
        for rule in self.rules:
            names = {rule.column, *(rule.where or {})}
            other = getattr(rule, "other", None)
            if other and other not in MONTH_BOUNDS:
                names.add(other)
            missing = names - known
            if missing:
                raise ValueError(f"rule {rule.id}: unknown columns {sorted(missing)}")
        for name in self.key:
            if name not in known:
                raise ValueError(f"key column {name} is not a column")
        return self

    @staticmethod
    def _check_names(owner: str, cond: Condition, known: set[str]) -> None:
        missing = set(cond) - known
        if missing:
            raise ValueError(f"{owner}: condition on unknown columns {sorted(missing)}")

    @property
    def required_columns(self) -> list[str]:
        """Columns that must be present in the header (required in some rows)."""
        return [c.name for c in self.columns.values() if c.required or c.required_when]

    @property
    def identifier_columns(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.identifier]
