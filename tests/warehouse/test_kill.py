"""A load killed with SIGKILL in the middle of its COPY leaves the previous month.

A real child process loads a big referrals month into PostgreSQL over a
month already loaded; once PostgreSQL reports the COPY under way with rows
received, the child is killed (SIGKILL: no cleanup, no rollback from the
client).  The server rolls the transaction back; the previous month, its
load record and its measures must be exactly as before, and a retry loads.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.warehouse.db import schema_of, upgrade
from tests.warehouse.checksums import load_history, warehouse_checksums
from tests.warehouse.conftest import PG_URL, drop, new_engine
from tests.warehouse.extracts import load, referral

REPO = Path(__file__).resolve().parents[2]
MARCH = "2024-03"


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Engine]:
    engine, schema = new_engine("postgresql", tmp_path)
    upgrade(engine)
    yield engine
    drop(engine, schema)


def _copy_progress(engine: Engine, app_name: str) -> int | None:
    """Rows the COPY of the process named ``app_name`` has received (None: no COPY)."""
    query = sa.text(
        "SELECT p.tuples_processed FROM pg_stat_progress_copy p "
        "JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name = :name"
    )
    with engine.connect() as connection:
        return connection.execute(query, {"name": app_name}).scalar()


def _backend_gone(engine: Engine, app_name: str) -> bool:
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    with engine.connect() as connection:
        return connection.execute(query, {"name": app_name}).scalar() == 0


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigkill_during_copy_leaves_the_previous_month(pg: Engine) -> None:
    rows = [referral(f"R{i}", f"child {i}", date(2024, 3, 1 + i)) for i in range(5)]
    previous = load(pg, "referrals", MARCH, rows)
    before = warehouse_checksums(pg)
    history = load_history(pg)

    app_name = f"csc-kill-{uuid.uuid4().hex[:8]}"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.warehouse._slow_copy_load",
            PG_URL,
            str(schema_of(pg)),
            app_name,
            "60000",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        _wait(lambda: (_copy_progress(pg, app_name) or 0) > 0, 60, "the child's COPY to start")
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # The server notices the dead client and rolls its transaction back.
    _wait(lambda: _backend_gone(pg, app_name), 30, "the killed load's backend to end")

    assert warehouse_checksums(pg) == before
    assert load_history(pg) == history

    retry = load(pg, "referrals", MARCH, [*rows, referral("R9", "child 9", date(2024, 3, 20))])
    assert (retry.status, retry.rows_loaded, retry.superseded) == ("loaded", 6, previous.load_id)
