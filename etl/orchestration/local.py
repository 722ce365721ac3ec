"""Real Airflow in this process, without a scheduler: ``dag.test()`` on a private metadata DB.

What ``csc-pipeline demo`` and the end-to-end tests use: the same DAG files
the scheduler would run, each run executed in-process by Airflow's own
``dag.test()`` against a temporary SQLite metadata database.

Airflow reads its configuration when first imported, so :func:`configure`
must run before anything imports ``airflow``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
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

    @property
    def succeeded(self) -> bool:
        return self.state == "success"


#: Each DAG's Param defaults, as first seen (see :func:`run_dag`).
_DEFAULTS: dict[str, dict[str, Any]] = {}


def run_dag(dag: Any, conf: Mapping[str, Any]) -> RunOutcome:
    """Run ``dag`` once, now, with no logical date (a manual run) and ``conf`` Params.

    Every Param is passed, defaults included: a run executed in-process
    updates the DAG object's own Params with its conf, so a Param left out
    would silently take the previous run's value.
    """
    defaults = _DEFAULTS.setdefault(dag.dag_id, {k: dag.params[k] for k in dag.params})
    started = time.perf_counter()
    run = dag.test(run_conf={**defaults, **conf}, logical_date=None)
    seconds = time.perf_counter() - started
    tasks: dict[str, str] = {}
    for ti in run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        tasks[key] = str(ti.state)
    return RunOutcome(dag.dag_id, str(run.state), tasks, seconds)
