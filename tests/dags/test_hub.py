"""A hub's month through the real DAGs: 20 LAs, batched, one council's file broken.

With ``las_per_batch`` 8 the ingest DAGs map their tasks over three batches
(8, 8 and 4 LAs) instead of 20 LAs; each batch is validated in one GX run.
One LA's closures file is rejected: the batch's other LAs still load and are
announced, the run fails at ``rejections``, and the report DAG sends every
pack but that LA's.  The warehouse the DAGs build is the one
``csc-pipeline ingest`` builds from the same files.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.ingest import Folders, ingest_files
from etl.months import Month
from etl.sample import write_sample
from etl.sample.sizes import all_la_codes, profile_of, published
from etl.warehouse.db import make_engine, upgrade
from etl.warehouse.schema import deliveries, loads
from tests.dags.conftest import KEY, Pipeline
from tests.dags.test_flow import asset_events
from tests.warehouse.checksums import warehouse_checksums

MONTH = Month(2024, 4)
INGEST = ("csc_ingest_workforce", "csc_ingest_referrals", "csc_ingest_closures")
#: The 20 councils with the fewest referrals (the test's time goes on files).
LAS = sorted(all_la_codes(), key=lambda code: published(code).referrals)[:20]
BATCH = 8


def _land(pipeline: Pipeline, folder: Path) -> list[Path]:
    files = []
    for la in LAS:
        files += write_sample(
            folder, la_code=la, start=MONTH, months=1, seed=5, profile=profile_of(la)
        )
    broken = folder / f"closures_{LAS[3]}_{MONTH}.csv"
    lines = broken.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("closure_reason")] = "RC99"
    broken.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    for path in files:
        shutil.copy(path, pipeline.settings.landing_dir / path.name)
    return files


def _cli_checksums(files: list[Path], tmp_path: Path) -> dict[str, str]:
    """The warehouse checksums ``csc-pipeline ingest``'s code gives for copies of ``files``."""
    cli = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    upgrade(cli)
    landing = tmp_path / "cli-landing"
    landing.mkdir()
    copies = [Path(shutil.copy(path, landing / path.name)) for path in files]
    folders = Folders(tmp_path / "cli-archive", tmp_path / "cli-quarantine")
    ingest_files(copies, engine=cli, key=KEY.encode(), folders=folders, loaded_by="test")
    sums = warehouse_checksums(cli, exclude=("load_id",))
    cli.dispose()
    return sums


def test_a_hub_month_runs_in_batches_and_builds_the_cli_warehouse(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    began = datetime.now(UTC)
    monkeypatch.setenv("CSC_LA_CODES", ",".join(LAS))
    monkeypatch.setenv("AIRFLOW__CSC_PIPELINE__LAS_PER_BATCH", str(BATCH))
    files = _land(pipeline, tmp_path / "sample")

    for dag_id in INGEST[:2]:
        outcome = pipeline.run(dag_id, month=str(MONTH))
        assert outcome.succeeded, outcome
        # Three batches, not twenty mapped tasks per step.
        assert sorted(k for k in outcome.tasks if k.startswith("validate")) == [
            "validate[0]",
            "validate[1]",
            "validate[2]",
        ]
    closures = pipeline.run("csc_ingest_closures", month=str(MONTH))
    assert closures.state == "failed"
    # LAs[3] is in the first batch: it alone fails, after its batch is loaded.
    assert closures.tasks["validate[0]"] == "success"
    assert closures.tasks["measures[0]"] == "success"
    assert closures.tasks["rejections[0]"] == "failed"
    assert closures.tasks["rejections[1]"] == closures.tasks["rejections[2]"] == "success"
    alerts = [s for s in pipeline.mail.subjects() if "rejected" in s]
    assert alerts == [f"csc-pipeline: closures_{LAS[3]}_{MONTH}.csv rejected, nothing loaded"]

    with pipeline.engine.connect() as connection:
        current = connection.execute(
            sa.select(loads.c.dataset, sa.func.count())
            .where(loads.c.status == "loaded", loads.c.superseded_by.is_(None))
            .group_by(loads.c.dataset)
        ).all()
    assert dict(current) == {"workforce": 20, "referrals": 20, "closures": 19}
    # The events name every LA loaded, batch by batch.
    named = {
        (load["la_code"], load["month"])
        for e in asset_events("csc_closures_loaded", since=began)
        for load in e["loads"]
    }  # type: ignore[attr-defined]
    assert named == {(la, str(MONTH)) for la in LAS if la != LAS[3]}

    report = pipeline.run("csc_report", month=str(MONTH))
    assert report.succeeded, report
    with pipeline.engine.connect() as connection:
        sent = connection.execute(sa.select(deliveries.c.la_code).distinct()).scalars().all()
    assert sorted(sent) == sorted(la for la in LAS if la != LAS[3])
    assert len(pipeline.mail.messages) - len(alerts) == 19 * 2  # two audiences each

    # The same files through csc-pipeline ingest's code give the same warehouse.
    assert _cli_checksums(files, tmp_path) == warehouse_checksums(
        pipeline.engine, exclude=("load_id",)
    )


def test_a_backfill_loads_each_las_months_as_one_batch_and_builds_the_cli_warehouse(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    first, months = Month(2024, 1), 3
    last = first + (months - 1)
    files = write_sample(tmp_path / "sample", la_code="330", start=first, months=months, seed=7)
    for path in files:
        shutil.copy(path, pipeline.settings.landing_dir / path.name)

    for dag_id in INGEST:
        outcome = pipeline.run(dag_id, month=str(first), through=str(last), la_code="330")
        assert outcome.succeeded, outcome
        # One batch: the LA's three months in one validate, one load, one measures.
        assert sorted(k for k in outcome.tasks if "[" in k) == [
            f"{task}[0]"
            for task in sorted(("wait_for_extract", "validate", "load", "measures", "rejections"))
        ]
    report = pipeline.run("csc_report", month=str(first), through=str(last), la_code="330")
    assert report.succeeded, report
    for month in (first, first + 1, last):
        assert (pipeline.settings.reports_dir / "330" / str(month) / "kpis.csv").is_file()
    assert len(pipeline.mail.messages) == months * 2

    assert _cli_checksums(files, tmp_path) == warehouse_checksums(
        pipeline.engine, exclude=("load_id",)
    )
