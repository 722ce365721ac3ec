"""Data problems as records that people read.

A data problem (a bad code, a date outside the month, a missing column) is
never raised: each step returns it as a :class:`Problem`, and the caller
decides (an error rejects the file, a warning is reported and the file
loads).  Exceptions are kept for faults in code or configuration.

A problem names the file, the rule, the column and the row numbers (as a
person sees them in the file: the header is row 1), never a raw identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.contracts import Severity

#: How many row numbers a message lists before saying "and N more".
ROWS_SHOWN = 10


@dataclass(frozen=True)
class Problem:
    file: str
    rule: str
    severity: Severity
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    count: int = 0
    cin_rule: str | None = None
    examples: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.count:
            object.__setattr__(self, "count", len(self.rows) or 1)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def describe(self) -> str:
        """One line for a person: file, rule, column, rows, what is wrong."""
        parts = [f"{self.file}: {self.severity.value}: rule {self.rule}"]
        if self.cin_rule:
            parts[0] += f" (CIN rule {self.cin_rule})"
        if self.column:
            parts.append(f"column {self.column}")
        if self.rows:
            parts.append(f"{_plural(self.count, 'row')} {format_rows(self.rows, self.count)}")
        text = ", ".join(parts) + f": {self.message}"
        if self.examples:
            text += f" (e.g. {', '.join(repr(e) for e in self.examples)})"
        return text

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready summary kept with the load record."""
        return {
            "file": self.file,
            "rule": self.rule,
            "severity": self.severity.value,
            "column": self.column,
            "count": self.count,
            "rows": list(self.rows[:ROWS_SHOWN]),
            "message": self.message,
            "cin_rule": self.cin_rule,
        }


def format_rows(rows: Sequence[int], count: int | None = None) -> str:
    total = len(rows) if count is None else count
    shown = ", ".join(str(r) for r in rows[:ROWS_SHOWN])
    more = total - min(len(rows), ROWS_SHOWN)
    return f"{shown} and {more} more" if more > 0 else shown


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


def warnings(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if not p.is_error]
