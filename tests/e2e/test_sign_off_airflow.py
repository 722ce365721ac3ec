"""Sign-off through a real, running Airflow: its scheduler, its REST API, PostgreSQL, SMTP.

The stack of tests/e2e/stack.py, with a pack configuration whose one
audience (the commissioner) needs sign-off by ``admin`` within 0.01 hours
(36 s).  Three months are loaded with ``csc-pipeline ingest``; for each, a
report run is triggered through the REST API and its ``sign_off`` task
waits in ``awaiting_input``.  April is approved through
``PATCH .../hitlDetails`` (one e-mail, the approval in ``deliveries``), May
rejected with a comment (the engineers get it, nothing is sent), June left
unanswered until the scheduler's timeout sweep (the engineers are alerted,
nothing is sent).  Timings are printed (``pytest -s``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from etl.months import Month
from etl.sample import write_sample
from etl.warehouse.db import make_engine
from etl.warehouse.schema import deliveries
from tests.e2e.stack import BIN, EXECUTOR, FINISHED, Stack, require_services, running_airflow
from tests.mailserver import MailServer, running_mail_server
from tests.signoff_config import write_sign_off_config

pytestmark = pytest.mark.slow

LA = "330"
REPORT = "csc_report"
APPROVER = "admin"  # the stack's simple-auth-manager user
STEP_TIMEOUT = 300
COMMISSIONER = ["commissioner@example.gov.uk", "dcs@example.gov.uk"]
ENGINEERS = ["csc-data-engineering@example.gov.uk"]
APRIL, MAY, JUNE = Month(2024, 4), Month(2024, 5), Month(2024, 6)


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with running_mail_server() as server:
        yield server


@pytest.fixture
def stack(tmp_path: Path, mail: MailServer) -> Iterator[Stack]:
    require_services()
    config = write_sign_off_config(tmp_path, audiences=("commissioner",), wait_hours=0.01)
    text = config.read_text(encoding="utf-8").replace("head-of-performance", APPROVER)
    config.write_text(text, encoding="utf-8")
    overrides = {
        "CSC_PACK_CONFIG": str(config),
        # The sweep that times out unanswered requests, every 2 s instead of 15.
        "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": "2",
    }
    started = time.monotonic()
    with running_airflow(tmp_path, mail, overrides) as running:
        running.timings["start-up"] = round(time.monotonic() - started, 1)
        yield running
    print(f"\nsign-off e2e ({EXECUTOR}): {time.monotonic() - started:.0f} s wall time")


def delivery_rows(url: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    d = deliveries
    query = sa.select(
        d.c.month, d.c.audience, d.c.status, d.c.approved_by, d.c.approved_at, d.c.approval_comment
    ).order_by(d.c.delivery_id)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
    finally:
        engine.dispose()


def ask_for(stack: Stack, month: Month) -> tuple[str, dict[str, Any]]:
    """Trigger the month's report run; wait until it asks for sign-off. (run id, request)."""
    run = stack.post(
        f"/dags/{REPORT}/dagRuns",
        {"logical_date": None, "conf": {"month": str(month), "la_code": LA}},
    )
    run_id = run["dag_run_id"]
    stack.wait_for(
        f"{month} waiting for sign-off",
        lambda: stack.task_states(REPORT, run_id).get("sign_off[0]") == "awaiting_input",
        timeout=STEP_TIMEOUT,
        evidence=lambda: stack.task_states(REPORT, run_id),
    )
    # A person answers minutes later; the test must not answer before the
    # scheduler has taken in the executor's report of the paused task's exit.
    # Airflow 3.3.2 forgives a late report only for a resume that is still
    # "scheduled" (scheduler_job_runner.process_executor_events), so an answer
    # that resumed the task first had it failed as "state changed externally"
    # (seen in 3 of about 8 runs, the resumed task's log cut off).
    scheduler_log = stack.home / "services" / "scheduler.log"

    def pause_reported() -> bool:
        return any(
            "Received executor event with state" in line
            and "task_id='sign_off'" in line
            and f"run_id='{run_id}'" in line
            for line in scheduler_log.read_text(encoding="utf-8", errors="replace").splitlines()
        )

    stack.wait_for(
        f"{month} pause reported to the scheduler",
        pause_reported,
        timeout=STEP_TIMEOUT,
        evidence=lambda: stack.task_states(REPORT, run_id),
    )
    request = stack.get(f"/dags/{REPORT}/dagRuns/{run_id}/taskInstances/sign_off/0/hitlDetails")
    return run_id, request


