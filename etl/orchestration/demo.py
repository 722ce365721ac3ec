"""The whole monthly job on the embedded defaults, through the real DAGs.

``csc-pipeline demo``: sample extracts land for every month; the three
ingest DAGs, then the report DAG, each run once for all the months (a
backfill: the ``through`` Param) in this process with Airflow's
``dag.test()`` on a throw-away SQLite metadata database; packs go
to the reports folder and the e-mails to the outbox (or to ``smtp_default``
when one is configured).  No scheduler is needed.  Nobody is there to sign
off a pack: an audience whose configuration asks for sign-off is approved
automatically by :data:`DEMO_APPROVER`, recorded as such, and the demo says so.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from etl.contracts import DATASETS
from etl.months import Month
from etl.orchestration import local
from etl.orchestration.local import Answer, RunOutcome

#: The runs, in order: closures are checked against loaded referrals.
DAG_IDS = [*(f"csc_ingest_{dataset}" for dataset in DATASETS), "csc_report"]


#: Who the demo's automatic sign-offs are recorded as.
DEMO_APPROVER = "csc-pipeline demo (automatic)"
_APPROVE = Answer("Approve", DEMO_APPROVER, "approved automatically by csc-pipeline demo")


@dataclass
class DemoSummary:
    runs: list[RunOutcome] = field(default_factory=list)

    @property
    def approved(self) -> list[str]:
        """The sign-off requests the demo approved by itself."""
        return [subject for run in self.runs for subject in run.answered]

    @property
    def failed(self) -> list[RunOutcome]:
        return [run for run in self.runs if not run.succeeded]


def run_months(
    la_code: str,
    months: list[Month],
    *,
    started: Callable[[str], None] | None = None,
    finished: Callable[[RunOutcome], None] | None = None,
) -> DemoSummary:
    """Run all the months through the DAGs, oldest first; the landing folder is already filled.

    Airflow gets a private home in a temporary folder, deleted afterwards:
    the warehouse, packs and outbox are the demo's results, not Airflow's
    bookkeeping.  Must run before anything in the process imports Airflow.
    The tasks read their settings from the environment, as in production.
    """
    summary = DemoSummary()
    # One backfill run of each DAG for all the months, as an engineer loads
    # history: each dataset's months are one batch, so Airflow's and GX's
    # cost is paid four times, not 36 times four.
    conf = {"month": str(months[0]), "through": str(months[-1]), "la_code": la_code}
    with tempfile.TemporaryDirectory(prefix="csc-airflow-") as home:
        local.configure(Path(home))
        local.migrate_metadata()
        dags = local.load_dags()
        for dag_id in DAG_IDS:
            if started is not None:
                started(f"{months[0]}..{months[-1]} {dag_id}")
            answer = _APPROVE if dag_id == "csc_report" else None
            outcome = local.run_dag(dags[dag_id], conf, answer)
            summary.runs.append(outcome)
            if finished is not None:
                finished(outcome)
    return summary
