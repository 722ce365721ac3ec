"""Real Airflow for the DAG tests: ``dag.test()`` on this process's private metadata DB.

tests/conftest.py points Airflow at a temporary home before anything imports
it; here the metadata DB is migrated once per process and the DAG files
parsed.  Each test gets its own var folder, SQLite warehouse and SMTP server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from etl.months import Month
from etl.orchestration import local
from etl.sample import write_sample
from etl.settings import Settings, load_settings
from tests.mailserver import MailServer, running_mail_server

KEY = "dag-tests-pseudonymisation-key-0123456789"


@pytest.fixture(scope="session")
def airflow_dags() -> dict[str, Any]:
    local.migrate_metadata()
    return local.load_dags()


@dataclass
class Pipeline:
    settings: Settings
    engine: Engine
    mail: MailServer
    dags: dict[str, Any]

    def land(
        self, month: Month, datasets: tuple[str, ...] = ("workforce", "referrals", "closures")
    ) -> list[Path]:
        """Write the sample extracts of ``month`` into the landing folder."""
        files = write_sample(
            self.settings.landing_dir, la_code="330", start=month, months=1, seed=7
        )
        keep = [f for f in files if f.name.split("_")[0] in datasets]
        for extra in set(files) - set(keep):
            extra.unlink()
        return keep

    def run(self, dag_id: str, **conf: Any) -> local.RunOutcome:
        return local.run_dag(self.dags[dag_id], conf)


@pytest.fixture
def pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_dags: dict[str, Any]
) -> Iterator[Pipeline]:
    from etl.warehouse.db import make_engine, upgrade

    with running_mail_server() as mail:
        monkeypatch.setenv("CSC_VAR_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("CSC_PSEUDONYM_KEY", KEY)
        monkeypatch.delenv("CSC_WAREHOUSE_URL", raising=False)
        monkeypatch.delenv("CSC_LANDING_DIR", raising=False)
        monkeypatch.delenv("CSC_REPORTS_DIR", raising=False)
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", mail.airflow_connection())
        settings = load_settings(dict(os.environ))
        for folder in settings.folders():
            folder.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.warehouse_url)
        upgrade(engine)
        yield Pipeline(settings, engine, mail, airflow_dags)
        engine.dispose()
