"""Ingestion end to end: landed files into the warehouse, or into quarantine.

Real files, a real warehouse (SQLite and PostgreSQL), the real GX suites.
A rejected file loads nothing and leaves earlier data as it was; an accepted
one is archived; nothing is ever deleted.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.contracts import Severity
from etl.filenames import parse_name
from etl.ingest import Folders, IngestResult, ingest_file, ingest_files
from etl.months import Month
from etl.sample import write_sample
from etl.warehouse.db import upgrade
from etl.warehouse.schema import DATA_TABLES, loads
from tests.conftest import WriteExtract, row, write_rows
from tests.test_rules import each_bad_file
from tests.warehouse.checksums import warehouse_checksums
from tests.warehouse.conftest import drop, new_engine

KEY = b"test-key-0123456789abcdef-0123456789"
MONTH = Month(2024, 2)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    new, schema = new_engine(request.param, tmp_path)
    upgrade(new)
    yield new
    drop(new, schema)


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    return Folders(tmp_path / "archive", tmp_path / "quarantine")


def ingest(path: Path, engine: Engine, folders: Folders) -> IngestResult:
    return ingest_file(path, engine=engine, key=KEY, folders=folders, loaded_by="test")


def _landed(tmp_path: Path, months: int = 2, **options: object) -> list[Path]:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    return write_sample(landing, start=Month(2024, 1), months=months, **options)  # type: ignore[arg-type]


def test_good_months_load_and_are_archived(
    tmp_path: Path, engine: Engine, folders: Folders
) -> None:
    files = _landed(tmp_path)
    results = ingest_files(files, engine=engine, key=KEY, folders=folders, loaded_by="test")
    assert [r.status for r in results] == ["loaded"] * len(files)
    assert not any(f.exists() for f in files)  # moved, not copied
    archived = sorted(p.name.split("_", 1)[1] for p in folders.archive.rglob("*.csv"))
    assert archived == sorted(f.name for f in files)
    with engine.connect() as connection:
        for result in results:
            table = DATA_TABLES[result.dataset or ""]
            stored = connection.scalar(
                sa.select(sa.func.count()).where(
                    table.c.la_code == "330",
                    table.c.month == result.month.start,  # type: ignore[union-attr]
                )
            )
            assert stored == result.rows


def test_same_file_twice_is_recorded_as_unchanged(
    tmp_path: Path, engine: Engine, folders: Folders, write_extract: WriteExtract
) -> None:
    first = ingest(write_extract("referrals"), engine, folders)
    again = ingest(write_extract("referrals"), engine, folders)
    assert (first.status, again.status) == ("loaded", "unchanged")
    with engine.connect() as connection:
        statuses = connection.execute(sa.select(loads.c.status)).scalars().all()
    assert sorted(statuses) == ["loaded", "unchanged"]


# The bad-file corpus of test_rules, plus files broken as a whole.
WHOLE_FILE_CASES = {
    "zero_byte": ("referrals_330_2024-02.csv", b"", "empty_file"),
    "no_header": ("referrals_330_2024-02.csv", b"\n\n", "no_header"),
    "bad_name": ("referrals_330_Feb-2024.csv", b"la_code\n330\n", "file_name"),
    "unknown_dataset": ("contacts_330_2024-02.csv", b"la_code\n330\n", "file_name"),
    "missing_column": (
        "closures_330_2024-02.csv",
        b"la_code,referral_id\n330,R1\n",
        "missing_column",
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, dict[str, str]]]:
    """A warehouse holding one good month, and its checksums.

    Shared by every bad-file case: a rejected file changes nothing, so each
    case also proves the cases before it left the warehouse untouched.
    """
    tmp = tmp_path_factory.mktemp("loaded")
    engine, schema = new_engine(request.param, tmp)
    upgrade(engine)
    folders = Folders(tmp / "archive", tmp / "quarantine")
    for dataset in ("workforce", "referrals", "closures"):
        path = tmp / f"{dataset}_330_2024-02.csv"
        write_rows(path, dataset, [row(dataset)])
        assert ingest(path, engine, folders).status == "loaded"
    yield engine, warehouse_checksums(engine)
    drop(engine, schema)


@each_bad_file
def test_bad_file_is_quarantined_and_loads_nothing(
    loaded: tuple[Engine, dict[str, str]],
    folders: Folders,
    write_extract: WriteExtract,
    dataset: str,
    rows: list[dict[str, str]],
    rule: str,
    column: str,
    bad_rows: tuple[int, ...],
) -> None:
    engine, before = loaded
    path = write_extract(dataset, rows)
    result = ingest(path, engine, folders)
    assert result.status == "rejected"
    assert (rule, column, bad_rows) in [(p.rule, p.column, p.rows) for p in result.errors]
    assert warehouse_checksums(engine) == before  # the earlier month is intact
    assert not path.exists() and result.moved_to is not None and result.moved_to.exists()
    assert result.report is not None
    report = result.report.read_text()
    rows_text = ", ".join(str(r) for r in bad_rows)
    assert rule in report and column in report and rows_text in report
    record = json.loads(result.report.with_name(result.moved_to.name + ".report.json").read_text())
    assert record["decision"] == "rejected"


@pytest.mark.parametrize("case", sorted(WHOLE_FILE_CASES))
def test_broken_file_is_quarantined(
    tmp_path: Path, engine: Engine, folders: Folders, case: str
) -> None:
    name, content, rule = WHOLE_FILE_CASES[case]
    path = tmp_path / name
    path.write_bytes(content)
    result = ingest(path, engine, folders)
    assert result.status == "rejected" and rule in [p.rule for p in result.errors]
    assert result.moved_to is not None and result.moved_to.read_bytes() == content
    assert result.report is not None and rule in result.report.read_text()
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(loads)) == 0


def test_wrong_la_in_name_is_rejected(
    engine: Engine, folders: Folders, write_extract: WriteExtract
) -> None:
    path = write_extract("referrals", la="331")  # content says 330
    result = ingest(path, engine, folders)
    assert result.status == "rejected"
    assert [(p.rule, p.rows) for p in result.errors] == [("la_code_matches_file", (2,))]


def _table(engine: Engine, dataset: str) -> pd.DataFrame:
    table = DATA_TABLES[dataset]
    with engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(sa.select(table)).mappings().all())
    frame = frame.drop(columns=["load_id", "source_row"])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_messy_variants_load_with_warnings_and_mean_the_same(
    tmp_path: Path, folders: Folders
) -> None:
    clean_dir, messy_dir = tmp_path / "clean", tmp_path / "messy"
    clean_dir.mkdir()
    messy_dir.mkdir()
    months = 4  # every mess variant reaches every dataset within 4 months
    clean = write_sample(clean_dir, start=Month(2024, 1), months=months)
    messy = write_sample(messy_dir, start=Month(2024, 1), months=months, mess=True)
    assert any(p.suffix == ".xlsx" for p in messy)
    engines = []
    for name, files in (("clean", clean), ("messy", messy)):
        engine, _ = new_engine("sqlite", tmp_path / name)
        upgrade(engine)
        results = ingest_files(files, engine=engine, key=KEY, folders=folders, loaded_by="t")
        assert [r.status for r in results] == ["loaded"] * len(files), [
            p.describe() for r in results for p in r.errors
        ]
        engines.append(engine)
        if name == "messy":
            rules = {p.rule for r in results for p in r.warnings}
            assert {"windows_1252", "unknown_column"} <= rules
    for dataset in DATA_TABLES:
        pd.testing.assert_frame_equal(_table(engines[0], dataset), _table(engines[1], dataset))


def test_a_resubmission_replaces_the_month(
    engine: Engine, folders: Folders, write_extract: WriteExtract
) -> None:
    ingest(write_extract("closures"), engine, folders)
    changed = [row("closures", referral_id="R9", closure_reason="RC8")]
    result = ingest(write_extract("closures", changed), engine, folders)
    assert result.status == "loaded"
    with engine.connect() as connection:
        ids = connection.execute(sa.select(DATA_TABLES["closures"].c.referral_id)).scalars()
        assert list(ids) == ["R9"]
        history = connection.execute(sa.select(loads.c.superseded_by)).scalars().all()
    assert sum(h is not None for h in history) == 1  # the first load is kept, superseded


def test_closures_are_checked_against_the_warehouse(
    engine: Engine, folders: Folders, write_extract: WriteExtract
) -> None:
    ingest(write_extract("referrals"), engine, folders)  # REF1, assessed
    closures = [
        row("closures", referral_id="REF1", closure_reason="RC8"),
        row("closures", referral_id="NOT-LOADED"),
    ]
    result = ingest(write_extract("closures", closures), engine, folders)
    assert result.status == "loaded"
    assert [(p.rule, p.severity, p.rows) for p in result.problems] == [
        ("closure_referral_known", Severity.WARNING, (3,))
    ]


def test_names_are_parsed_before_anything_moves(tmp_path: Path) -> None:
    name = parse_name(tmp_path / "closures_330_2024-02.csv")
    assert (name.dataset, name.la_code, str(name.month)) == ("closures", "330", "2024-02")


def test_volume_check_warns_on_a_month_far_below_the_median(
    tmp_path: Path, folders: Folders
) -> None:
    engine, _ = new_engine("sqlite", tmp_path)
    upgrade(engine)
    files = _landed(tmp_path, months=4)
    ingest_files(
        [f for f in files if "2024-04" not in f.name],
        engine=engine,
        key=KEY,
        folders=folders,
        loaded_by="t",
    )
    april = next(f for f in files if f.name == "closures_330_2024-04.csv")
    lines = april.read_text().splitlines()
    april.write_text("\n".join(lines[:50]) + "\n")  # a tenth of a month's closures
    result = ingest(april, engine, folders)
    assert result.status == "loaded"
    assert "volume" in [p.rule for p in result.warnings]
    shutil.rmtree(tmp_path / "landing")
