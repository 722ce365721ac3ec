"""Shared fixtures: small hand-made extracts built from the contracts."""

from __future__ import annotations

import atexit
import csv
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from etl import validation
from etl.contracts import load_contract
from etl.orchestration.local import airflow_environment

# Airflow reads its configuration once, when first imported: every test
# process gets a private Airflow home (SQLite metadata DB) before any test
# imports it.  Sensors look every second and give up after a few, so a test
# of a missing file takes seconds, not a week.
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="csc-airflow-"))
# Removed when the process ends (each xdist worker has its own), not left in /tmp.
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
os.environ.update(airflow_environment(AIRFLOW_HOME))
os.environ.update(
    {
        "AIRFLOW__CSC_PIPELINE__SENSOR_POKE_SECONDS": "1",
        "AIRFLOW__CSC_PIPELINE__SENSOR_TIMEOUT_SECONDS": "3",
    }
)

# Hypothesis: CI runs the fuzz tests at full strength, a local run briefly.
# Each fuzz test takes a share of the profile's max_examples (tests/test_fuzz_reader.py).
_FUZZ = {
    "deadline": None,  # the machine is shared: a slow example is not a failure
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=1000, **_FUZZ)
settings.register_profile("dev", max_examples=100, **_FUZZ)
_CI = os.environ.get("CI", "").lower() in ("true", "1")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _CI else "dev"))

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = REPO.parent / "shared" / "spec"

# One valid row per dataset, for the month 2024-02 of LA 330; tests change a
# field or two to break exactly one rule.
VALID_ROWS: dict[str, dict[str, str]] = {
    "workforce": {
        "la_code": "330",
        "snapshot_date": "2024-02-29",
        "record_type": "worker",
        "post_id": "P001",
        "team": "Assessment North",
        "org_role": "5",
        "fte": "1",
        "worker_id": "SW0000000001",
        "agency_worker": "false",
        "covered_by_agency": "",
        "start_date": "2019-05-01",
        "end_date": "",
        "reason_leave": "",
        "caseload": "18",
        "working_days_lost": "0.5",
    },
    "referrals": {
        "la_code": "330",
        "referral_id": "REF1",
        "child_id": "CH1",
        "referral_date": "2024-02-05",
        "referral_source": "6",
        "primary_need": "N1",
        "nfa": "false",
        "date_of_birth": "2015-06-17",
        "sex": "F",
        "ethnicity": "WBRI",
        "assessment_start_date": "2024-02-06",
        "assessment_authorised_date": "2024-02-28",
        "team": "Assessment North",
        "allocated": "true",
    },
    "closures": {
        "la_code": "330",
        "referral_id": "REF0",
        "child_id": "CH0",
        "referral_date": "2023-11-02",
        "closure_date": "2024-02-12",
        "closure_reason": "RC7",
        "capacity_closure": "false",
        "team": "Assessment North",
    },
}

WriteExtract = Callable[..., Path]


@pytest.fixture(scope="session")
def gx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working copy of the committed GX project, shared by a process's tests."""
    return validation.working_project(tmp_path_factory.mktemp("gx") / "expectations")


@pytest.fixture
def write_extract(tmp_path: Path) -> WriteExtract:
    """Write ``rows`` (dicts of column -> cell text) as a CSV named per the contract."""

    def write(
        dataset: str,
        rows: list[Mapping[str, str]] | None = None,
        *,
        month: str = "2024-02",
        la: str = "330",
        name: str | None = None,
        header: list[str] | None = None,
    ) -> Path:
        columns = header or list(load_contract(dataset).columns)
        rows = [VALID_ROWS[dataset]] if rows is None else rows
        path = tmp_path / (name or f"{dataset}_{la}_{month}.csv")
        return write_rows(path, dataset, rows, header=columns)

    return write


def write_rows(
    path: Path,
    dataset: str,
    rows: list[Mapping[str, str]],
    *,
    header: list[str] | None = None,
) -> Path:
    """Write rows as a CSV with the contract's header (or ``header``)."""
    columns = header or list(load_contract(dataset).columns)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    return path


def row(dataset: str, **changes: str) -> dict[str, str]:
    """A valid row of ``dataset`` with some fields changed."""
    return {**VALID_ROWS[dataset], **changes}
