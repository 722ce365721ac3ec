"""No raw identifier reaches the warehouse, a log, a report or the Data Docs.

Sample data is rewritten with identifiers that are easy to find
(``KIDSECRET…`` children, ``QZ…`` workers), landed with two bad files that
are rejected, and ingested by the real command.  Then every byte the
pipeline wrote outside the archive and the quarantined originals (the only
places raw identifiers may stay) is searched for each of them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from etl.months import Month
from etl.sample import write_sample

KEY = "privacy-test-key-0123456789abcdef"


def _recognisable(files: list[Path]) -> set[str]:
    """Rewrite child and worker ids in place; return every raw id written."""
    children: dict[str, str] = {}
    workers: dict[str, str] = {}
    for path in files:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "child_id" in frame:
            frame["child_id"] = frame["child_id"].map(
                lambda v: children.setdefault(v, f"KIDSECRET{len(children):06d}")
            )
        if "worker_id" in frame:
            frame["worker_id"] = frame["worker_id"].map(
                lambda v: "" if not v else workers.setdefault(v, f"QZ{len(workers):010d}")
            )
        frame.to_csv(path, index=False)
    return set(children.values()) | set(workers.values())


def _bad_files(landing: Path, month: Month) -> set[str]:
    """A referrals file with a duplicate id and a workforce file with a bad worker_id."""
    referrals = pd.DataFrame(
        [
            {
                "la_code": "330",
                "referral_id": "DUP",
                "child_id": "KIDSECRETBAD1",
                "referral_date": f"{month}-03",
                "referral_source": "6",
                "primary_need": "N1",
                "nfa": "false",
            },
            {
                "la_code": "330",
                "referral_id": "DUP",
                "child_id": "KIDSECRETBAD2",
                "referral_date": f"{month}-04",
                "referral_source": "6",
                "primary_need": "N1",
                "nfa": "false",
            },
        ]
    )
    referrals.to_csv(landing / f"referrals_330_{month}.csv", index=False)
    workforce = pd.DataFrame(
        [
            {
                "la_code": "330",
                "snapshot_date": str(month.end),
                "record_type": "worker",
                "post_id": "P1",
                "team": "T",
                "org_role": "6",
                "fte": "1",
                "worker_id": "QZBADFORMAT",
                "agency_worker": "N",
                "covered_by_agency": "",
                "start_date": "2020-01-01",
                "end_date": "",
                "reason_leave": "",
                "caseload": "",
                "working_days_lost": "",
            },
        ]
    )
    workforce.to_csv(landing / f"workforce_330_{month}.csv", index=False)
    return {"KIDSECRETBAD1", "KIDSECRETBAD2", "QZBADFORMAT"}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etl.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_no_raw_identifier_leaves_the_landing_files(tmp_path: Path) -> None:
    landing = tmp_path / "var" / "landing"
    landing.mkdir(parents=True)
    files = write_sample(landing, start=Month(2024, 1), months=2)
    raw_ids = _recognisable(files)
    raw_ids |= _bad_files(landing, Month(2024, 3))
    assert len(raw_ids) > 1000

    env = {**os.environ, "CSC_VAR_DIR": str(tmp_path / "var"), "CSC_PSEUDONYM_KEY": KEY}
    env.pop("CSC_WAREHOUSE_URL", None)
    assert _run(["init"], env, tmp_path).returncode == 0
    ingest = _run(["ingest", *map(str, sorted(landing.iterdir()))], env, tmp_path)
    assert ingest.returncode == 1, ingest.stderr  # the two bad files were rejected
    assert "rejected" in ingest.stdout and "worker_id" in ingest.stdout

    var = tmp_path / "var"
    quarantine_reports = list((var / "quarantine").rglob("*.report.*"))
    assert len(quarantine_reports) == 4  # .md and .json for each rejected file
    data_docs = list((var / "gx").rglob("*.html"))
    assert data_docs, "GX Data Docs were not built"
    scanned = [
        p
        for p in var.rglob("*")
        if p.is_file()
        and "archive" not in p.relative_to(var).parts
        and not (p.parent.is_relative_to(var / "quarantine") and ".report." not in p.name)
        and p.name != "pseudonym.key"
        and not p.is_relative_to(landing)
    ]
    assert any(p.name == "warehouse.db" for p in scanned)
    pattern = re.compile("|".join(sorted(raw_ids, key=len, reverse=True)).encode())
    leaks = {}
    for path in scanned:
        found = pattern.search(path.read_bytes())
        if found:
            leaks[str(path.relative_to(var))] = found.group().decode()
    for stream in (ingest.stdout, ingest.stderr):
        found = pattern.search(stream.encode())
        if found:
            leaks["command output"] = found.group().decode()
    assert leaks == {}
    # The raw originals are where they may be: archive and quarantine only.
    archived = b"".join(p.read_bytes() for p in (var / "archive").rglob("*.csv"))
    assert pattern.search(archived), "the scan would not have found a leak"
