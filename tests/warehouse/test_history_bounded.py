"""Measures read only their windows, and give what reading all history gives.

A two-year sample of one LA (``etl.sample``, sized from its published
figures) goes through the real ingest, file by file, each load recomputing
only the months it affects with queries bounded by their windows.  One
referral is corrected 20 months after it was received, so a load reaches
further back than the usual 12 months.  The stored measures must equal one
computation of every month at once, whose windows span the whole history;
and the per-row test of "current version" the bounded queries use must pick
exactly the versions the NOT EXISTS test picks.
"""

from __future__ import annotations

import csv
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.ingest import Folders, ingest_files
from etl.months import Month
from etl.sample import write_sample
from etl.sample.sizes import profile_of
from etl.warehouse.measures import known_months, loaded_months, recompute_measures
from etl.warehouse.measures_sql import is_current, is_latest
from etl.warehouse.schema import measures, referral_versions
from tests.warehouse.checksums import table_checksum
from tests.warehouse.conftest import empty

LA = "857"
START = Month(2022, 4)
MONTHS = 25
#: The month whose referrals file corrects a referral of START.
LATE = START + 20
KEY = b"test-history-bounded-key-0123456789"


def _late_correction(files: list[Path]) -> str:
    """Append to LATE's referrals file a version of one of START's referrals whose
    assessment is authorised in LATE; returns its (raw) referral id."""
    own = next(f for f in files if f.name == f"referrals_{LA}_{START}.csv")
    late = next(f for f in files if f.name == f"referrals_{LA}_{LATE}.csv")
    with own.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    row = next(r for r in rows if r["nfa"] == "false" and r["assessment_start_date"])
    row["assessment_authorised_date"] = str(LATE.start + timedelta(days=3))
    with late.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        present = {r["referral_id"] for r in reader}
    if row["referral_id"] in present:
        raise RuntimeError("the sample already has this referral in the late file")
    with late.open("a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, header).writerow(row)
    return row["referral_id"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("sample")
    files = write_sample(out, la_code=LA, start=START, months=MONTHS, profile=profile_of(LA))
    _late_correction(files)
    return files


@pytest.fixture(scope="module")
def ingested(
    engine: Engine, sample: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> Engine:
    """The sample through the real ingest (validation, then load and bounded recompute)."""
    empty(engine)
    tmp = tmp_path_factory.mktemp("var")
    # Landed copies: the ingest files the landed file away, the sample stays.
    (tmp / "landing").mkdir()
    landed = [Path(shutil.copy2(f, tmp / "landing" / f.name)) for f in sample]
    results = ingest_files(
        landed,
        engine=engine,
        key=KEY,
        folders=Folders(tmp / "archive", tmp / "quarantine"),
        loaded_by="test",
    )
    rejected = [r.file for r in results if r.rejected]
    assert rejected == []
    late = next(r for r in results if r.file == f"referrals_{LA}_{LATE}.csv")
    # The correction reached back 20 months, beyond the usual 12.
    assert START in late.months_recomputed
    return engine


@pytest.mark.slow
def test_stored_measures_equal_one_computation_over_all_history(ingested: Engine) -> None:
    incremental = table_checksum(ingested, measures)
    with ingested.connect() as connection:
        months = sorted(known_months(connection, LA))
        stored = connection.scalar(sa.select(sa.func.count()).select_from(measures))
    assert len(months) == MONTHS
    with ingested.begin() as connection:
        connection.execute(sa.delete(measures))
    # One call: every window spans the whole history.
    written = recompute_measures(ingested, LA, months)
    assert written == stored
    assert table_checksum(ingested, measures) == incremental


@pytest.mark.slow
def test_latest_version_per_row_is_the_current_version(ingested: Engine) -> None:
    rv = referral_versions
    key = (rv.c.la_code, rv.c.referral_id, rv.c.month)
    with ingested.connect() as connection:
        total = connection.scalar(sa.select(sa.func.count()).select_from(rv))
        current = set(connection.execute(sa.select(*key).where(is_current(rv))))
        latest = set(connection.execute(sa.select(*key).where(is_latest(rv, "latest"))))
    # Many referrals have several versions: the test can tell the two apart.
    assert len(current) < (total or 0)
    assert latest == current


@pytest.mark.slow
def test_loaded_months_between_bounds(ingested: Engine) -> None:
    first, last = START + 5, START + 16
    with ingested.connect() as connection:
        every = loaded_months(connection, LA)
        bounded = loaded_months(connection, LA, first, last)
        known = known_months(connection, LA, first, last)
    assert bounded == {d: {m for m in ms if first <= m <= last} for d, ms in every.items()}
    assert known == {first + i for i in range(12)}
