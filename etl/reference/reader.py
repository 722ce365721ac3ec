"""Read a DfE release file into long rows: one cell per row, with its problems.

Which publication a file is comes from its header (DfE names its files
differently from release to release; its column names are stable).  Every
cell is read as text and kept with its file row number (the header is row
1) and its column, so the Great Expectations suite can check every value
column with one expectation and each failure still names its column and rows.
What cannot be read at all (not a CSV, no header, a column missing) is a
:class:`~etl.problems.Problem` here; nothing raises for bad data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from etl.contracts import Severity
from etl.filing import sha256_of
from etl.problems import Problem
from etl.reference import PUBLICATIONS, publication
from etl.reference.model import Figures, Neighbours

#: The file row number (header = row 1), the column and the cell's text.
ROW, COLUMN, CELL = "_row", "_column", "_cell"
#: Fewest of a publication's columns a header must have to be taken for it.
RECOGNISED_SHARE = 0.5


@dataclass
class Release:
    """One DfE file, read: its publication, its cells in long form, its problems."""

    path: Path
    publication: Figures | Neighbours | None
    sha256: str
    #: The file as read: every column as text, plus ROW.
    wide: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: One row per value cell: ROW, COLUMN, CELL and the row's dimensions.
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: list[Problem] = field(default_factory=list)

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def rejected(self) -> bool:
        return any(p.is_error for p in self.problems)


def read_release(path: str | Path) -> Release:
    """Read ``path``; problems are returned in the release, never raised."""
    path = Path(path)
    release = Release(path, None, sha256_of(path))
    try:
        wide = _read_text_table(path)
    except (UnicodeDecodeError, csv.Error, pd.errors.ParserError, ValueError) as exc:
        release.problems.append(_problem(path, "unreadable", f"not a readable CSV file ({exc})"))
        return release
    if wide.columns.empty:
        release.problems.append(_problem(path, "no_header", "the file has no header row"))
        return release
    found, missing = _recognise(list(wide.columns))
    if found is None:
        release.problems.append(
            _problem(
                path,
                "unknown_publication",
                "the header is not that of a DfE publication csc-pipeline knows "
                f"({', '.join(PUBLICATIONS)})",
            )
        )
        return release
    release.publication = found
    for column in missing:
        release.problems.append(
            _problem(
                path,
                "missing_column",
                f"the {found.title} file has no {column} column",
                column=column,
            )
        )
    if missing:
        return release
    wide = wide[found.columns].copy()
    wide.insert(0, ROW, range(2, len(wide) + 2))
    release.wide = wide
    release.cells = _cells(wide, found)
    if wide.empty:
        release.problems.append(_problem(path, "no_rows", "the file has a header but no rows"))
    return release


def _problem(path: Path, rule: str, message: str, column: str | None = None) -> Problem:
    return Problem(path.name, rule, Severity.ERROR, message, column=column)


def _read_text_table(path: Path) -> pd.DataFrame:
    """Every cell as stripped text ('' when blank); UTF-8 with or without BOM."""
    frame = pd.read_csv(
        path,
        dtype=str,
        keep_default_na=False,
        encoding="utf-8-sig",
        skip_blank_lines=True,
    )
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(set(frame.columns)) != len(frame.columns):
        raise ValueError("a column name appears twice in the header")
    stripped: pd.DataFrame = frame.apply(lambda column: column.str.strip())
    return stripped


def _recognise(header: list[str]) -> tuple[Figures | Neighbours | None, list[str]]:
    """The publication whose columns the header holds most of, and those it lacks."""
    best: tuple[float, Figures | Neighbours, list[str]] | None = None
    for name in PUBLICATIONS:
        candidate = publication(name)
        expected = candidate.columns
        missing = [c for c in expected if c not in header]
        share = 1 - len(missing) / len(expected)
        if best is None or share > best[0]:
            best = (share, candidate, missing)
    if best is None or best[0] < RECOGNISED_SHARE:
        return None, []
    return best[1], best[2]


def _cells(wide: pd.DataFrame, found: Figures | Neighbours) -> pd.DataFrame:
    """One row per value cell, each with the dimensions of its file row."""
    if isinstance(found, Figures):
        keep = [ROW, *found.dimensions]
        values = found.values
    else:
        keep = [ROW, found.la_column]
        values = [c for c in found.columns if c not in found.dimensions]
    cells = wide.melt(id_vars=keep, value_vars=values, var_name=COLUMN, value_name=CELL)
    return cells.sort_values([ROW, COLUMN], kind="stable").reset_index(drop=True)
