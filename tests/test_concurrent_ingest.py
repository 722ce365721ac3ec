"""Two ``csc-pipeline ingest`` of the same month at once, on PostgreSQL.

Both processes get the same three files (two copies of one month's sample
extracts).  Loads of one LA serialise on its advisory lock, so the result
must be the warehouse one ingest makes: each dataset loaded once, the other
process's copy recorded as unchanged, the same data and measures as a single
ingest of the same files gives, and a pack then sent once per audience.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from etl.months import Month
from etl.sample import write_sample
from etl.warehouse.db import make_engine
from etl.warehouse.schema import deliveries, loads
from tests.warehouse.checksums import warehouse_checksums
from tests.warehouse.conftest import postgres_database

SCRIPT = Path(sys.executable).with_name("csc-pipeline")
KEY = "concurrent-ingest-key-0123456"
MONTH = Month(2024, 4)


def _env(var: Path, url: str) -> dict[str, str]:
    environment = {
        **os.environ,
        "CSC_VAR_DIR": str(var),
        "CSC_WAREHOUSE_URL": url,
        "CSC_PSEUDONYM_KEY": KEY,
    }
    for name in (
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "CSC_PACK_CONFIG",
        "CSC_REPORTS_DIR",
        "CSC_LANDING_DIR",
    ):
        environment.pop(name, None)
    return environment


def _landing(source: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    return [Path(shutil.copy(path, folder / path.name)) for path in source]


def _warehouse(url: str, tmp: Path, name: str, sample: list[Path], copies: int) -> dict[str, str]:
    var = tmp / name / "var"
    init = subprocess.run(
        [str(SCRIPT), "init"], env=_env(var, url), capture_output=True, text=True, timeout=600
    )
    assert init.returncode == 0, init.stderr
    runs = [
        subprocess.Popen(
            [str(SCRIPT), "ingest", *map(str, _landing(sample, tmp / name / f"landing{i}"))],
            env=_env(var, url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(copies)
    ]
    for run in runs:
        _out, err = run.communicate(timeout=900)
        assert run.returncode == 0, err
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            statuses = sorted(
                connection.execute(sa.select(loads.c.dataset, loads.c.status)).tuples().all()
            )
        sums = warehouse_checksums(engine, exclude=("load_id",))
    finally:
        engine.dispose()
    expected = sorted(
        [(d, "loaded") for d in ("closures", "referrals", "workforce")]
        + [(d, "unchanged") for d in ("closures", "referrals", "workforce")] * (copies - 1)
    )
    assert statuses == expected
    report = subprocess.run(
        [str(SCRIPT), "report", "--la", "330", "--month", str(MONTH), "--send"],
        env=_env(var, url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.returncode == 0, report.stderr
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            audiences = connection.scalars(sa.select(deliveries.c.audience)).all()
    finally:
        engine.dispose()
    assert sorted(audiences) == ["commissioner", "partnership"]
    return sums


def test_two_ingests_of_one_month_at_once_give_the_warehouse_of_one(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "sample", start=MONTH, months=1)
    with postgres_database() as once, postgres_database() as twice:
        alone = _warehouse(once, tmp_path, "alone", sample, copies=1)
        together = _warehouse(twice, tmp_path, "together", sample, copies=2)
    assert together == alone
