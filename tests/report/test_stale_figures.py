"""Figures reflect their loads: no pack from measures older than the current loads.

Real processes on PostgreSQL, as in production: a month of sample extracts is
read, pseudonymised, validated and loaded by the library; the closures file
is then resubmitted the way the ingest DAG does it, loaded in one step and
measured in the next.  ``csc-pipeline report --send`` in between must send
nothing and say what it waits for; once measured it sends the new figures,
and a resubmission that changes no figure sends no correction.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.ingest import Folders, IngestResult, ingest_files, load_accepted, validate_landed
from etl.months import Month
from etl.sample import write_sample
from etl.warehouse.db import make_engine, upgrade
from etl.warehouse.load import recompute_after_load
from etl.warehouse.schema import deliveries
from tests.warehouse.conftest import postgres_database

SCRIPT = Path(sys.executable).with_name("csc-pipeline")
KEY = "stale-figures-test-key-0123"
MONTH = Month(2024, 4)


@pytest.fixture
def url() -> Iterator[str]:
    with postgres_database() as found:
        yield found


def report(var: Path, url: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "CSC_VAR_DIR": str(var),
        "CSC_WAREHOUSE_URL": url,
        "CSC_PSEUDONYM_KEY": KEY,
    }
    for name in ("AIRFLOW_CONN_SMTP_DEFAULT", "CSC_PACK_CONFIG", "CSC_REPORTS_DIR"):
        environment.pop(name, None)
    return subprocess.run(
        [str(SCRIPT), "report", "--la", "330", "--month", str(MONTH), "--send"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def resubmit(path: Path, landed: Path, rows: int, *, blank_line: bool = False) -> Path:
    """The closures file again with its first ``rows`` data rows; ``blank_line`` makes it a
    different file (another SHA-256) with the same figures."""
    with path.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    target = landed / path.name
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(table[: rows + 1])
        if blank_line:
            handle.write("\n")
    return target


def load_only(path: Path, engine: sa.Engine, folders: Folders) -> IngestResult:
    """What the DAG's validate and load tasks do: the measures are the next task's."""
    outcome = validate_landed(path, engine=engine, key=KEY.encode(), folders=folders)
    assert not isinstance(outcome, IngestResult), outcome
    accepted, checked = outcome
    return load_accepted(
        accepted, checked.frame, engine=engine, folders=folders, loaded_by="dag", recompute=False
    )


def closures_in_kpis(var: Path) -> str:
    with (var / "reports" / "330" / str(MONTH) / "kpis.csv").open(encoding="utf-8") as handle:
        return next(r["value"] for r in csv.DictReader(handle) if r["kpi_id"] == "closures")


def test_a_resubmission_between_load_and_measures_is_not_published(
    url: str, tmp_path: Path
) -> None:
    var = tmp_path / "var"
    samples = write_sample(tmp_path / "sample", start=MONTH, months=1)
    keep = {p.name: p.read_bytes() for p in samples}
    engine = make_engine(url)
    upgrade(engine)
    folders = Folders(var / "archive", var / "quarantine")
    results = ingest_files(samples, engine=engine, key=KEY.encode(), folders=folders, loaded_by="t")
    assert [r.status for r in results] == ["loaded", "loaded", "loaded"]

    first = report(var, url)
    assert first.returncode == 0, first.stderr
    closures = next(n for n in keep if n.startswith("closures"))
    original = tmp_path / "original.csv"
    original.write_bytes(keep[closures])
    total = sum(1 for _ in original.open(encoding="utf-8")) - 1
    assert closures_in_kpis(var) == str(total)

    landed = tmp_path / "landing"
    landed.mkdir()
    load_only(resubmit(original.rename(tmp_path / closures), landed, 10), engine, folders)
    waiting = report(var, url)
    assert waiting.returncode == 2
    said = " ".join(waiting.stderr.split())
    assert (
        f"the pack for LA 330, {MONTH} waits: measures not yet recomputed since {closures}" in said
    )
    assert "Traceback" not in waiting.stderr
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(deliveries)) == 2

    recompute_after_load(engine, dataset="closures", la_code="330", month=MONTH)
    corrected = report(var, url)
    assert corrected.returncode == 0, corrected.stderr
    assert "commissioner: correction" in " ".join(corrected.stdout.split())
    assert closures_in_kpis(var) == "10"

    # The same figures in a different file: loaded, measured, and no correction.
    load_only(resubmit(tmp_path / closures, landed, 10, blank_line=True), engine, folders)
    recompute_after_load(engine, dataset="closures", la_code="330", month=MONTH)
    unchanged = report(var, url)
    assert unchanged.returncode == 0, unchanged.stderr
    assert "commissioner: already sent" in " ".join(unchanged.stdout.split())
    with engine.connect() as connection:
        statuses = connection.scalars(
            sa.select(deliveries.c.status).order_by(deliveries.c.delivery_id)
        ).all()
    engine.dispose()
    assert statuses == ["sent", "sent", "correction", "correction"]  # none for the same figures
