"""Two Celery workers load two LAs of one month at once, on PostgreSQL.

A real Airflow (``tests/e2e/stack.py``) with two ``airflow celery worker``
processes, one task at a time each, and ``CSC_LA_CODES`` naming two LAs:
each ingest run maps its tasks over both, so its two loads can run at once,
one per worker.  Both LAs' files for the month are in the landing folder.

To make the overlap certain rather than likely, the test holds a SHARE lock
on the referrals table (as a long report query or a DBA's maintenance
might): the referrals DAG's two loads both get past their LA's advisory lock
and wait at the table, one on each worker.  What the test then sees is the
evidence that loads of different LAs do not serialise: two backends, each
holding its own LA's load lock, both waiting at the table, while a third
load of either LA would wait for it and one of a third LA would not.  Then
the lock goes, the other two datasets' DAGs are switched on, and everything
runs to the end: the report DAG on the loads' Asset events.

Afterwards, from Airflow's own records (task instances' host name, pid,
start and end), the two referrals loads ran on different workers and
overlapped; the warehouse has the same data tables and measures (checksums)
as the same six files ingested one at a time by ``csc-pipeline ingest``;
and each LA's pack went exactly once to each audience (the SMTP server's
messages and the deliveries table).

Airflow 3.3 can drop the Asset event of a load that finishes while its
asset is already queued for the report DAG (apache/airflow#56050), as two
LAs' loads finishing together often do; the LA whose events were dropped
then gets its pack because a report run also sends the packs the
warehouse says are owed (:mod:`etl.report.owed`).  The test prints which
report run consumed each load's event.

About 10 minutes on the shared 2-core machine (each phase's time, the
workers' task table and the overlap are printed with ``pytest -s``); one
LA-month of sample data each, the smallest the generator writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl.contracts import DATASETS
from etl.months import Month
from etl.report.config import load_pack_config
from etl.sample import write_sample
from etl.warehouse.db import SCHEMA, advisory_lock, make_engine
from etl.warehouse.schema import DATA_TABLES, deliveries, loads
from tests.e2e.stack import (
    BIN,
    FINISHED,
    Stack,
    fresh_database,
    require_services,
    running_airflow,
)
from tests.e2e.test_real_airflow import reporting_month, scheduled_run
from tests.mailserver import MailServer, running_mail_server
from tests.warehouse.checksums import warehouse_checksums

pytestmark = pytest.mark.slow

LAS = ("330", "886")
#: An LA not in the run: its loads never wait for the run's.
OTHER_LA = "331"
INGEST = {dataset: f"csc_ingest_{dataset}" for dataset in DATASETS}
REPORT = "csc_report"
GATED = "referrals"
WORKERS = ("worker-1", "worker-2")
STEP_TIMEOUT = 420
#: PostgreSQL's SQLSTATE for a lock wait ended by lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def stack(tmp_path: Path, mail: MailServer) -> Iterator[Stack]:
    require_services("CeleryExecutor")
    started = time.monotonic()
    with running_airflow(
        tmp_path,
        mail,
        workers=2,
        worker_concurrency=1,
        la_codes=",".join(LAS),
        executor="CeleryExecutor",
    ) as running:
        running.timings["start-up"] = round(time.monotonic() - started, 1)
        yield running
    print(f"\ntwo-worker e2e: {time.monotonic() - started:.0f} s wall time")


# -- the files -------------------------------------------------------------------------


def write_month(folder: Path, month: Month) -> list[Path]:
    """Both LAs' three files of the month (seeds differ: two councils' data)."""
    paths: list[Path] = []
    for seed, la_code in enumerate(LAS, start=11):
        paths += write_sample(folder, la_code=la_code, start=month, months=1, seed=seed)
    return sorted(paths)


def land(files: list[Path], landing: Path) -> None:
    """Copied beside the landing folder, then moved in whole (a rename), as councils upload."""
    upload = landing.parent / "upload"
    upload.mkdir(exist_ok=True)
    for path in files:
        partial = Path(shutil.copy(path, upload / path.name))
        os.replace(partial, landing / path.name)


# -- the lock the test holds --------------------------------------------------------------


@dataclass
class Gate:
    """A transaction of the test's holding a SHARE lock on one data table."""

    engine: Engine
    connection: Connection
    table: str

    def backends(self) -> list[dict[str, Any]]:
        """The locks every other backend of the warehouse database holds or awaits.

        Asked on a connection of its own: inside the gate's transaction,
        PostgreSQL would show the same snapshot of its statistics each time.
        """
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT pid, locktype, granted, classid, objid, "
                    "relation::regclass::text AS relation FROM pg_locks "
                    "WHERE database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()) AND pid <> pg_backend_pid()"
                )
            )
            return [dict(row._mapping) for row in rows]

    def waiting(self) -> dict[int, int]:
        """Backends waiting at the gated table -> the advisory lock key each holds."""
        locks = self.backends()
        waiting = {
            lock["pid"]
            for lock in locks
            if lock["locktype"] == "relation"
            and not lock["granted"]
            and lock["relation"] == f"{SCHEMA}.{self.table}"
        }
        held: dict[int, int] = {}
        for lock in locks:
            if lock["pid"] in waiting and lock["locktype"] == "advisory" and lock["granted"]:
                held[lock["pid"]] = (lock["classid"] << 32) | lock["objid"]
        return {pid: held.get(pid, -1) for pid in waiting}


