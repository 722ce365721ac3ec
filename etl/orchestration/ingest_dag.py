"""The monthly ingest DAG, one per dataset (workforce, referrals, closures).

Each run waits for the month's file of each LA in the landing folder, then
validates it, loads it and recomputes the measures it affects, one task
each, and emits an Asset event with the LA and month.  Only the DAG's shape
is built here; every task body is a call into :mod:`etl.orchestration.tasks`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, PokeReturnValue, dag, task

from etl.orchestration import policy
from etl.orchestration.assets import LOADED

#: Extracts arrive in the first days of the month: look from 06:00 on the 2nd.
DEFAULT_SCHEDULE = "0 6 2 * *"

PARAMS = {
    "month": Param(
        None,
        type=["null", "string"],
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="Reporting month YYYY-MM; empty: the month before the run.",
    ),
    "la_code": Param(
        None,
        type=["null", "string"],
        pattern=r"^\d{3}$",
        description="One DfE LA code; empty: every LA in CSC_LA_CODES.",
    ),
    "force": Param(
        False, type="boolean", description="Reload even a file identical to the current load."
    ),
}


def build_ingest_dag(dataset: str, doc_md: str | None = None) -> DAG:
    """The ingest DAG of ``dataset``; the DAG file calls this once."""
    poke = float(policy.setting("sensor_poke_seconds", "1800"))
    # A file not landed within a week fails the run (and alerts the engineers).
    wait = float(policy.setting("sensor_timeout_seconds", str(7 * 24 * 3600)))

    @dag(
        dag_id=f"csc_ingest_{dataset}",
        description=f"Validate and load the monthly {dataset} extract, then its measures",
        doc_md=doc_md,
        schedule=policy.setting(f"{dataset}_schedule", DEFAULT_SCHEDULE),
        start_date=datetime(2022, 1, 1),
        # Deliberately off: history is loaded by backfill (README), not by
        # dozens of runs queued when the DAG is first switched on.
        catchup=False,
        # Two runs of one dataset never race over the same months' measures.
        max_active_runs=1,
        default_args=policy.default_args(),
        params=PARAMS,
        tags=["csc", "ingest", dataset],
    )
    def ingest() -> None:
        @task(retries=0)
        def targets(**context: Any) -> list[dict[str, Any]]:
            from etl.orchestration import tasks
            from etl.orchestration.targets import run_targets

            dag_run = context["dag_run"]
            return run_targets(
                month_param=context["params"]["month"],
                la_param=context["params"]["la_code"],
                la_codes=tasks.task_settings().la_codes,
                logical_date=dag_run.logical_date,
                run_after=dag_run.run_after,
            )

        # Rescheduling, not poking: the worker slot is free between looks.
        @task.sensor(mode="reschedule", poke_interval=poke, timeout=wait, retries=0)
        def wait_for_extract(target: dict[str, Any]) -> PokeReturnValue:
            from etl.orchestration import tasks

            path = tasks.find_landed(
                dataset, target["la_code"], target["month"], tasks.task_settings()
            )
            return PokeReturnValue(is_done=path is not None, xcom_value={**target, "path": path})

        # It reads the warehouse (references, volumes): a database blip is
        # retried like load's; a rejected file fails at once (FileRejected).
        @task
        def validate(landed: dict[str, Any], **context: Any) -> dict[str, Any]:
            from etl.orchestration import tasks

            outcome = tasks.validate(landed["path"], tasks.task_settings())
            if outcome["status"] == "rejected":
                tasks.reject(outcome["result"], context)  # alerts, then raises FileRejected
            return outcome

        @task(pool=policy.WAREHOUSE_POOL)
        def load(validated: dict[str, Any], **context: Any) -> dict[str, Any]:
            from etl.orchestration import tasks

            return tasks.load(
                validated, tasks.task_settings(), force=bool(context["params"]["force"])
            )

        @task(pool=policy.WAREHOUSE_POOL, outlets=[LOADED[dataset]])
        def measures(loaded: dict[str, Any], **context: Any) -> dict[str, Any]:
            from etl.orchestration import tasks

            result = tasks.recompute(loaded, tasks.task_settings())
            context["outlet_events"][LOADED[dataset]].extra = {
                "la_code": result["la_code"],
                "month": result["month"],
                "status": result["status"],
                "load_id": result["load_id"],
            }
            return result

        landed = wait_for_extract.expand(target=targets())
        measures.expand(loaded=load.expand(validated=validate.expand(landed=landed)))

    return ingest()
