"""Months flowing through the real DAGs, run by Airflow's ``dag.test()``.

Every task runs for real: files are read from the landing folder, validated
by Great Expectations, loaded into a SQLite warehouse, and e-mails go to a
real SMTP server in this process.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from etl.months import Month
from etl.report.config import load_pack_config
from etl.warehouse.measures import KPI_IDS
from etl.warehouse.schema import loads, measures
from tests.dags.conftest import Pipeline

MONTH = Month(2024, 4)
INGEST = ("csc_ingest_workforce", "csc_ingest_referrals", "csc_ingest_closures")


def current_loads(pipeline: Pipeline, month: Month) -> dict[str, str]:
    query = sa.select(loads.c.dataset, loads.c.status).where(
        loads.c.month == month.start, loads.c.superseded_by.is_(None)
    )
    with pipeline.engine.connect() as connection:
        return {row.dataset: row.status for row in connection.execute(query)}


def asset_events(asset_name: str, since: datetime | None = None) -> list[dict[str, object]]:
    """The extras of the Asset's events (since ``since``: the metadata database is
    shared by the tests a pytest worker runs)."""
    from airflow import settings
    from airflow.models.asset import AssetEvent, AssetModel

    with settings.Session() as session:
        query = (
            sa.select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == asset_name)
        )
        if since is not None:
            query = query.where(AssetEvent.timestamp >= since)
        return [dict(extra) for extra in session.scalars(query)]


def test_a_month_flows_through_every_dag_and_the_pack_is_mailed(pipeline: Pipeline) -> None:
    pipeline.land(MONTH)
    for dag_id in INGEST:
        outcome = pipeline.run(dag_id, month=str(MONTH))
        assert outcome.succeeded, outcome
        assert set(outcome.tasks.values()) == {"success"}, outcome
        # The landed file was archived, not left to be loaded twice.
    assert list(pipeline.settings.landing_dir.iterdir()) == []
    assert current_loads(pipeline, MONTH) == dict.fromkeys(
        ["workforce", "referrals", "closures"], "loaded"
    )
    with pipeline.engine.connect() as connection:
        stored = connection.scalar(
            sa.select(sa.func.count()).where(measures.c.month == MONTH.start)
        )
    # Every kpi_id of KPIS.md for the month, once.
    assert stored == len(KPI_IDS)
    for dataset in ("workforce", "referrals", "closures"):
        extras = asset_events(f"csc_{dataset}_loaded")
        assert {"la_code": "330", "month": str(MONTH)} in [
            {"la_code": e["la_code"], "month": e["month"]} for e in extras
        ]

    report = pipeline.run("csc_report", month=str(MONTH), la_code="330")
    assert report.succeeded, report
    pack = pipeline.settings.reports_dir / "330" / str(MONTH)
    assert (pack / "commissioner-pack.html").is_file()
    assert (pack / "kpis.csv").is_file()
    sent = len(pipeline.mail.messages)
    # One e-mail per audience of the embedded configuration (commissioner, partnership).
    assert sent == len(load_pack_config().audiences) == 2
    assert all("April 2024" in s or "2024-04" in s for s in pipeline.mail.subjects())

    # The same month again sends nothing: the pack has gone.
    again = pipeline.run("csc_report", month=str(MONTH), la_code="330")
    assert again.succeeded, again
    assert len(pipeline.mail.messages) == sent


def test_a_rejected_file_loads_nothing_alerts_the_engineers_and_holds_the_pack(
    pipeline: Pipeline,
) -> None:
    (closures,) = [p for p in pipeline.land(MONTH) if p.name.startswith("closures")]
    text = closures.read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    reason = header.index("closure_reason")
    broken = text[1].split(",")
    broken[reason] = "RC99"
    closures.write_text("\n".join([text[0], ",".join(broken), *text[2:]]) + "\n", encoding="utf-8")

    assert pipeline.run("csc_ingest_workforce", month=str(MONTH)).succeeded
    assert pipeline.run("csc_ingest_referrals", month=str(MONTH)).succeeded
    outcome = pipeline.run("csc_ingest_closures", month=str(MONTH))
    assert outcome.state == "failed"
    assert outcome.tasks["validate[0]"] == "failed"
    # Downstream of a failed mapped task, Airflow never expands the mapping.
    assert outcome.tasks["load"] == "upstream_failed", outcome.tasks
    assert outcome.tasks["measures"] == "upstream_failed", outcome.tasks

    assert "closures" not in current_loads(pipeline, MONTH)
    quarantined = list((pipeline.settings.quarantine_dir / "330" / str(MONTH)).iterdir())
    assert any(p.name.endswith(closures.name) for p in quarantined)
    assert any(p.name.endswith(".report.md") for p in quarantined)
    alerts = [m for m in pipeline.mail.messages if "rejected" in str(m["Subject"])]
    assert len(alerts) == 1, pipeline.mail.subjects()  # one alert, not one per callback
    body = alerts[0].get_body(("html", "plain"))
    assert body is not None
    content = body.get_content()
    assert closures.name in content and "closure_reason" in content
    child_ids = [line.split(",")[header.index("child_id")] for line in text[1:]]
    assert not any(child in content for child in child_ids)  # never an identifier

    before = len(pipeline.mail.messages)
    report = pipeline.run("csc_report", month=str(MONTH), la_code="330")
    assert report.succeeded, report
    assert len(pipeline.mail.messages) == before, "a pack went out with closures missing"
    assert not (pipeline.settings.reports_dir / "330" / str(MONTH) / "kpis.csv").exists()

    deadline = pipeline.run("csc_pack_deadline", month=str(MONTH), la_code="330")
    assert deadline.succeeded, deadline
    late = [m for m in pipeline.mail.messages if "deadline" in str(m["Subject"])]
    assert len(late) == 1
    late_body = late[0].get_body(("html", "plain"))
    assert late_body is not None and "closures_330_2024-04.csv" in late_body.get_content()


def test_a_manual_run_without_a_month_takes_the_month_before_the_run(pipeline: Pipeline) -> None:
    # Worked out here, not by reporting_month (the code under test): the
    # calendar month before today's in the UK.
    today = datetime.now(ZoneInfo("Europe/London"))
    expected = Month(today.year - 1, 12) if today.month == 1 else Month(today.year, today.month - 1)
    pipeline.land(expected, datasets=("workforce",))
    outcome = pipeline.run("csc_ingest_workforce")
    assert outcome.succeeded, outcome
    assert current_loads(pipeline, expected) == {"workforce": "loaded"}


def test_a_file_that_never_lands_times_out_and_alerts(pipeline: Pipeline) -> None:
    outcome = pipeline.run("csc_ingest_referrals", month=str(MONTH))
    assert outcome.state == "failed"
    assert outcome.tasks["wait_for_extract[0]"] == "failed"
    assert current_loads(pipeline, MONTH) == {}
    failed = [s for s in pipeline.mail.subjects() if "wait_for_extract failed" in s]
    assert failed, pipeline.mail.subjects()


def test_without_smtp_the_engineers_alert_goes_to_the_outbox(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import email
    import email.policy

    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT")
    (workforce,) = pipeline.land(MONTH, datasets=("workforce",))
    workforce.write_text("not,the,workforce,header\n1,2,3,4\n", encoding="utf-8")
    outcome = pipeline.run("csc_ingest_workforce", month=str(MONTH))
    assert outcome.tasks["validate[0]"] == "failed"
    assert pipeline.mail.messages == []
    (saved,) = pipeline.settings.outbox_dir.glob("*.eml")
    message = email.message_from_bytes(saved.read_bytes(), policy=email.policy.default)
    assert "workforce_330_2024-04.csv rejected" in str(message["Subject"])
    assert "csc-data-engineering@example.gov.uk" in str(message["To"])
