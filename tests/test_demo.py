"""``csc-pipeline demo``: sample data through the real DAGs to packs and the outbox.

Run as a user runs it, in a fresh process and an empty folder, with none of
the test session's Airflow or csc settings.
"""

from __future__ import annotations

import csv
import email
import email.policy
import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_every_month_through_the_dags_to_packs_and_the_outbox(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CSC_"))}
    done = subprocess.run(
        [sys.executable, "-m", "etl.cli", "demo", "--months", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # One backfill run of each DAG for both months.
    assert "4/4 DAG runs succeeded" in done.stdout
    var = tmp_path / "var"
    for month in ("2022-04", "2022-05"):
        pack = var / "reports" / "330" / month
        assert (pack / "commissioner-pack.html").stat().st_size > 10_000
        with (pack / "kpis.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert {r["month"] for r in rows} == {month}
        assert {r["la_code"] for r in rows} == {"330"}
    emails = sorted((var / "outbox").glob("*.eml"))
    assert emails, "no e-mail reached the outbox"
    subjects = {
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"])
        for p in emails
    }
    assert any("April 2022" in s for s in subjects) and any("May 2022" in s for s in subjects)
    # Every landed file was loaded and archived; Airflow's own home was temporary.
    assert list((var / "landing").iterdir()) == []
    assert len(list((var / "archive" / "330").rglob("*.csv"))) == 6
    assert not (tmp_path / "airflow.cfg").exists() and not (var / "airflow").exists()


def test_the_demo_signs_off_by_itself_and_says_so(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from etl.warehouse.schema import deliveries
    from tests.signoff_config import write_sign_off_config

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CSC_"))}
    env["CSC_PACK_CONFIG"] = str(write_sign_off_config(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "etl.cli", "demo", "--months", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4/4 DAG runs succeeded" in done.stdout
    said = " ".join(done.stdout.split())
    assert (
        "Sign-off: 1 copy approved automatically by the demo (recorded as "
        "'csc-pipeline demo (automatic)'); in production an approver answers in Airflow"
    ) in said
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'var' / 'warehouse.db'}")
    query = sa.select(
        deliveries.c.audience, deliveries.c.approved_by, deliveries.c.approval_comment
    ).order_by(deliveries.c.audience)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(query)]
    engine.dispose()
    assert rows == [
        (
            "commissioner",
            "csc-pipeline demo (automatic)",
            "approved automatically by csc-pipeline demo",
        ),
        ("partnership", None, None),
    ]