def hold_gate(engine: Engine, table: str) -> tuple[Gate, Any]:
    connection = engine.connect()
    transaction = connection.begin()
    quote = connection.dialect.identifier_preparer.quote
    # SHARE: readers pass (validate's look-ups), writers of the table wait.
    connection.exec_driver_sql(f"LOCK TABLE {quote(SCHEMA)}.{quote(table)} IN SHARE MODE")
    return Gate(engine, connection, table), transaction


def load_lock_free(engine: Engine, la_code: str) -> bool:
    """Whether the load lock of ``la_code`` can be had now (waiting at most a second)."""
    with engine.connect() as connection, connection.begin():
        connection.exec_driver_sql("SET LOCAL lock_timeout = '1s'")
        try:
            advisory_lock(connection, f"load {la_code}")
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                return False
            raise
        return True


# -- Airflow's records --------------------------------------------------------------------


def task_instances(stack: Stack, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
    """The mapped instances of ``task_id`` in the run, by map index."""
    instances = stack.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)
    found = [ti for ti in instances["task_instances"] if ti["task_id"] == task_id]
    return sorted(found, key=lambda ti: ti["map_index"])


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def la_of(stack: Stack, dag_id: str, run_id: str, ti: dict[str, Any]) -> str:
    """The LA a mapped task instance is for, from the XCom it returned (a batch of one LA)."""
    value = stack.xcom(dag_id, run_id, ti["task_id"], ti["map_index"])
    (la_code,) = {load["la_code"] for load in value["loads"]}
    return str(la_code)


def worker_of(stack: Stack, pid: int) -> str | None:
    """The worker service whose process tree a live task process belongs to."""
    try:
        ancestors = {p.pid for p in psutil.Process(pid).parents()}
    except psutil.NoSuchProcess:
        return None
    for service in stack.services:
        if service.name.startswith("celery-worker-") and service.process.pid in ancestors:
            return "worker-" + service.name.rsplit("-", 1)[1]
    return None


def finished(stack: Stack, dag_id: str, run_id: str) -> dict[str, Any] | None:
    run: dict[str, Any] = stack.get(f"/dags/{dag_id}/dagRuns/{run_id}")
    return run if run["state"] in FINISHED else None


def load_events(stack: Stack, month: Month) -> list[dict[str, Any]]:
    """The ingest DAGs' Asset events of the month, oldest first."""
    events = stack.get("/assets/events", limit=100, order_by="timestamp")["asset_events"]
    return [e for e in events if (e.get("extra") or {}).get("month") == str(month)]


def reports_done(
    stack: Stack, engine: Engine, month: Month, expected: int
) -> list[dict[str, Any]] | None:
    """The report runs, once every one has finished, ``expected`` deliveries are
    recorded, and the last run was created after the last load's event (so no
    event waits in Airflow's queue to start another)."""
    runs = stack.dag_runs(REPORT)
    if not runs or any(run["state"] not in FINISHED for run in runs):
        return None
    events = load_events(stack, month)
    if len(events) < len(LAS) * len(DATASETS):
        return None
    if max(when(e["timestamp"]) for e in events) >= max(when(r["queued_at"]) for r in runs):
        return None
    with engine.connect() as connection:
        query = sa.select(sa.func.count()).where(deliveries.c.month == month.start)
        recorded = connection.scalar(query.select_from(deliveries)) or 0
    return runs if recorded >= expected else None


# -- the warehouse of one at a time ----------------------------------------------------------


def one_at_a_time(stack: Stack, files: list[Path], url: str, folder: Path) -> dict[str, str]:
    """The same files through one ``csc-pipeline ingest``, which loads them one after another."""
    env = {
        **stack.env,
        "CSC_WAREHOUSE_URL": url,
        "CSC_VAR_DIR": str(folder / "var"),
        "CSC_LANDING_DIR": str(folder / "landing"),
        "CSC_REPORTS_DIR": str(folder / "reports"),
    }
    cli = str(BIN / "csc-pipeline")
    (folder / "in").mkdir(parents=True)
    copies = [shutil.copy(path, folder / "in" / path.name) for path in files]
    for command in ([cli, "init"], [cli, "ingest", *map(str, copies)]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (command, done.stderr[-2000:])
    engine = make_engine(url)
    try:
        assert load_statuses(engine) == expected_loads()
        return warehouse_checksums(engine, exclude=("load_id",))
    finally:
        engine.dispose()


def load_statuses(engine: Engine) -> list[tuple[str, str, str, bool]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                loads.c.la_code, loads.c.dataset, loads.c.status, loads.c.measured_at.is_not(None)
            )
        )
        return sorted(tuple(row) for row in rows)  # type: ignore[misc]


