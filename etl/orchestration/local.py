"""Real Airflow in this process, without a scheduler: ``dag.test()`` on a private metadata DB.

What ``csc-pipeline demo`` and the end-to-end tests use: the same DAG files
the scheduler would run, each run executed in-process by Airflow's own
``dag.test()`` against a temporary SQLite metadata database.

Airflow reads its configuration when first imported, so :func:`configure`
must run before anything imports ``airflow``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from etl.errors import ConfigError

#: The DAG files: the repository's ``dags/``, shipped in the wheel as the
#: package ``etl._dags`` (pyproject.toml), so the demo runs from a checkout
#: and from an installed wheel alike.
DAGS_FOLDER = Path(str(resources.files("etl._dags")))


def airflow_environment(home: Path, dags_folder: Path = DAGS_FOLDER) -> dict[str, str]:
    """The settings of a private, quiet Airflow under ``home``."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # A run is a few seconds of work: no point waiting between retries here.
        "AIRFLOW__CSC_PIPELINE__RETRY_DELAY_SECONDS": "1",
    }


def configure(home: Path, dags_folder: Path = DAGS_FOLDER) -> None:
    """Point this process's Airflow at ``home``; before ``airflow`` is imported."""
    if not (dags_folder / "csc_report.py").is_file():
        raise ConfigError(
            f"no DAG files in {dags_folder}: csc-pipeline is installed without its DAGs"
        )
    wanted = airflow_environment(home, dags_folder)
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != wanted["AIRFLOW_HOME"]:
        raise ConfigError("Airflow was imported before its configuration was set")
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(wanted)


def migrate_metadata() -> None:
    """Create the metadata DB and the pool the DAGs' warehouse tasks use."""
    from airflow.models.pool import Pool
    from airflow.utils.db import initdb

    from etl.orchestration.policy import WAREHOUSE_POOL

    initdb()
    Pool.create_or_update_pool(
        WAREHOUSE_POOL, slots=2, description="bounded warehouse loads", include_deferred=False
    )


def load_dags(dags_folder: Path = DAGS_FOLDER) -> dict[str, Any]:
    """Every DAG in the folder by id; import errors are configuration faults."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(dags_folder))
    if bag.import_errors:
        details = "; ".join(f"{path}: {error}" for path, error in bag.import_errors.items())
        raise ConfigError(f"DAG files failed to import: {details}")
    return dict(bag.dags)


@dataclass(frozen=True)
class RunOutcome:
    """What one ``dag.test()`` run did: its state and each task's."""

    dag_id: str
    state: str
    tasks: dict[str, str]
    seconds: float = 0.0
    #: The subjects of the sign-off requests answered during the run (:class:`Answer`).
    answered: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.state == "success"


#: Each DAG's Param defaults, as first seen (see :func:`run_dag`).
_DEFAULTS: dict[str, dict[str, Any]] = {}


def run_dag(dag: Any, conf: Mapping[str, Any], answer: Answer | None = None) -> RunOutcome:
    """Run ``dag`` once, now, with no logical date (a manual run) and ``conf`` Params.

    Every Param is passed, defaults included: a run executed in-process
    updates the DAG object's own Params with its conf, so a Param left out
    would silently take the previous run's value.  ``answer`` answers the
    run's sign-off requests; without one, a run that asks for sign-off
    waits for an answer from outside (Airflow's UI or REST API on the same
    metadata database), as ``dag.test()`` does.
    """
    defaults = _DEFAULTS.setdefault(dag.dag_id, {k: dag.params[k] for k in dag.params})
    started = time.perf_counter()
    with _answering(dag.dag_id, answer) as answered:
        run = dag.test(run_conf={**defaults, **conf}, logical_date=None)
    seconds = time.perf_counter() - started
    tasks: dict[str, str] = {}
    for ti in run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        tasks[key] = str(ti.state)
    return RunOutcome(dag.dag_id, str(run.state), tasks, seconds, tuple(answered))


# --- answering sign-off requests in-process ---------------------------------------------


@dataclass(frozen=True)
class Answer:
    """How the sign-off requests of an in-process run are answered.

    ``dag.test()`` leaves a human-in-the-loop task waiting for an answer from
    outside; the demo (and the DAG tests) give it here, written as Airflow's
    REST API writes one (the response on the request, the task resumed), or,
    with ``option`` None, by letting the deadline pass and running the
    scheduler's own timeout sweep, which ``dag.test()`` does not run.
    """

    #: "Approve" or "Reject"; None: nobody answers.
    option: str | None
    user: str = "csc-pipeline demo"
    comment: str = ""
    #: Seconds between looks at the metadata database.
    interval: float = 0.5


@contextmanager
def _answering(dag_id: str, answer: Answer | None) -> Iterator[list[str]]:
    """While the body runs, answer ``dag_id``'s waiting sign-off requests (a thread)."""
    answered: list[str] = []
    if answer is None:
        yield answered
        return
    stop = threading.Event()
    failure: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.wait(answer.interval):
                answered.extend(_answer_waiting(dag_id, answer))
        except BaseException as exc:  # re-raised in the caller's thread, once dag.test() ends
            logging.getLogger(__name__).exception("answering the sign-off requests failed")
            failure.append(exc)

    thread = threading.Thread(target=loop, name=f"answer-{dag_id}", daemon=True)
    thread.start()
    try:
        yield answered
    finally:
        stop.set()
        thread.join()
    if failure:
        raise failure[0]


def _answer_waiting(dag_id: str, answer: Answer) -> list[str]:
    """Answer every request of ``dag_id`` waiting now; the subjects answered."""
    import sqlalchemy as sa
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    if answer.option is None:
        _sweep_timeouts()
        return []
    answered = []
    with create_session() as session:
        waiting = session.execute(
            sa.select(TaskInstance, HITLDetail)
            .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
            .where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                HITLDetail.responded_at.is_(None),
            )
        ).all()
        for ti, detail in waiting:
            detail.responded_by = {"id": answer.user, "name": answer.user}
            detail.responded_at = datetime.now(UTC)
            detail.chosen_options = [answer.option]
            detail.params_input = {"comment": answer.comment}
            session.add(detail)
            event = TriggerEvent(detail.as_resume_event_payload())  # type: ignore[no-untyped-call]
            handle_event_submit(event, task_instance=ti, session=session)
            answered.append(str(detail.subject))
    return answered


def _sweep_timeouts() -> None:
    """The scheduler's sweep of sign-off requests past their deadline (resumes them)."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()  # type: ignore[no-untyped-call]
