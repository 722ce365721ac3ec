"""``csc-pipeline init`` and ``csc-pipeline reference load`` as a data engineer runs them.

Real processes on SQLite and on a PostgreSQL database of their own.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.months import Month
from etl.reference.benchmarks import benchmarks
from etl.warehouse.db import make_engine
from etl.warehouse.schema import reference_loads
from tests.reference.dfe_files import row, write_figures
from tests.test_cli import run
from tests.warehouse.conftest import BACKENDS, postgres_database


@pytest.fixture(params=BACKENDS)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    with postgres_database() as url:
        yield url


def test_init_loads_the_shipped_files_then_a_revision_and_a_bad_file(
    tmp_path: Path, warehouse_url: str
) -> None:
    init = run("init", tmp_path=tmp_path, CSC_WAREHOUSE_URL=warehouse_url)
    assert init.returncode == 0, init.stderr
    said = " ".join(init.stdout.split())
    assert (
        "csww_indicators_2017_to_2025.csv: loaded 32,494 figures from 1,463 rows (2017-2025)"
        in (said)
    )
    assert "sn_model_2025_wide.csv: loaded 1,530 neighbours of 153 LAs" in said

    revised = write_figures(
        tmp_path / "csww_revised.csv",
        "csww",
        [
            row(2024, "National", values={"vacancy_rate_fte": "17.4"}),
            row(2024, "Local authority", "330", {"vacancy_rate_fte": "26.5"}),
        ],
    )
    bad = tmp_path / "csww_bad.csv"
    with revised.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[1]["agency_rate_fte"] = "12,5"
    with bad.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    load = run(
        "reference",
        "load",
        str(bad),
        str(revised),
        tmp_path=tmp_path,
        CSC_WAREHOUSE_URL=warehouse_url,
    )
    assert load.returncode == 1, load.stderr
    said = " ".join(load.stdout.split())
    assert "csww_bad.csv: rejected, nothing loaded" in said
    assert (
        "csww_bad.csv: error: rule value, column agency_rate_fte, row 3: a value is neither a "
        "number nor one of DfE's symbols (c, u, x, z, low, k) (e.g. '12,5')" in said
    )
    assert (
        "csww_revised.csv: loaded 44 figures from 2 rows (2024), superseding 2024 of 1 "
        "earlier load(s)" in said
    )
    assert "Traceback" not in load.stderr

    engine = make_engine(warehouse_url)
    try:
        vacancy = {b.key: b for b in benchmarks(engine, "330", Month(2025, 3))}["vacancy_rate"]
        # The revised 2024 figures; 2025's and 2017-2023's untouched.
        assert (vacancy.la_value, vacancy.england_value) == (0.265, 0.174)
        later = {b.key: b for b in benchmarks(engine, "330", Month(2025, 10))}["vacancy_rate"]
        assert (later.la_value, later.neighbours_median) == (0.171, 0.104)
        with engine.connect() as connection:
            names = connection.scalars(
                sa.select(reference_loads.c.file_name).order_by(reference_loads.c.loaded_at)
            ).all()
    finally:
        engine.dispose()
    assert names[-1] == "csww_revised.csv" and "csww_bad.csv" not in names

    # The same file again: nothing changes, exit 0.
    again = run(
        "reference", "load", str(revised), tmp_path=tmp_path, CSC_WAREHOUSE_URL=warehouse_url
    )
    assert again.returncode == 0
    assert "csww_revised.csv: unchanged" in " ".join(again.stdout.split())


def test_reference_load_before_init_is_one_sentence(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(url).connect().close()
    (tmp_path / "x.csv").write_text("time_period\n2024\n", encoding="utf-8")
    result = run("reference", "load", "x.csv", tmp_path=tmp_path, CSC_WAREHOUSE_URL=url)
    assert result.returncode == 2
    assert "has no tables yet: run `csc-pipeline init` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_reference_load_of_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    result = run("reference", "load", "nowhere.csv", tmp_path=tmp_path, CSC_WAREHOUSE_URL=url)
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "csc-pipeline: no such file: nowhere.csv",
    )
