"""Landed file names: ``{dataset}_{la_code}_{YYYY-MM}.{csv|xlsx}``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from etl.contracts import DATASETS
from etl.months import Month

SUFFIXES = (".csv", ".xlsx")
_NAME = re.compile(
    r"^(?P<dataset>[a-z]+)_(?P<la>\d{3})_(?P<month>\d{4}-\d{2})\.(?P<ext>csv|xlsx)$",
    re.IGNORECASE,
)


def is_la_code(text: str) -> bool:
    """A DfE LA code: three ASCII digits (as in ``referrals_330_2025-03.csv``)."""
    return len(text) == 3 and text.isascii() and text.isdigit()


class BadFileName(ValueError):
    """The file name does not follow the contract; the file is rejected."""


@dataclass(frozen=True)
class ExtractName:
    dataset: str
    la_code: str
    month: Month
    suffix: str

    @property
    def filename(self) -> str:
        return f"{self.dataset}_{self.la_code}_{self.month}{self.suffix}"


def parse_name(path: str | Path) -> ExtractName:
    """Parse a landed file's name, or raise BadFileName saying what is wrong."""
    name = Path(path).name
    match = _NAME.match(name)
    if not match:
        raise BadFileName(
            f"{name}: the name must be {{dataset}}_{{la_code}}_{{YYYY-MM}}.csv or .xlsx, "
            "e.g. referrals_330_2025-03.csv"
        )
    dataset = match.group("dataset").lower()
    if dataset not in DATASETS:
        raise BadFileName(f"{name}: unknown dataset {dataset!r}; expected {', '.join(DATASETS)}")
    try:
        month = Month.parse(match.group("month"))
    except ValueError as exc:
        raise BadFileName(f"{name}: {exc}") from None
    return ExtractName(dataset, match.group("la"), month, "." + match.group("ext").lower())


def extract_filename(dataset: str, la_code: str, month: Month, suffix: str = ".csv") -> str:
    return ExtractName(dataset, la_code, month, suffix).filename
