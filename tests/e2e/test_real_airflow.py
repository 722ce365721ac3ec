"""A month through a real, running Airflow: its own scheduler, on PostgreSQL, e-mail over SMTP.

No ``dag.test()`` here: the test starts ``airflow api-server``, ``scheduler``,
``dag-processor`` and ``triggerer`` (and a Celery worker with
``CSC_E2E_EXECUTOR=CeleryExecutor``) as the compose file would, with the
warehouse and Airflow's metadata each in a fresh PostgreSQL database and a
real SMTP server in this process.  It then behaves as operators and
councils do: it switches the DAGs on through the REST API, lets the
*schedule* start each ingest run (the month before the run, for every LA in
``CSC_LA_CODES``), lands that month's three files once each run is waiting
for them, and watches through the REST API until the scheduler has run the
report DAG on the ingest DAGs' Asset events and the pack has arrived by
e-mail.  Last, a manual report run triggered through the REST API sends
nothing again.  Everything it started is stopped and the databases dropped,
whatever happens.

About 90 s on an idle 2-core machine; the wall time and each phase's are
printed (``pytest -s``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from etl.contracts import DATASETS
from etl.months import Month
from etl.report.config import load_pack_config
from etl.sample import write_sample
from etl.warehouse.db import make_engine
from etl.warehouse.measures import KPI_IDS
from etl.warehouse.schema import deliveries, loads, measures
from tests.e2e.stack import EXECUTOR, FINISHED, Stack, require_services, running_airflow
from tests.mailserver import MailServer, running_mail_server

pytestmark = pytest.mark.slow

LA = "330"
INGEST = {dataset: f"csc_ingest_{dataset}" for dataset in DATASETS}
REPORT = "csc_report"
ALL_DAGS = {*INGEST.values(), REPORT, "csc_pack_deadline"}
#: Generous: a shared 2-core CI machine may be busy with the other tests.
STEP_TIMEOUT = 300


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def stack(tmp_path: Path, mail: MailServer) -> Iterator[Stack]:
    require_services()
    started = time.monotonic()
    with running_airflow(tmp_path, mail) as running:
        running.timings["start-up"] = round(time.monotonic() - started, 1)
        yield running
    print(f"\nreal-Airflow e2e ({EXECUTOR}): {time.monotonic() - started:.0f} s wall time")


def reporting_month(logical_date: str) -> Month:
    """The month before the run, in UK time (etl.orchestration.targets, stated again)."""
    when = datetime.fromisoformat(logical_date).astimezone(ZoneInfo("Europe/London"))
    return Month(when.year, when.month) - 1


def land(stack: Stack, month: Month) -> list[Path]:
    """The council's upload: written elsewhere, then moved in whole (a rename)."""
    outgoing = stack.home.parent / "outgoing"
    files = write_sample(outgoing, la_code=LA, start=month, months=1, seed=11)
    landing = Path(stack.env["CSC_LANDING_DIR"])
    landed = []
    for path in files:
        target = landing / path.name
        os.replace(path, target)
        landed.append(target)
    return landed


def scheduled_run(stack: Stack, dag_id: str) -> dict[str, Any] | None:
    runs = stack.dag_runs(dag_id)
    return runs[0] if runs else None


def sensor_waiting(stack: Stack, dag_id: str, run_id: str) -> bool:
    states = stack.task_states(dag_id, run_id)
    return states.get("wait_for_extract[0]") == "up_for_reschedule"


def finished(stack: Stack, dag_id: str, run_id: str) -> dict[str, Any] | None:
    run: dict[str, Any] = stack.get(f"/dags/{dag_id}/dagRuns/{run_id}")
    return run if run["state"] in FINISHED else None


def report_runs_covering(stack: Stack, month: Month) -> list[dict[str, Any]] | None:
    """The report runs, once they have consumed every ingest DAG's event and finished."""
    runs = stack.dag_runs(REPORT)
    if not runs or any(run["state"] not in FINISHED for run in runs):
        return None
    seen = {
        (
            event["name"],
            (event.get("extra") or {}).get("la_code"),
            (event["extra"] or {}).get("month"),
        )
        for run in runs
        for event in stack.triggering_events(REPORT, run["dag_run_id"])
    }
    wanted = {(f"csc_{dataset}_loaded", LA, str(month)) for dataset in DATASETS}
    return runs if wanted <= seen else None