def answer(stack: Stack, run_id: str, option: str, comment: str) -> dict[str, Any]:
    reply: dict[str, Any] = stack.patch(
        f"/dags/{REPORT}/dagRuns/{run_id}/taskInstances/sign_off/0/hitlDetails",
        {"chosen_options": [option], "params_input": {"comment": comment}},
    )
    return reply


def finish(stack: Stack, run_id: str, what: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run: dict[str, Any] = stack.get(f"/dags/{REPORT}/dagRuns/{run_id}")
        return run if run["state"] in FINISHED else None

    run = stack.wait_for(
        what, done, timeout=STEP_TIMEOUT, evidence=lambda: stack.task_states(REPORT, run_id)
    )
    if run["state"] == "failed":
        print(f"\n{what}: failed task logs\n{stack.failed_task_logs([REPORT])}")
    return run


def test_sign_off_approve_reject_and_time_out_through_the_rest_api(
    stack: Stack, mail: MailServer, tmp_path: Path
) -> None:
    files = write_sample(tmp_path / "extracts", la_code=LA, start=APRIL, months=3, seed=11)
    stack.run("ingest", str(BIN / "csc-pipeline"), "ingest", *map(str, files))
    stack.wait_for(
        "the report DAG parsed",
        lambda: REPORT in {d["dag_id"] for d in stack.get("/dags", limit=100)["dags"]},
        timeout=STEP_TIMEOUT,
        evidence=lambda: stack.get("/importErrors"),
    )
    assert stack.patch(f"/dags/{REPORT}", {"is_paused": False})["is_paused"] is False
    warehouse = stack.env["CSC_WAREHOUSE_URL"]

    # April: approved through the REST API.
    run_id, request = ask_for(stack, APRIL)
    assert request["subject"] == "Sign off the April 2024 pack for Birmingham: Commissioner and DCS"
    assert request["options"] == ["Approve", "Reject"]
    assert request["assigned_users"] == [{"id": APPROVER, "name": APPROVER}]
    assert "| Vacancy rate |" in request["body"]  # the headline figures
    assert "warning" in request["body"]  # the data-quality summary
    assert "(file:///" in request["body"] and "commissioner-pack.html" in request["body"]
    assert mail.messages == []  # nothing goes before the answer
    reply = answer(stack, run_id, "Approve", "Read and agreed")
    assert reply["responded_by"] == {"id": APPROVER, "name": APPROVER}, reply
    assert finish(stack, run_id, "April sent")["state"] == "success"
    assert mail.recipients == [COMMISSIONER]
    (april,) = delivery_rows(warehouse)
    assert (april["audience"], april["status"], april["approved_by"]) == (
        "commissioner",
        "sent",
        APPROVER,
    )
    assert april["approval_comment"] == "Read and agreed" and april["approved_at"] is not None

    # May: rejected with a comment.
    run_id, _request = ask_for(stack, MAY)
    answer(stack, run_id, "Reject", "Referrals look low: was the file complete?")
    assert finish(stack, run_id, "May rejected")["state"] == "success"
    assert mail.recipients == [COMMISSIONER, ENGINEERS]
    rejected = mail.messages[-1]
    assert str(rejected["Subject"]) == (
        "csc-pipeline: 330 2024-05 commissioner pack rejected at sign-off"
    )
    assert "Referrals look low: was the file complete?" in rejected.get_body().get_content()

    # June: nobody answers; the scheduler's sweep times the request out.
    run_id, _request = ask_for(stack, JUNE)
    assert finish(stack, run_id, "June timed out")["state"] == "failed"
    assert stack.task_states(REPORT, run_id)["sign_off[0]"] == "failed"
    assert mail.recipients == [COMMISSIONER, ENGINEERS, ENGINEERS]
    assert str(mail.messages[-1]["Subject"]) == (
        "csc-pipeline: 330 2024-06 commissioner pack not signed off in time"
    )

    rows = delivery_rows(warehouse)
    assert len(rows) == 1  # April's only
    print("\ndeliveries:", *rows, sep="\n  ")
    print("timings:", stack.timings)
