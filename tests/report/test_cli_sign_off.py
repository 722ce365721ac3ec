"""``csc-pipeline report --send`` for an audience that needs sign-off: real process, real mail.

The pack configuration is the embedded one with sign-off asked for the
commissioner's copy (tests/signoff_config.py).  Without ``--approved-by``
(or with a name that is not an approver) the command refuses in one
sentence and sends nothing; with it, each audience gets one e-mail and the
commissioner's delivery records who approved it, when and their comment.
On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from etl.warehouse.db import make_engine, upgrade
from etl.warehouse.schema import deliveries
from tests.mailserver import mail_server
from tests.report.pack_month import load_small_warehouse
from tests.signoff_config import APPROVER, write_sign_off_config
from tests.warehouse.conftest import postgres_database

SCRIPT = Path(sys.executable).with_name("csc-pipeline")
MONTH = "2024-03"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        yield url
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def setup(tmp_path: Path, warehouse_url: str) -> dict[str, str]:
    engine = make_engine(warehouse_url)
    upgrade(engine)
    load_small_warehouse(engine)
    engine.dispose()
    return {
        "CSC_VAR_DIR": str(tmp_path / "var"),
        "CSC_WAREHOUSE_URL": warehouse_url,
        "CSC_PACK_CONFIG": str(write_sign_off_config(tmp_path)),
    }


def run(env: dict[str, str], port: int, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CSC_")}
    smtp = {"disable_ssl": True, "disable_tls": True, "timeout": 5, "retry_limit": 0}
    environment |= env | {
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
            {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": smtp}
        )
    }
    return subprocess.run(
        [str(SCRIPT), "report", "--la", "330", "--month", MONTH, "--send", *args],
        cwd=env["CSC_VAR_DIR"].rsplit("/", 1)[0],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def delivery_rows(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    d = deliveries
    query = sa.select(
        d.c.audience, d.c.status, d.c.approved_by, d.c.approved_at, d.c.approval_comment
    ).order_by(d.c.delivery_id)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
    finally:
        engine.dispose()


def test_send_without_approved_by_is_refused_and_sends_nothing(setup: dict[str, str]) -> None:
    with mail_server() as (inbox, port):
        result = run(setup, port)
    assert result.returncode == 2
    assert " ".join(result.stderr.split()) == (
        "csc-pipeline: the pack configuration asks for sign-off before the commissioner copy "
        "is sent: add --approved-by NAME (one of its approvers); nothing was sent"
    )
    assert inbox.messages == []
    assert delivery_rows(setup["CSC_WAREHOUSE_URL"]) == []


def test_approved_by_someone_not_an_approver_is_refused(setup: dict[str, str]) -> None:
    with mail_server() as (inbox, port):
        result = run(setup, port, "--approved-by", "a-passer-by")
    assert result.returncode == 2
    assert " ".join(result.stderr.split()) == (
        "csc-pipeline: a-passer-by may not sign off the commissioner copy "
        "(approvers: head-of-performance); nothing was sent"
    )
    assert inbox.messages == []
    assert delivery_rows(setup["CSC_WAREHOUSE_URL"]) == []


def test_approved_by_is_sent_once_per_audience_and_recorded(setup: dict[str, str]) -> None:
    with mail_server() as (inbox, port):
        result = run(setup, port, "--approved-by", APPROVER, "--comment", "Read at the 9:00")
        again = run(setup, port, "--approved-by", APPROVER)
    assert result.returncode == 0, result.stderr
    assert "commissioner: sent (smtp://127.0.0.1:" in result.stdout
    assert again.returncode == 0, again.stderr
    assert "commissioner: already sent; partnership: already sent" in again.stdout
    assert sorted(m.rcpt_tos for m in inbox.messages) == [
        ["commissioner@example.gov.uk", "dcs@example.gov.uk"],
        ["improvement-board@example.gov.uk"],
    ]
    rows = delivery_rows(setup["CSC_WAREHOUSE_URL"])
    assert [
        (r["audience"], r["status"], r["approved_by"], r["approval_comment"]) for r in rows
    ] == [
        ("commissioner", "sent", APPROVER, "Read at the 9:00"),
        ("partnership", "sent", None, None),
    ]
    assert rows[0]["approved_at"] is not None and rows[1]["approved_at"] is None


def test_approved_by_without_send_is_refused(setup: dict[str, str], tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CSC_")} | setup
    result = subprocess.run(
        [str(SCRIPT), "report", "--la", "330", "--month", MONTH, "--approved-by", APPROVER],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "csc-pipeline: --approved-by and --comment only apply with --send"
    )