def current_loads(url: str, month: Month) -> list[tuple[str, str, str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(loads.c.dataset, loads.c.status, loads.c.loaded_by).where(
                    loads.c.la_code == LA, loads.c.month == month.start
                )
            )
            return sorted((row.dataset, row.status, row.loaded_by) for row in rows)
    finally:
        engine.dispose()


def measure_count(url: str, month: Month) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            query = sa.select(sa.func.count()).where(
                measures.c.la_code == LA, measures.c.month == month.start
            )
            return int(connection.scalar(query) or 0)
    finally:
        engine.dispose()


def delivered(url: str, month: Month) -> list[tuple[str, str, str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(deliveries.c.audience, deliveries.c.status, deliveries.c.transport).where(
                    deliveries.c.la_code == LA, deliveries.c.month == month.start
                )
            )
            return sorted((row.audience, row.status, row.transport) for row in rows)
    finally:
        engine.dispose()


def test_a_month_lands_and_the_scheduler_takes_it_to_the_officials_inbox(
    stack: Stack, mail: MailServer
) -> None:
    try:
        check_the_whole_month(stack, mail)
    except AssertionError as failure:
        logs = stack.failed_task_logs([*INGEST.values(), REPORT])
        services = "\n\n".join(f"== {s.name}\n{s.tail(15)}" for s in stack.services)
        raise AssertionError(
            f"{failure}\n\nfailed tasks:\n{logs}\n\nservices:\n{services}"
        ) from None
    finally:
        print(f"\nphases (s): {stack.timings}")


def check_the_whole_month(stack: Stack, mail: MailServer) -> None:
    # The DAG processor has parsed every file; nothing failed to import.
    stack.wait_for(
        "the DAGs parsed",
        lambda: {d["dag_id"] for d in stack.get("/dags", limit=100)["dags"]} >= ALL_DAGS,
        timeout=STEP_TIMEOUT,
        evidence=lambda: stack.get("/importErrors"),
    )
    assert stack.get("/importErrors")["total_entries"] == 0, stack.get("/importErrors")

    # Switched on as an operator would; the report DAG first, so that it
    # hears every event.  The deadline DAG stays paused: its catch-up run
    # would only say that last month's pack is late, which is true.
    for dag_id in [REPORT, *INGEST.values()]:
        assert stack.patch(f"/dags/{dag_id}", {"is_paused": False})["is_paused"] is False

    # The schedule, not the test, starts each ingest run: the latest monthly
    # slot, for the month before it, for every LA in CSC_LA_CODES.
    runs = {
        dataset: stack.wait_for(
            f"the scheduled {dag_id} run",
            lambda dag_id=dag_id: scheduled_run(stack, dag_id),
            timeout=STEP_TIMEOUT,
        )
        for dataset, dag_id in INGEST.items()
    }
    months = {reporting_month(run["logical_date"]) for run in runs.values()}
    assert len(months) == 1, runs
    month = months.pop()
    for dataset, run in runs.items():
        assert run["run_type"] == "scheduled", run
        targets = stack.wait_for(
            f"{INGEST[dataset]}'s targets",
            lambda d=dataset, r=run: stack.xcom(INGEST[d], r["dag_run_id"], "targets"),
            timeout=STEP_TIMEOUT,
        )
        assert targets == [[{"la_code": LA, "month": str(month)}]]  # one batch, one LA

    # Each run waits for its file, freeing its worker slot between looks.
    for dataset, run in runs.items():
        stack.wait_for(
            f"{INGEST[dataset]} waiting for its extract",
            lambda d=dataset, r=run: sensor_waiting(stack, INGEST[d], r["dag_run_id"]),
            timeout=STEP_TIMEOUT,
            interval=0.5,
            evidence=lambda d=dataset, r=run: stack.task_states(INGEST[d], r["dag_run_id"]),
        )

    landed = land(stack, month)
    assert sorted(p.name.split("_")[0] for p in landed) == sorted(DATASETS)

    for dataset, run in runs.items():
        dag_id, run_id = INGEST[dataset], run["dag_run_id"]
        done = stack.wait_for(
            f"{dag_id} to finish",
            lambda d=dag_id, r=run_id: finished(stack, d, r),
            timeout=STEP_TIMEOUT,
            evidence=lambda d=dag_id, r=run_id: stack.task_states(d, r),
        )
        states = stack.task_states(dag_id, run_id)
        assert done["state"] == "success", states
        assert set(states.values()) == {"success"}, states
        assert set(states) == {
            "targets",
            "wait_for_extract[0]",
            "validate[0]",
            "load[0]",
            "measures[0]",
            "rejections[0]",
        }, states

    # The files were archived, and the month is in the warehouse whole.
    assert list(Path(stack.env["CSC_LANDING_DIR"]).iterdir()) == []
    warehouse = stack.env["CSC_WAREHOUSE_URL"]
    current = current_loads(warehouse, month)
    assert [(d, s) for d, s, _ in current] == [(d, "loaded") for d in sorted(DATASETS)]
    assert all(by.startswith("airflow:") for _, _, by in current), current
    assert measure_count(warehouse, month) == len(KPI_IDS)  # one per kpi_id

    # The scheduler ran the report DAG on the ingest DAGs' Asset events
    # (however it batched them), each event carrying the LA and the month.
    report_runs = stack.wait_for(
        "the report runs triggered by all three loads",
        lambda: report_runs_covering(stack, month),
        timeout=STEP_TIMEOUT,
        evidence=lambda: [
            (r["dag_run_id"], r["run_type"], r["state"]) for r in stack.dag_runs(REPORT)
        ],
    )
    for run in report_runs:
        assert run["run_type"] == "asset_triggered", run
        for event in stack.triggering_events(REPORT, run["dag_run_id"]):
            assert event["source_dag_id"] in INGEST.values(), event
            assert event["extra"]["status"] == "loaded", event

    # The pack went once to each audience by SMTP, and no alert to the engineers.
    config = load_pack_config(stack.env["CSC_PACK_CONFIG"])
    audiences = {audience.name: audience for audience in config.audiences}
    published = []
    for run in report_runs:
        states = stack.task_states(REPORT, run["dag_run_id"])
        assert run["state"] == "success", (run, states)
        published += [
            stack.xcom(REPORT, run["dag_run_id"], "publish", int(key[len("publish[") : -1]))
            for key in states
            if key.startswith("publish[")
        ]
    assert all(p["la_code"] == LA and p["month"] == str(month) for p in published), published
    assert sum(p.get("sent", 0) for p in published) == len(audiences), published
    assert {p["status"] for p in published} <= {"waiting", "published"}, published

    pack = Path(stack.env["CSC_REPORTS_DIR"]) / LA / str(month)
    assert (pack / "commissioner-pack.html").is_file(), sorted(pack.parent.rglob("*"))
    assert (pack / "kpis.csv").is_file()
    assert list((Path(stack.env["CSC_VAR_DIR"]) / "outbox").glob("*")) == []  # none fell back
    assert delivered(warehouse, month) == sorted((name, "sent", "smtp") for name in audiences)

    label = datetime(month.year, month.month, 1).strftime("%B %Y")
    for audience in audiences.values():
        received = [
            message
            for message, recipients in zip(mail.messages, mail.recipients, strict=True)
            if sorted(recipients) == sorted(audience.recipients)
        ]
        assert len(received) == 1, (audience.name, mail.subjects())
        assert label in str(received[0]["Subject"]), received[0]["Subject"]
        assert received[0].get_body(("html",)) is not None
    engineers = set(config.data_engineers)
    alerts = [
        str(message["Subject"])
        for message, recipients in zip(mail.messages, mail.recipients, strict=True)
        if engineers & set(recipients)
    ]
    assert alerts == []
    assert len(mail.messages) == len(audiences), mail.subjects()

    # An operator asks for the month again through the REST API, as the UI's
    # trigger form does (no logical date, the Params as conf): it runs, and
    # sends nothing, because every audience has the pack already.
    manual = stack.post(
        f"/dags/{REPORT}/dagRuns",
        {"logical_date": None, "conf": {"month": str(month), "la_code": LA}},
    )
    assert manual["run_type"] == "manual", manual
    done = stack.wait_for(
        "the manual report run",
        lambda: finished(stack, REPORT, manual["dag_run_id"]),
        timeout=STEP_TIMEOUT,
        evidence=lambda: stack.task_states(REPORT, manual["dag_run_id"]),
    )
    assert done["state"] == "success", stack.task_states(REPORT, manual["dag_run_id"])
    again = stack.xcom(REPORT, manual["dag_run_id"], "publish", 0)
    assert again["status"] == "published" and again["sent"] == 0, again
    assert {again[f"audience.{name}"] for name in audiences} == {"already sent"}, again
    assert len(mail.messages) == len(audiences), mail.subjects()