def expected_loads() -> list[tuple[str, str, str, bool]]:
    return sorted((la, d, "loaded", True) for la in LAS for d in DATASETS)


# -- the test --------------------------------------------------------------------------------


def test_two_workers_load_two_las_of_one_month_at_once(
    stack: Stack, mail: MailServer, tmp_path: Path
) -> None:
    engine = make_engine(stack.env["CSC_WAREHOUSE_URL"])
    try:
        check_two_workers(stack, mail, engine, tmp_path)
    except AssertionError as failure:
        logs = stack.failed_task_logs([*INGEST.values(), REPORT])
        services = "\n\n".join(f"== {s.name}\n{s.tail(15)}" for s in stack.services)
        raise AssertionError(
            f"{failure}\n\nfailed tasks:\n{logs}\n\nservices:\n{services}"
        ) from None
    finally:
        engine.dispose()
        print(f"\nphases (s): {stack.timings}")


def check_two_workers(stack: Stack, mail: MailServer, engine: Engine, tmp: Path) -> None:
    stack.wait_for(
        "the DAGs parsed",
        lambda: (
            {d["dag_id"] for d in stack.get("/dags", limit=100)["dags"]}
            >= {*INGEST.values(), REPORT}
        ),
        timeout=STEP_TIMEOUT,
    )
    assert stack.get("/importErrors")["total_entries"] == 0, stack.get("/importErrors")

    gate, gate_transaction = hold_gate(engine, DATA_TABLES[GATED].name)
    try:
        # The report DAG first, so that it hears every event; then the gated
        # dataset's DAG alone, whose schedule starts its run for last month.
        for dag_id in (REPORT, INGEST[GATED]):
            assert stack.patch(f"/dags/{dag_id}", {"is_paused": False})["is_paused"] is False
        run = stack.wait_for(
            "the scheduled referrals run",
            lambda: scheduled_run(stack, INGEST[GATED]),
            timeout=STEP_TIMEOUT,
        )
        month = reporting_month(run["logical_date"])
        files = write_month(tmp / "sample", month)
        assert len(files) == len(LAS) * len(DATASETS)
        land(files, Path(stack.env["CSC_LANDING_DIR"]))

        # Both loads reach the table: each past its own LA's lock, on its own worker.
        dag_id, run_id = INGEST[GATED], run["dag_run_id"]
        waiting = stack.wait_for(
            "both referrals loads waiting at the locked table",
            lambda: len(w := gate.waiting()) == len(LAS) and w,
            timeout=STEP_TIMEOUT,
            interval=0.5,
            evidence=lambda: (stack.task_states(dag_id, run_id), gate.waiting()),
        )
        keys = set(waiting.values())
        assert len(keys) == len(LAS) and -1 not in keys, waiting
        # A third load of either LA would wait for its lock; one of another LA would not.
        assert [load_lock_free(engine, la) for la in LAS] == [False, False]
        assert load_lock_free(engine, OTHER_LA) is True
        running = task_instances(stack, dag_id, run_id, "load")
        assert [ti["state"] for ti in running] == ["running", "running"], running
        live = {ti["map_index"]: worker_of(stack, ti["pid"]) for ti in running}
        assert sorted(live.values(), key=str) == list(WORKERS), (live, running)
    finally:
        gate_transaction.rollback()
        gate.connection.close()
    released = datetime.now(UTC)

    # The other datasets' DAGs: six loads in all, two LAs, two workers.
    for dataset in DATASETS:
        if dataset != GATED:
            assert stack.patch(f"/dags/{INGEST[dataset]}", {"is_paused": False})
    runs = {
        dataset: stack.wait_for(
            f"the scheduled {INGEST[dataset]} run",
            lambda d=dataset: scheduled_run(stack, INGEST[d]),
            timeout=STEP_TIMEOUT,
        )
        for dataset in DATASETS
    }
    assert {reporting_month(r["logical_date"]) for r in runs.values()} == {month}
    for dataset, ingest_run in runs.items():
        dag_id, run_id = INGEST[dataset], ingest_run["dag_run_id"]
        done = stack.wait_for(
            f"{dag_id} to finish",
            lambda d=dag_id, r=run_id: finished(stack, d, r),
            timeout=STEP_TIMEOUT,
            evidence=lambda d=dag_id, r=run_id: stack.task_states(d, r),
        )
        states = stack.task_states(dag_id, run_id)
        assert done["state"] == "success", states
        assert set(states.values()) == {"success"}, states

    # Airflow's records: which worker ran each load, and when.
    table = []
    for dataset, ingest_run in runs.items():
        dag_id, run_id = INGEST[dataset], ingest_run["dag_run_id"]
        for task_id in ("load", "measures"):
            for ti in task_instances(stack, dag_id, run_id, task_id):
                table.append(
                    (
                        dataset,
                        task_id,
                        la_of(stack, dag_id, run_id, ti),
                        ti["hostname"],
                        ti["pid"],
                        when(ti["start_date"]),
                        when(ti["end_date"]),
                    )
                )
    print("\ndataset    task      LA   worker    pid      start         end")
    for dataset, task_id, la, host, pid, start, end in sorted(table, key=lambda r: r[5]):
        span = f"{start:%H:%M:%S.%f}"[:-3] + "  " + f"{end:%H:%M:%S.%f}"[:-3]
        print(f"{dataset:<10} {task_id:<9} {la}  {host:<9} {pid:<8} {span}")
    assert {row[3] for row in table} == set(WORKERS), table
    gated = [row for row in table if row[0] == GATED and row[1] == "load"]
    assert sorted(row[2] for row in gated) == sorted(LAS), gated
    # Recorded by Airflow as the same worker the process tree showed.
    assert {row[3] for row in gated} == set(WORKERS), gated
    assert sorted(row[3] for row in gated) == sorted(str(w) for w in live.values())
    starts, ends = [row[5] for row in gated], [row[6] for row in gated]
    assert max(starts) < released < min(ends), (starts, released, ends)
    overlap = (min(ends) - max(starts)).total_seconds()
    print(f"referrals loads of {' and '.join(LAS)} overlapped for {overlap:.1f} s")
    stack.timings["referrals loads overlap"] = round(overlap, 1)

    # The report DAG ran on the loads' events and sent each LA's pack once per audience.
    config = load_pack_config(stack.env["CSC_PACK_CONFIG"])
    audiences = sorted(audience.name for audience in config.audiences)
    report_runs = stack.wait_for(
        "the report runs after all six loads, and every pack recorded as sent",
        lambda: reports_done(stack, engine, month, len(LAS) * len(audiences)),
        timeout=STEP_TIMEOUT,
        evidence=lambda: [(r["dag_run_id"], r["state"]) for r in stack.dag_runs(REPORT)],
    )
    for report_run in report_runs:
        assert report_run["state"] == "success", stack.task_states(REPORT, report_run["dag_run_id"])
    consumed = {
        event["id"]: report_run["dag_run_id"]
        for report_run in report_runs
        for event in stack.triggering_events(REPORT, report_run["dag_run_id"])
    }
    for event in load_events(stack, month):
        extra = event["extra"]
        print(
            f"event {event['name']} {extra['la_code']} at {event['timestamp']}: "
            f"{consumed.get(event['id'], 'in no report run (dropped by Airflow)')}"
        )
    with engine.connect() as connection:
        sent = connection.execute(
            sa.select(
                deliveries.c.la_code,
                deliveries.c.audience,
                deliveries.c.status,
                deliveries.c.transport,
            ).where(deliveries.c.month == month.start)
        )
        recorded = sorted(tuple(row) for row in sent)
    assert recorded == sorted((la, a, "sent", "smtp") for la in LAS for a in audiences)
    print(f"deliveries recorded: {recorded}")
    label = datetime(month.year, month.month, 1).strftime("%B %Y")
    received: dict[tuple[str, tuple[str, ...]], int] = {}
    for message, recipients in zip(mail.messages, mail.recipients, strict=True):
        key = (str(message["Subject"]), tuple(sorted(recipients)))
        received[key] = received.get(key, 0) + 1
    print(f"messages received: {received}")
    assert len(mail.messages) == len(LAS) * len(audiences), received
    assert set(received.values()) == {1}, received
    assert all(subject.endswith(label) for subject, _ in received), received
    assert not any(subject.startswith("Correction") for subject, _ in received), received
    for audience in config.audiences:
        councils = {s for s, r in received if r == tuple(sorted(audience.recipients))}
        assert len(councils) == len(LAS), (audience.name, received)

    # The same warehouse as the same files loaded one at a time.
    assert load_statuses(engine) == expected_loads()
    together = warehouse_checksums(engine, exclude=("load_id",))
    started = time.monotonic()
    with fresh_database(f"csc_e2e_{os.getpid()}_{int(time.time())}_alone") as url:
        alone = one_at_a_time(stack, files, url, tmp / "alone")
    stack.timings["one at a time (csc-pipeline ingest)"] = round(time.monotonic() - started, 1)
    print(f"checksums, two workers at once: {together}")
    print(f"checksums, one at a time:       {alone}")
    assert together == alone
