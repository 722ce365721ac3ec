"""The monthly ingest DAG, one per dataset (workforce, referrals, closures).

Each run waits for the month's file of each LA in the landing folder, then
validates the files, loads them and recomputes the measures they affect,
and emits an Asset event naming each LA and month loaded.  The tasks are
mapped over *batches* of files (:func:`etl.orchestration.targets.batches`):
by default each LA is a batch of its own, so a late council holds up nobody;
a hub sets ``las_per_batch`` so that Airflow's and GX's cost per task is paid
once for many LAs; a backfill (the ``through`` Param) takes each LA's months
as one batch.  Only the DAG's shape is built here; every task body is a call
into :mod:`etl.orchestration.tasks`.
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
    "through": Param(
        None,
        type=["null", "string"],
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="Backfill: every month from `month` through this one (YYYY-MM).",
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
        def targets(**context: Any) -> list[list[dict[str, Any]]]:
            from etl.orchestration import tasks
            from etl.orchestration.targets import batches, run_targets

            dag_run, params = context["dag_run"], context["params"]
            wanted = run_targets(
                month_param=params["month"],
                la_param=params["la_code"],
                la_codes=tasks.task_settings().la_codes,
                logical_date=dag_run.logical_date,
                run_after=dag_run.run_after,
                through_param=params["through"],
            )
            # LAs validated, loaded and measured by one task each (module doc).
            return batches(wanted, policy.setting("las_per_batch", "1"))

        # Rescheduling, not poking: the worker slot is free between looks.
        @task.sensor(mode="reschedule", poke_interval=poke, timeout=wait, retries=0)
        def wait_for_extract(batch: list[dict[str, Any]]) -> PokeReturnValue:
            from etl.orchestration import tasks

            paths = tasks.find_batch(dataset, batch, tasks.task_settings())
            return PokeReturnValue(is_done=paths is not None, xcom_value=paths)

        # It reads the warehouse (references, volumes): a database blip is
        # retried like load's.  Rejected files are quarantined and alerted on
        # here; a batch with nothing left to load fails at once (FileRejected).
        @task
        def validate(paths: list[str], **context: Any) -> dict[str, Any]:
            from etl.orchestration import tasks

            outcome = tasks.validate(paths, tasks.task_settings())
            rejected = [tasks.rejection_summary(r) for r in outcome["rejected"]]
            tasks.reject(outcome["rejected"], context)
            if not outcome["accepted"]:
                raise tasks.rejected_error(rejected)
            return {"staged": [a["staged"] for a in outcome["accepted"]], "rejected": rejected}

        @task(pool=policy.WAREHOUSE_POOL)
        def load(validated: dict[str, Any], **context: Any) -> dict[str, Any]:
            from etl.orchestration import tasks

            force = bool(context["params"]["force"])
            loaded = tasks.load(validated["staged"], tasks.task_settings(), force=force)
            return {"loads": loaded, "rejected": validated["rejected"]}

        @task(pool=policy.WAREHOUSE_POOL, outlets=[LOADED[dataset]])
        def measures(loaded: dict[str, Any], **context: Any) -> dict[str, Any]:
            from etl.orchestration import tasks

            done = tasks.recompute(loaded["loads"], tasks.task_settings())
            named = [
                {k: load[k] for k in ("la_code", "month", "status", "load_id")} for load in done
            ]
            # One event per task: it names every LA and month the batch loaded
            # (the first at the top, as a single file's event always did).
            context["outlet_events"][LOADED[dataset]].extra = {**named[0], "loads": named}
            return {"loads": done, "rejected": loaded["rejected"]}

        @task(retries=0)
        def rejections(measured: dict[str, Any]) -> None:
            from etl.orchestration import tasks

            # The batch's other files are loaded and announced; the run still
            # fails, so a rejection shows (the engineers were told at validate).
            if measured["rejected"]:
                raise tasks.rejected_error(measured["rejected"])

        landed = wait_for_extract.expand(batch=targets())
        loaded = load.expand(validated=validate.expand(paths=landed))
        rejections.expand(measured=measures.expand(loaded=loaded))

    return ingest()
