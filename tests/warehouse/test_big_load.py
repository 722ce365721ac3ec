"""The fast load path gives exactly the warehouse a straightforward load would.

The pipeline's path (the reader, the vectorised pseudonymiser, COPY text
written by Arrow, on PostgreSQL the indexes dropped and rebuilt around a big
insert) against a reference built the plain way in a second warehouse: each
row as the reader read it, its identifiers hashed one by one with
:func:`etl.pseudonymise.pseudonym`, inserted row by row, and the measures of
every month computed once at the end.  The data tables (less ``load_id``)
and the measures must have the same checksums, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import etl.warehouse.load as load_module
from etl.contracts import load_contract
from etl.months import Month
from etl.pseudonymise import pseudonym, pseudonymise
from etl.reader import read_extract
from etl.warehouse.db import schema_diff, upgrade
from etl.warehouse.load import LoadError, load_month
from etl.warehouse.measures import recompute_measures
from etl.warehouse.schema import DATA_TABLES, contract_columns, loads
from tests.conftest import write_rows
from tests.warehouse.checksums import warehouse_checksums
from tests.warehouse.conftest import drop, new_engine
from tests.warehouse.extracts import KEY, LA, cell, referral
from tests.warehouse.history import DATASETS, MONTHS, history

#: Rows of the big referrals file that replaces the last month.
BIG = 1500
LAST = MONTHS[3]


@pytest.fixture
def reference(db: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A second, empty warehouse on the same backend as ``db``."""
    engine, schema = new_engine(db.dialect.name, tmp_path)
    upgrade(engine)
    yield engine
    drop(engine, schema)


