"""
### Pack deadline check

Runs on the deadline day of each month (default the 10th, 09:00; set
`[csc_pipeline] deadline_schedule`). For each LA, if last month's pack has
not been sent, e-mails the data engineers which extracts are missing (or
that all are loaded and the report DAG needs looking at).
"""

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, task

from etl.orchestration import policy


@dag(
    dag_id="csc_pack_deadline",
    description="Tell the data engineers when a month's pack has not gone by the deadline",
    doc_md=__doc__,
    schedule=policy.setting("deadline_schedule", "0 9 10 * *"),
    start_date=datetime(2022, 1, 1),
    catchup=False,  # an alert about a month long past helps no one
    max_active_runs=1,
    default_args=policy.default_args(),
    params={
        "month": Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
        "la_code": Param(None, type=["null", "string"], pattern=r"^\d{3}$"),
    },
    tags=["csc", "report", "alert"],
)
def csc_pack_deadline() -> None:
    @task  # reads the warehouse for owed packs: retried on transient faults
    def months_due(**context: Any) -> list[dict[str, Any]]:
        from etl.orchestration import tasks

        return tasks.report_targets(context)

    @task
    def check(target: dict[str, Any], **context: Any) -> dict[str, Any]:
        from etl.orchestration import tasks

        return tasks.check_deadline(target, tasks.task_settings(), context)

    check.expand(target=months_due())


csc_pack_deadline()
