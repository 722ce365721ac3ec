"""House rules for every DAG file, in the style of Airflow's own example-DAG tests.

Each file is parsed in a fresh process as the DAG processor would parse it
(:mod:`tests.dags.parse_probe`): it must import cleanly, quickly, and touch
no connection, Variable or database while doing so.  Then every DAG is
checked for the rules the team keeps: tags, owner, retries only where a
fault can be transient, catchup set on purpose, one run at a time.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from etl.orchestration import local, policy
from tests.dags.parse_probe import ENVIRONMENT

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in local.DAGS_FOLDER.glob("*.py") if p.name != "__init__.py")
EXPECTED = {
    "csc_ingest_workforce.py": ["csc_ingest_workforce"],
    "csc_ingest_referrals.py": ["csc_ingest_referrals"],
    "csc_ingest_closures.py": ["csc_ingest_closures"],
    "csc_report.py": ["csc_report"],
    "csc_pack_deadline.py": ["csc_pack_deadline"],
}
PARSE_BUDGET_SECONDS = 0.5


def parse(paths: list[Path], home: Path) -> dict[str, dict[str, Any]]:
    env = {
        **os.environ,
        **local.airflow_environment(home),
        **ENVIRONMENT,
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.dags.parse_probe", *map(str, paths)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return parse(DAG_FILES, tmp_path_factory.mktemp("probe-home"))


def test_every_dag_file_is_known() -> None:
    assert sorted(p.name for p in DAG_FILES) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dag_file_parses_cleanly_fast_and_touches_nothing(
    parsed: dict[str, dict[str, Any]], name: str
) -> None:
    report = parsed[name]
    assert report["import_errors"] == {}
    assert report["dags"] == EXPECTED[name]
    assert report["seconds"] < PARSE_BUDGET_SECONDS, f"{name} took {report['seconds']:.3f} s"
    assert report["queries"] == [], "parsing queried the metadata database"
    assert report["lookups"] == [], "parsing looked up a connection or Variable"
    assert report["heavy_modules"] == [], "heavy modules belong inside tasks"


def test_probe_catches_a_dag_file_that_breaks_the_rules(tmp_path: Path) -> None:
    """The probe itself can fail: a file that does all the forbidden things."""
    bad = tmp_path / "bad_dag.py"
    bad.write_text(
        "from datetime import datetime\n"
        "import sqlalchemy as sa\n"
        "from airflow import settings\n"
        "from airflow.sdk import BaseHook, Variable, dag, task\n"
        "import pandas\n"
        "Variable.get('landing_dir', default=None)\n"
        "try:\n"
        "    BaseHook.get_connection('smtp_default')\n"
        "except Exception:\n"
        "    pass\n"
        "with settings.engine.connect() as c:\n"
        "    c.execute(sa.text('select 1'))\n"
        "@dag(schedule=None, start_date=datetime(2024, 1, 1))\n"
        "def bad():\n"
        "    @task\n"
        "    def t():\n"
        "        pass\n"
        "    t()\n"
        "bad()\n",
        encoding="utf-8",
    )
    report = parse([bad], tmp_path / "home")["bad_dag.py"]
    assert report["lookups"] == ["variable:landing_dir", "connection:smtp_default"]
    assert report["queries"] == ["select 1"]
    assert "pandas" in report["heavy_modules"]


@pytest.fixture(scope="module")
def dags() -> dict[str, Any]:
    return local.load_dags()


def test_house_rules(dags: dict[str, Any]) -> None:
    assert sorted(dags) == sorted(d for ids in EXPECTED.values() for d in ids)
    for dag in dags.values():
        assert "csc" in dag.tags, dag.dag_id
        assert dag.owner == policy.OWNER, dag.dag_id
        assert dag.catchup is False, dag.dag_id
        assert dag.max_active_runs == 1, dag.dag_id
        assert dag.doc_md and dag.doc_md.strip(), dag.dag_id
        assert dag.timetable is not None
        for task in dag.tasks:
            assert task.on_failure_callback, f"{dag.dag_id}.{task.task_id} alerts no one"


#: Tasks whose faults can be transient (they query the warehouse or send mail:
#: validate reads references and volumes; packs_to_publish and months_due read
#: the packs owed), and those whose can't (working out targets, waiting with
#: its own timeout; failing a run for files already rejected and alerted on).
RETRIED = {"validate", "load", "measures", "publish", "check", "packs_to_publish", "months_due"}
NOT_RETRIED = {
    "targets",
    "wait_for_extract",
    "rejections",
    # A retry of a sign-off would ask again with nobody told (etl.orchestration.signoff).
    "sign_off_requests",
    "sign_off",
}


def test_retries_only_where_faults_can_be_transient(dags: dict[str, Any]) -> None:
    seen = set()
    for dag in dags.values():
        for task in dag.tasks:
            name = f"{dag.dag_id}.{task.task_id}"
            assert task.task_id in RETRIED | NOT_RETRIED, f"{name}: say whether it retries"
            seen.add(task.task_id)
            if task.task_id in RETRIED:
                # The policy's defaults exactly: 3 tries more, doubling from the
                # configured delay, and only for the transient faults.
                assert task.retries == 3, name
                assert task.retry_delay == timedelta(seconds=1), name  # airflow_environment
                assert task.retry_exponential_backoff == 2.0, name
                assert task.max_retry_delay == timedelta(hours=1), name
                assert task.retry_policy is policy.TRANSIENT_ONLY, name
            else:
                assert task.retries == 0, name
    assert seen == RETRIED | NOT_RETRIED  # no stale names in either set


def test_warehouse_writes_share_a_bounded_pool(dags: dict[str, Any]) -> None:
    for dataset in ("workforce", "referrals", "closures"):
        dag = dags[f"csc_ingest_{dataset}"]
        assert dag.get_task("load").pool == policy.WAREHOUSE_POOL
        assert dag.get_task("measures").pool == policy.WAREHOUSE_POOL
        assert [a.name for a in dag.get_task("measures").outlets] == [f"csc_{dataset}_loaded"]


def test_report_dag_is_scheduled_on_the_three_load_assets(dags: dict[str, Any]) -> None:
    from airflow.sdk import AssetAny

    condition = dags["csc_report"].timetable.asset_condition
    # Any one load triggers a run; the run itself waits for a complete month.
    assert isinstance(condition, AssetAny)
    names = {asset.name for asset in condition.objects}
    assert names == {"csc_workforce_loaded", "csc_referrals_loaded", "csc_closures_loaded"}


def _dag_calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dag"
        and any(k.arg == "dag_id" for k in node.keywords)
    ]


def test_catchup_is_set_on_purpose_in_every_dag_definition() -> None:
    sources = [p for p in DAG_FILES if _dag_calls(p)] + [
        REPO / "etl" / "orchestration" / "ingest_dag.py"
    ]
    assert len(sources) == 3  # report, deadline, and the ingest factory
    for path in sources:
        for call in _dag_calls(path):
            assert "catchup" in {k.arg for k in call.keywords}, path.name


def test_transient_faults_retry_and_everything_else_fails_at_once() -> None:
    from smtplib import SMTPServerDisconnected

    from airflow.sdk.definitions.retry_policy import RetryAction

    from etl.errors import MailUnavailable
    from etl.orchestration.alerts import FileRejected

    policy_ = policy.TRANSIENT_ONLY
    database_down = sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError())
    for fault in (database_down, MailUnavailable("down"), SMTPServerDisconnected(), TimeoutError()):
        assert policy_.evaluate(fault, 1, 4).action is RetryAction.RETRY, fault
    for fault in (ValueError("bug"), KeyError("month"), FileRejected("bad file")):
        assert policy_.evaluate(fault, 1, 4).action is RetryAction.FAIL, fault
    assert policy.default_args()["retry_delay"] >= timedelta(seconds=1)