@pytest.fixture
def rebuilt(db: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every load rebuilds indexes when its rows outweigh the table (not only at 100,000
    rows); the DDL statements the loads ran on ``db``, to show the path was taken."""
    monkeypatch.setattr(load_module, "REBUILD_MIN_ROWS", 1)
    if db.dialect.name == "postgresql":
        # The emptied tables' dead rows still count as their size: let them go.
        with db.begin() as connection:
            names = ", ".join(load_module._qualified(connection, t) for t in DATA_TABLES.values())
            connection.execute(sa.text(f"TRUNCATE {names}"))
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("ALTER", "DROP INDEX", "CREATE INDEX")):
            statements.append(" ".join(statement.split()))

    sa.event.listen(db, "before_cursor_execute", seen)
    yield statements
    sa.event.remove(db, "before_cursor_execute", seen)


def _big_referrals(seed: int, *, duplicate: bool = False) -> list[dict[str, Any]]:
    """BIG referrals of LAST and the year before it, children referred again."""
    rng = random.Random(seed)
    rows = []
    for i in range(BIG):
        day = (
            LAST.start
            - timedelta(days=rng.randrange(0, 330 if i % 5 == 0 else 1))
            + (timedelta(days=rng.randrange(0, 28)))
        )
        start = day + timedelta(days=rng.randrange(0, 4)) if rng.random() < 0.8 else None
        authorised = start + timedelta(days=rng.randrange(5, 60)) if start else None
        rows.append(
            referral(
                f"BIG{i}",
                f"child {rng.randrange(BIG // 3)}",
                day,
                nfa=start is None,
                start=start,
                authorised=authorised if authorised and authorised <= LAST.end else None,
                allocated=rng.random() < 0.9,
            )
        )
    if duplicate:
        rows.append({**rows[7], "child_id": "someone else"})
    return rows


def _write(
    folder: Path, dataset: str, month: Month, rows: Sequence[Mapping[str, Any]], la_code: str = LA
) -> Path:
    cells = [{"la_code": la_code, **{k: cell(v) for k, v in r.items()}} for r in rows]
    return write_rows(folder / f"{dataset}_{la_code}_{month}.csv", dataset, cells)


def _fast(engine: Engine, path: Path, dataset: str, month: Month) -> None:
    """The pipeline's load of one file."""
    extract = read_extract(path)
    load_month(
        engine,
        dataset=dataset,
        la_code=LA,
        month=month,
        frame=pseudonymise(extract.frame, extract.contract, KEY),
        file_name=path.name,
        file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        rows_read=extract.rows,
        loaded_by="test",
    )


def _plain(value: Any) -> Any:
    """A cell of the read frame as a plain Python value (None for a blank)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _slow(engine: Engine, path: Path, dataset: str, month: Month) -> None:
    """The reference load: the rows as read, one pseudonym and one INSERT at a time."""
    extract = read_extract(path)
    table = DATA_TABLES[dataset]
    with engine.begin() as connection:
        connection.execute(
            sa.update(loads)
            .where(loads.c.dataset == dataset, loads.c.month == month.start)
            .values(status="unchanged")
        )
        connection.execute(
            sa.delete(table).where(table.c.la_code == LA, table.c.month == month.start)
        )
        connection.execute(
            sa.insert(loads).values(
                load_id=f"{dataset} {month} {path.stat().st_size}",
                dataset=dataset,
                la_code=LA,
                month=month.start,
                file_name=path.name,
                file_sha256=path.name,
                status="loaded",
                rows_read=extract.rows,
                rows_loaded=extract.rows,
                warnings=0,
                loaded_by="reference",
                loaded_at=datetime.now(UTC),
            )
        )
        for record in extract.frame.to_dict("records"):
            row = {"la_code": LA, "month": month.start, "load_id": "reference"}
            row["source_row"] = int(record["_row"])
            for column in contract_columns(load_contract(dataset)):
                value = _plain(record[column.name])
                if value is not None and column.identifier:
                    value = pseudonym(KEY, value)
                if isinstance(value, date) and column.coarsen == "month":
                    value = value.replace(day=1)
                row[column.name] = value
            connection.execute(sa.insert(table).values(row))


def _files(folder: Path) -> list[tuple[Path, str, Month]]:
    """Four months of every dataset, then a big referrals file replacing the last month."""
    files = history(seed=5)
    landed = [
        (_write(folder, dataset, month, files[dataset, month]), dataset, month)
        for month in MONTHS[:4]
        for dataset in DATASETS
    ]
    big = folder / "big"
    big.mkdir()
    landed.append((_write(big, "referrals", LAST, _big_referrals(seed=11)), "referrals", LAST))
    return landed


def test_fast_load_gives_the_reference_warehouse(
    db: Engine, reference: Engine, rebuilt: list[str], tmp_path: Path
) -> None:
    *history_files, big = _files(tmp_path)
    for path, dataset, month in history_files:
        _fast(db, path, dataset, month)
        _slow(reference, path, dataset, month)
    before_big = list(rebuilt)
    rebuilt.clear()
    _fast(db, *big)
    _slow(reference, *big)
    recompute_measures(reference, LA, MONTHS[:4])
    assert warehouse_checksums(db, exclude=["load_id"]) == warehouse_checksums(
        reference, exclude=["load_id"]
    )
    versions = DATA_TABLES["referrals"]
    with db.connect() as connection:
        stored = sa.select(sa.func.count()).where(versions.c.month == LAST.start)
        assert connection.scalar(stored) == BIG
    assert schema_diff(db) == []  # the indexes are back, as the models define them
    if db.dialect.name == "postgresql":
        # The first referrals file into the empty table, and the big one, rebuilt.
        assert any("referral_versions DROP CONSTRAINT" in s for s in before_big), before_big
        assert any("referral_versions DROP CONSTRAINT" in s for s in rebuilt), rebuilt
    else:
        assert before_big == rebuilt == []


def test_a_big_load_with_a_shared_key_changes_nothing(
    db: Engine, rebuilt: list[str], tmp_path: Path
) -> None:
    for path, dataset, month in _files(tmp_path)[:-1]:
        _fast(db, path, dataset, month)
    before = warehouse_checksums(db)
    twice = _write(tmp_path / "big", "referrals", LAST, _big_referrals(seed=11, duplicate=True))
    with pytest.raises(LoadError, match=r"share a key \(la_code, referral_id, month\)"):
        _fast(db, twice, "referrals", LAST)
    assert warehouse_checksums(db) == before
    assert schema_diff(db) == []
    if db.dialect.name == "postgresql":
        assert "referral_versions ADD CONSTRAINT" in rebuilt[-1], rebuilt


# PostgreSQL only: SQLite never rebuilds indexes (one writer at a time anyway).
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_two_rebuilding_loads_at_once_both_load(
    db: Engine, rebuilt: list[str], tmp_path: Path
) -> None:
    """Two big loads of different tables (and LAs) at the same moment.

    The measures of a new month read every data table, so two loads each
    holding their own table exclusively would wait for each other; each is
    held at the moment it has locked its table until the other has too (or
    two seconds have passed, the other being made to wait before locking).
    """
    assert db.dialect.name == "postgresql"
    files = history(seed=5)
    month = MONTHS[0]
    landed = [
        (_write(tmp_path, "referrals", month, files["referrals", month]), "referrals", "330"),
        (_write(tmp_path, "closures", month, files["closures", month], "331"), "closures", "331"),
    ]
    barrier = threading.Barrier(2)

    def locked(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("LOCK TABLE"):
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=2)

    errors: list[BaseException] = []

    def run(path: Path, dataset: str, la_code: str) -> None:
        try:
            extract = read_extract(path)
            frame = pseudonymise(extract.frame, extract.contract, KEY)
            load_month(
                db,
                dataset=dataset,
                la_code=la_code,
                month=month,
                frame=frame,
                file_name=path.name,
                file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                rows_read=extract.rows,
                loaded_by="test",
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    sa.event.listen(db, "after_cursor_execute", locked)
    try:
        threads = [threading.Thread(target=run, args=args) for args in landed]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sa.event.remove(db, "after_cursor_execute", locked)
    assert errors == []
    assert sum("DROP CONSTRAINT" in s for s in rebuilt) == 2, rebuilt
    with db.connect() as connection:
        statuses = connection.scalars(sa.select(loads.c.status)).all()
    assert statuses == ["loaded", "loaded"]
