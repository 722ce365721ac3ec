"""Sign-off of the pack in the real report DAG, run by Airflow's ``dag.test()``.

``dag.test()`` on Airflow 3.3 parks a human-in-the-loop task in
``awaiting_input`` and waits for an answer from outside; the test answers
as Airflow's REST API does (the response written on the request, the task
resumed: :class:`etl.orchestration.local.Answer`), or lets the deadline pass
and runs the scheduler's own timeout sweep.  The tasks, the warehouse and the
SMTP server are real.  ``tests/e2e/test_sign_off_airflow.py`` does the same
through a running scheduler and the REST API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from etl.months import Month
from etl.orchestration.local import Answer
from etl.warehouse.schema import deliveries
from tests.dags.conftest import Pipeline
from tests.signoff_config import APPROVER, write_sign_off_config

MONTH = Month(2024, 4)
INGEST = ("csc_ingest_workforce", "csc_ingest_referrals", "csc_ingest_closures")
COMMISSIONER = ["commissioner@example.gov.uk", "dcs@example.gov.uk"]
PARTNERSHIP = ["improvement-board@example.gov.uk"]
ENGINEERS = ["csc-data-engineering@example.gov.uk"]


def delivery_rows(pipeline: Pipeline) -> list[dict[str, Any]]:
    d = deliveries
    query = sa.select(
        d.c.audience, d.c.status, d.c.approved_by, d.c.approved_at, d.c.approval_comment
    ).order_by(d.c.delivery_id)
    with pipeline.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def body_of(message: Any) -> str:
    part = message.get_body(("plain", "html"))
    return str(part.get_content()) if part is not None else ""


def load_month(pipeline: Pipeline) -> None:
    pipeline.land(MONTH)
    for dag_id in INGEST:
        assert pipeline.run(dag_id, month=str(MONTH)).succeeded


def report(pipeline: Pipeline, answer: Answer) -> Any:
    from etl.orchestration import local

    return local.run_dag(
        pipeline.dags["csc_report"], {"month": str(MONTH), "la_code": "330"}, answer
    )


def test_approved_the_copy_goes_once_and_the_approval_is_recorded(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSC_PACK_CONFIG", str(write_sign_off_config(tmp_path)))
    load_month(pipeline)

    outcome = report(pipeline, Answer("Approve", APPROVER, "Checked against the board paper"))

    assert outcome.succeeded, outcome
    assert outcome.tasks["sign_off[0]"] == "success", outcome.tasks
    assert outcome.answered == ("Sign off the April 2024 pack for LA 330: Commissioner and DCS",)
    # One e-mail per audience: the partnership's at once (no sign-off), the
    # commissioner's after the approval.
    assert sorted(pipeline.mail.recipients) == sorted([COMMISSIONER, PARTNERSHIP])
    rows = delivery_rows(pipeline)
    assert [(r["audience"], r["status"], r["approved_by"]) for r in rows] == [
        ("partnership", "sent", None),
        ("commissioner", "sent", APPROVER),
    ]
    assert rows[1]["approval_comment"] == "Checked against the board paper"
    assert rows[1]["approved_at"] is not None and rows[0]["approved_at"] is None

    # Run again: every copy has gone, so nothing is asked and nothing sent.
    again = report(pipeline, Answer("Approve", APPROVER))
    assert again.succeeded, again
    assert again.answered == ()
    assert again.tasks["sign_off"] == "skipped", again.tasks
    assert len(pipeline.mail.messages) == 2


def test_rejected_nothing_goes_and_the_engineers_get_the_comment(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_sign_off_config(tmp_path, audiences=("commissioner",))
    monkeypatch.setenv("CSC_PACK_CONFIG", str(config))
    load_month(pipeline)

    comment = "The caseload figure disagrees with the team returns: check the workforce file."
    outcome = report(pipeline, Answer("Reject", APPROVER, comment))

    assert outcome.succeeded, outcome  # a human answered: the task did its job
    assert outcome.tasks["sign_off[0]"] == "success", outcome.tasks
    assert pipeline.mail.recipients == [ENGINEERS]
    (alert,) = pipeline.mail.messages
    assert str(alert["Subject"]) == (
        "csc-pipeline: 330 2024-04 commissioner pack rejected at sign-off"
    )
    assert comment in body_of(alert)
    assert f"{APPROVER} rejected the commissioner copy" in body_of(alert)
    assert delivery_rows(pipeline) == []


def test_no_answer_in_time_alerts_the_engineers_and_sends_nothing(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0.002 hours: the request's deadline is 7.2 s after it is made.
    config = write_sign_off_config(tmp_path, audiences=("commissioner",), wait_hours=0.002)
    monkeypatch.setenv("CSC_PACK_CONFIG", str(config))
    load_month(pipeline)

    outcome = report(pipeline, Answer(None))

    assert outcome.state == "failed", outcome
    assert outcome.tasks["sign_off[0]"] == "failed", outcome.tasks
    # One alert, the sign-off's own (notify_failure adds no second one).
    assert pipeline.mail.recipients == [ENGINEERS]
    (alert,) = pipeline.mail.messages
    assert str(alert["Subject"]) == (
        "csc-pipeline: 330 2024-04 commissioner pack not signed off in time"
    )
    assert "within 0.002 hours (approvers: head-of-performance)" in body_of(alert)
    assert delivery_rows(pipeline) == []
