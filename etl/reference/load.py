"""Load a DfE release into the warehouse: whole or not at all, superseding the years it repeats.

A release is read (:mod:`etl.reference.reader`), checked by its publication's
Great Expectations suite (:mod:`etl.reference.suites`), and then, in one
transaction:

* figures: the rows of every year the file holds replace those years' rows
  (DfE revises figures: a 2026 release repeats 2025 with revisions), years it
  does not hold stay as they are;
* the neighbour model: the file replaces the model whole;
* a row of ``reference_loads`` records the file, its SHA-256, its rows, the
  years it holds and the earlier loads whose years it superseded.

The same file as the publication's latest load changes nothing.  A file with
problems is rejected with them (file, rule, column, rows) and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.problems import Problem
from etl.reference import PUBLICATIONS, shipped_file
from etl.reference.model import LEVEL_NAMES, LEVELS, NATIONAL, Figures, Neighbours
from etl.reference.reader import CELL, COLUMN, Release, read_release
from etl.reference.suites import NUMBER, check_release
from etl.warehouse.db import Bind, advisory_lock, transaction
from etl.warehouse.schema import published_figures, reference_loads, statistical_neighbours

LOADED = "loaded"
UNCHANGED = "unchanged"
REJECTED = "rejected"
#: Rows per INSERT batch.
BATCH_ROWS = 10_000


@dataclass(frozen=True)
class ReferenceLoad:
    """What loading one release did."""

    file: str
    publication: str | None
    status: str
    rows: int = 0
    figures: int = 0
    periods: str | None = None
    #: ``{load_id: [years]}`` of the earlier loads this one replaced.
    superseded: dict[str, list[int]] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    load_id: str | None = None

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    def describe(self) -> str:
        if self.status == REJECTED:
            return f"{self.file}: rejected, nothing loaded"
        if self.status == UNCHANGED:
            return f"{self.file}: unchanged (the same file is already loaded as {self.load_id})"
        if self.publication == "sn_model":
            return f"{self.file}: loaded {self.figures:,} neighbours of {self.rows:,} LAs"
        text = f"{self.file}: loaded {self.figures:,} figures from {self.rows:,} rows"
        if self.periods:
            text += f" ({self.periods})"
        if self.superseded:
            years = sorted({y for ys in self.superseded.values() for y in ys})
            text += f", superseding {_span(years)} of {len(self.superseded)} earlier load(s)"
        return text


def load_release(bind: Bind, path: str | Path, *, loaded_by: str, gx_dir: Path) -> ReferenceLoad:
    """Read, check and load one release file (see the module docstring)."""
    release = read_release(path)
    problems = [*release.problems, *check_release(release, gx_dir)]
    described = release.publication
    if described is None or any(p.is_error for p in problems):
        name = described.name if described else None
        return ReferenceLoad(release.file, name, REJECTED, problems=tuple(problems))
    with transaction(bind, write=True) as connection:
        _lock(connection)
        latest = _latest(connection, described.name)
        if latest is not None and latest[1] == release.sha256:
            return ReferenceLoad(release.file, described.name, UNCHANGED, load_id=latest[0])
        load_id = str(uuid.uuid4())
        if isinstance(described, Figures):
            rows = figure_rows(release, described)
            superseded = _replace_figures(connection, described.name, rows, load_id)
            periods = _span(sorted(rows["time_period"].unique().tolist()))
        else:
            rows = neighbour_rows(release, described)
            superseded = _replace_neighbours(connection, rows, load_id)
            periods = None
        result = ReferenceLoad(
            release.file,
            described.name,
            LOADED,
            rows=len(release.wide),
            figures=len(rows),
            periods=periods,
            superseded=superseded,
            load_id=load_id,
        )
        connection.execute(
            sa.insert(reference_loads).values(
                load_id=load_id,
                publication=described.name,
                file_name=release.file,
                file_sha256=release.sha256,
                rows_read=result.rows,
                figures=result.figures,
                periods=periods,
                superseded=[
                    {"load_id": k, "time_periods": v} for k, v in sorted(superseded.items())
                ]
                or None,
                loaded_by=loaded_by,
                loaded_at=datetime.now(UTC),
            )
        )
    return result


def load_shipped(bind: Bind, *, loaded_by: str, gx_dir: Path) -> list[ReferenceLoad]:
    """Load the releases shipped with the package whose publication has no load yet."""
    with transaction(bind) as connection:
        loaded = set(connection.scalars(sa.select(reference_loads.c.publication).distinct()))
    return [
        load_release(bind, shipped_file(name), loaded_by=loaded_by, gx_dir=gx_dir)
        for name in PUBLICATIONS
        if name not in loaded
    ]


# --- rows -------------------------------------------------------------------------------


def figure_rows(release: Release, described: Figures) -> pd.DataFrame:
    """The release's cells as rows of ``published_figures`` (without ``load_id``)."""
    cells = release.cells
    level = cells["geographic_level"]
    code = pd.Series("", index=cells.index, dtype=object)
    name = pd.Series("", index=cells.index, dtype=object)
    for each, column in LEVELS.items():
        code = code.mask(level == each, cells[column])
        name = name.mask(level == each, cells[LEVEL_NAMES[each]])
    year = cells[described.period.column].astype(int)
    text = cells[CELL]
    numeric = text.str.fullmatch(NUMBER)
    rows = pd.DataFrame(
        {
            "publication": described.name,
            "time_period": year,
            "geographic_level": level,
            "area_code": code.str.split(" / "),
            "measure": cells[COLUMN],
            "period_end": [described.period.reference_date(y) for y in year],
            "reported_as": code,
            "area_name": name,
            "region_code": cells["region_code"].where(level != NATIONAL, None).replace("", None),
            "value": pd.to_numeric(text.where(numeric), errors="coerce"),
            "symbol": text.where(~numeric & (text != ""), None),
        }
    )
    # A joint row ("314 / 318") stands for each of its LAs.
    return rows.explode("area_code", ignore_index=True)


