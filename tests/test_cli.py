"""The ``csc-pipeline`` command as a person runs it: real processes, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("csc-pipeline")


def run(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CSC_VAR_DIR": str(tmp_path / "var"), **env}
    for name in ("CSC_WAREHOUSE_URL", "CSC_PSEUDONYM_KEY"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_console_script_is_installed() -> None:
    assert SCRIPT.exists(), "pip install -e . should have made .venv/bin/csc-pipeline"


def test_sample_data_writes_every_month(tmp_path: Path) -> None:
    result = run(
        "sample-data", "--out", "s", "--months", "2", "--start", "2023-12", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert names == [
        f"{d}_330_{m}.csv"
        for d in ("closures", "referrals", "workforce")
        for m in ("2023-12", "2024-01")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--la", "33"], "3-digit"),
        (["--start", "2023-13"], "1-12"),
        (["--start", "March"], "YYYY-MM"),
        (["--months", "0"], "at least 1"),
    ],
)
def test_bad_arguments_are_one_clear_sentence(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run("sample-data", "--out", "s", *args, tmp_path=tmp_path)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_names_file_rule_column_rows(tmp_path: Path) -> None:
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_text(
        "la_code,referral_id,child_id,referral_date,closure_date,closure_reason,"
        "capacity_closure\n330,R1,C1,2024-01-05,2024-03-02,RC7,N\n"
    )
    result = run("validate", str(path), tmp_path=tmp_path)
    assert result.returncode == 1
    assert "closures_330_2024-02.csv" in result.stdout and "rejected" in result.stdout
    assert "closure_date_in_month" in result.stdout and "row 2" in result.stdout


def test_ingest_without_a_key_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_text("la_code\n")
    result = run("ingest", str(path), tmp_path=tmp_path)
    assert result.returncode == 2 and "CSC_PSEUDONYM_KEY" in result.stderr
    assert "Traceback" not in result.stderr and path.exists()


def test_ingest_before_init_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_text("la_code\n")
    (tmp_path / "var").mkdir()
    result = run("ingest", str(path), tmp_path=tmp_path, CSC_PSEUDONYM_KEY="k" * 32)
    assert result.returncode == 2 and "csc-pipeline init" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_sentence(tmp_path: Path) -> None:
    result = run(
        "init", tmp_path=tmp_path, CSC_WAREHOUSE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    assert result.returncode == 2 and "cannot reach the warehouse" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_then_ingest_loads_and_a_bad_file_exits_non_zero(tmp_path: Path) -> None:
    key = {"CSC_PSEUDONYM_KEY": "k" * 32}
    assert run("init", tmp_path=tmp_path, **key).returncode == 0
    run(
        "sample-data",
        "--out",
        "var/landing",
        "--months",
        "1",
        "--start",
        "2024-01",
        tmp_path=tmp_path,
    )
    landing = sorted((tmp_path / "var" / "landing").iterdir())
    good = run("ingest", *map(str, landing), tmp_path=tmp_path, **key)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count("loaded") == 3  # one row of the table per file
    bad = tmp_path / "var" / "landing" / "referrals_330_2024-02.csv"
    bad.write_bytes(b"")
    rejected = run("ingest", str(bad), tmp_path=tmp_path, **key)
    assert rejected.returncode == 1 and "empty_file" in rejected.stdout
    assert list((tmp_path / "var" / "quarantine").rglob("*referrals_330_2024-02.csv"))
