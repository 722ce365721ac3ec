"""The three extract contracts, loaded once from their YAML descriptions."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

from etl.contracts.model import (
    Column,
    ColumnType,
    Condition,
    Contract,
    Rule,
    Severity,
)

DATASETS: tuple[str, ...] = ("workforce", "referrals", "closures")

__all__ = [
    "DATASETS",
    "Column",
    "ColumnType",
    "Condition",
    "Contract",
    "Rule",
    "Severity",
    "all_contracts",
    "load_contract",
]


@cache
def load_contract(dataset: str) -> Contract:
    """The contract of one dataset; an unknown name is a programming error."""
    if dataset not in DATASETS:
        raise KeyError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    text = resources.files(__package__).joinpath(f"{dataset}.yml").read_text(encoding="utf-8")
    return Contract.model_validate(yaml.safe_load(text))


def all_contracts() -> list[Contract]:
    return [load_contract(name) for name in DATASETS]