def neighbour_rows(release: Release, described: Neighbours) -> pd.DataFrame:
    """The model as rows of ``statistical_neighbours`` (without ``load_id``)."""
    wide = release.wide
    frames = [
        pd.DataFrame(
            {
                "la_code": wide[described.la_column],
                "position": n,
                "neighbour_code": wide[described.code(n)],
                "closeness": wide[described.closeness_of(n)].str.strip(),
                "la_name": wide[described.name_column],
                "region_name": wide[described.region_column],
            }
        )
        for n in range(1, described.neighbours + 1)
    ]
    return pd.concat(frames, ignore_index=True).sort_values(["la_code", "position"])


# --- writing ------------------------------------------------------------------------------


def _lock(connection: Connection) -> None:
    """One reference load at a time per warehouse (SQLite: BEGIN IMMEDIATE)."""
    advisory_lock(connection, "reference")


def _latest(connection: Connection, name: str) -> tuple[str, str] | None:
    r = reference_loads
    row = connection.execute(
        sa.select(r.c.load_id, r.c.file_sha256)
        .where(r.c.publication == name)
        .order_by(r.c.loaded_at.desc())
        .limit(1)
    ).first()
    return (row.load_id, row.file_sha256) if row else None


def _replace_figures(
    connection: Connection, name: str, rows: pd.DataFrame, load_id: str
) -> dict[str, list[int]]:
    f = published_figures
    years = sorted(int(y) for y in rows["time_period"].unique())
    mine = sa.and_(f.c.publication == name, f.c.time_period.in_(years))
    earlier = connection.execute(
        sa.select(f.c.load_id, f.c.time_period).where(mine).distinct()
    ).all()
    superseded: dict[str, list[int]] = {}
    for row in sorted(earlier, key=lambda r: (r.load_id, r.time_period)):
        superseded.setdefault(row.load_id, []).append(int(row.time_period))
    connection.execute(sa.delete(f).where(mine))
    _insert(connection, f, rows.assign(load_id=load_id))
    return superseded


def _replace_neighbours(
    connection: Connection, rows: pd.DataFrame, load_id: str
) -> dict[str, list[int]]:
    n = statistical_neighbours
    earlier = connection.scalars(sa.select(n.c.load_id).distinct()).all()
    connection.execute(sa.delete(n))
    _insert(connection, n, rows.assign(load_id=load_id))
    return {load: [] for load in sorted(earlier)}


def _insert(connection: Connection, table: sa.Table, rows: pd.DataFrame) -> None:
    records = list(_records(rows))
    for start in range(0, len(records), BATCH_ROWS):
        connection.execute(sa.insert(table), records[start : start + BATCH_ROWS])


def _records(rows: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Rows as dicts of plain Python values, NULL for what is missing."""
    names = list(rows.columns)
    for values in rows.astype(object).itertuples(index=False, name=None):
        yield {k: _plain(v) for k, v in zip(names, values, strict=True)}


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str | date) and pd.isna(value)):
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _span(years: list[int]) -> str:
    """Years as people write them: ``2017-2025``, ``2025``, or a list with gaps."""
    if not years:
        return ""
    if years == list(range(years[0], years[-1] + 1)):
        return str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
    return ", ".join(str(y) for y in years)
