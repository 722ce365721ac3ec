"""Validating a hub's files together gives the warehouse that one file at a time gives.

``ingest_files`` validates each month's files of a dataset, for every LA, in
one GX run (``etl.validation.check_batch``).  Here three councils' three
months, one file broken, go through it, and the same files go one by one
through ``ingest_file`` in the order the pipeline used before batching
(month, LA, dataset).  The data tables and measures must have the same
checksums, each file the same problems, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.filenames import parse_name
from etl.ingest import Folders, IngestResult, ingest_file, ingest_files
from etl.months import Month
from etl.sample import write_sample
from etl.sample.sizes import profile_of
from etl.warehouse.db import make_engine, upgrade
from etl.warehouse.schema import DATA_TABLES, measures
from tests.fresh import run_fresh
from tests.warehouse.checksums import warehouse_checksums
from tests.warehouse.conftest import BACKENDS, drop, new_engine

KEY = b"batched-ingest-test-key-01234567"
#: Three small councils (Isles of Scilly, City of London, Rutland), three months.
LAS = ("420", "201", "857")
START, MONTHS = Month(2024, 4), 3
BROKEN = "referrals_857_2024-05.csv"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("hub")
    files = [
        path
        for la in LAS
        for path in write_sample(
            folder, la_code=la, start=START, months=MONTHS, seed=3, profile=profile_of(la)
        )
    ]
    broken = folder / BROKEN
    lines = broken.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    first = lines[1].split(",")
    first[header.index("sex")] = "Q"  # not a code: rejects the file
    broken.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n", encoding="utf-8")
    return files


@pytest.fixture(params=BACKENDS)
def two_warehouses(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Engine]]:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    made = [new_engine(request.param, tmp_path / name) for name in ("a", "b")]
    for engine, _schema in made:
        upgrade(engine)
    yield [engine for engine, _schema in made]
    for engine, schema in made:
        drop(engine, schema)


def _landed(sample: list[Path], root: Path) -> tuple[list[Path], Folders]:
    landing = root / "landing"
    landing.mkdir(parents=True)
    paths = [Path(shutil.copy(path, landing / path.name)) for path in sample]
    return paths, Folders(root / "archive", root / "quarantine")


def _one_at_a_time_order(path: Path) -> tuple[str, str, int]:
    name = parse_name(path)
    return (
        str(name.month),
        name.la_code,
        ("workforce", "referrals", "closures").index(name.dataset),
    )


def _problems(results: list[IngestResult]) -> dict[str, list[tuple[object, ...]]]:
    return {
        r.file: [(p.rule, p.severity, p.column, p.rows, p.examples) for p in r.problems]
        for r in results
    }


def test_a_hub_validated_together_loads_what_one_file_at_a_time_loads(
    tmp_path: Path, sample: list[Path], two_warehouses: list[Engine]
) -> None:
    batched, single = two_warehouses
    paths, folders = _landed(sample, tmp_path / "batched")
    together = ingest_files(paths, engine=batched, key=KEY, folders=folders, loaded_by="test")

    paths, folders = _landed(sample, tmp_path / "single")
    alone = [
        ingest_file(path, engine=single, key=KEY, folders=folders, loaded_by="test")
        for path in sorted(paths, key=_one_at_a_time_order)
    ]

    assert [r.status for r in together].count("rejected") == 1
    assert {r.file for r in together if r.rejected} == {BROKEN}
    assert len(together) == len(alone) == len(LAS) * MONTHS * 3
    assert _problems(together) == _problems(alone)
    sums = warehouse_checksums(batched, exclude=("load_id",))
    assert sums == warehouse_checksums(single, exclude=("load_id",))
    # Not vacuous: every data table and the measures hold rows of every LA.
    with batched.connect() as connection:
        for table in [*DATA_TABLES.values(), measures]:
            query = sa.select(sa.func.count(sa.distinct(table.c.la_code)))
            assert connection.scalar(query) == len(LAS), table.name


def _ingest_over_two(
    paths: list[Path], url: str, schema: str | None, folders: Folders
) -> tuple[list[IngestResult], list[str], list[str]]:
    """In a fresh interpreter (tests.fresh): ``ingest_files`` with ``workers=2``; the
    results, the files in the order ``finished`` saw them, and etl.ingest's log."""
    engine = make_engine(url, schema=schema) if schema else make_engine(url)
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("etl.ingest")
    logger.setLevel(logging.INFO)
    logger.addHandler(Keep())
    arrived: list[str] = []
    results = ingest_files(
        paths,
        engine=engine,
        key=KEY,
        folders=folders,
        loaded_by="test",
        workers=2,
        finished=lambda result: arrived.append(result.file),
    )
    engine.dispose()
    return results, arrived, messages


def test_a_hub_over_two_processes_loads_what_one_process_loads(
    tmp_path: Path, sample: list[Path], two_warehouses: list[Engine]
) -> None:
    """``workers=2`` splits the LAs over two processes (PostgreSQL; SQLite stays in one):
    the same results in the same order, the same warehouse."""
    split, one = two_warehouses
    paths, folders = _landed(sample, tmp_path / "split")
    schema = (split.get_execution_options().get("schema_translate_map") or {}).get(None)
    url = split.url.render_as_string(hide_password=False)
    over_two, arrived, messages = run_fresh(_ingest_over_two, paths, url, schema, folders)
    split_up = f"ingesting {len(sample)} files in 2 processes, each LA in one"
    assert (split_up in messages) is (split.dialect.name == "postgresql")

    paths, folders = _landed(sample, tmp_path / "one")
    in_one = ingest_files(paths, engine=one, key=KEY, folders=folders, loaded_by="test")

    assert [(r.file, r.status) for r in over_two] == [(r.file, r.status) for r in in_one]
    assert sorted(arrived) == sorted(r.file for r in in_one)
    assert _problems(over_two) == _problems(in_one)
    assert {r.file for r in over_two if r.rejected} == {BROKEN}
    assert all(r.moved_to is not None and r.moved_to.exists() for r in over_two)
    assert warehouse_checksums(split, exclude=("load_id",)) == warehouse_checksums(
        one, exclude=("load_id",)
    )
