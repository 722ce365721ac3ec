"""``csc-pipeline report`` as a person runs it: real process, real exit codes, real mail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etl.warehouse.db import make_engine, upgrade
from tests.mailserver import free_port, mail_server
from tests.report.pack_month import load_small_warehouse

SCRIPT = Path(sys.executable).with_name("csc-pipeline")


@pytest.fixture(scope="module")
def var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded warehouse under var/ holding the hand-made month."""
    var = tmp_path_factory.mktemp("cli") / "var"
    var.mkdir()
    engine = make_engine(f"sqlite:///{var / 'warehouse.db'}")
    upgrade(engine)
    load_small_warehouse(engine)
    engine.dispose()
    return var


def run(var: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CSC_VAR_DIR": str(var), **env}
    for name in ("CSC_WAREHOUSE_URL", "CSC_REPORTS_DIR", "CSC_PACK_CONFIG"):
        environment.pop(name, None)
    if "AIRFLOW_CONN_SMTP_DEFAULT" not in env:
        environment.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
    return subprocess.run(
        [str(SCRIPT), "report", "--la", "330", *args],
        cwd=var.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def smtp_json(port: int, retry_limit: int = 0) -> str:
    extra = {"disable_ssl": True, "disable_tls": True, "timeout": 5, "retry_limit": retry_limit}
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": extra})


def test_render_only(var: Path) -> None:
    result = run(var, "--month", "2024-03")
    assert result.returncode == 0, result.stderr
    folder = var / "reports" / "330" / "2024-03"
    assert f"{folder / 'commissioner-pack.html'}" in result.stdout
    assert "not sent (add --send to send it)" in result.stdout
    assert (folder / "kpis.csv").is_file()
    assert not (var / "outbox").exists() or not list((var / "outbox").iterdir())


def test_unreachable_mail_server_is_one_sentence_after_retrying(var: Path) -> None:
    result = run(
        var, "--month", "2024-03", "--send", AIRFLOW_CONN_SMTP_DEFAULT=smtp_json(free_port(), 1)
    )
    assert result.returncode == 2
    assert "trying again (1 of 1)" in result.stderr
    # The console wraps long lines: read the message as one line.
    said = " ".join(result.stderr.split())
    assert "csc-pipeline: cannot reach the mail server at smtp://127.0.0.1:" in said
    assert said.endswith("Connection refused")
    assert "Traceback" not in result.stderr


def test_send_through_smtp_once(var: Path) -> None:
    with mail_server() as (inbox, port):
        first = run(var, "--month", "2024-03", "--send", AIRFLOW_CONN_SMTP_DEFAULT=smtp_json(port))
        second = run(var, "--month", "2024-03", "--send", AIRFLOW_CONN_SMTP_DEFAULT=smtp_json(port))
    assert first.returncode == 0, first.stderr
    assert "commissioner: sent (smtp://127.0.0.1:" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "commissioner: already sent; partnership: already sent" in second.stdout
    assert len(inbox.messages) == 2


def test_send_without_smtp_writes_the_outbox(var: Path) -> None:
    """January has closures only: --send refuses an incomplete pack unless forced."""
    refused = run(var, "--month", "2024-01", "--send")
    assert refused.returncode == 2
    said = " ".join(refused.stderr.split())
    assert "no workforce, referrals file is loaded for LA 330, 2024-01" in said
    forced = run(var, "--month", "2024-01", "--send", "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(list((var / "outbox").glob("*.eml"))) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2024-13"], "1-12"),
        (["--month", "2024-03", "--force"], "--force only applies with --send"),
        (["--month", "2030-01"], "no extract is loaded for LA 330, 2030-01"),
    ],
)
def test_expected_failures_are_one_sentence(var: Path, args: list[str], message: str) -> None:
    result = run(var, *args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_bad_pack_configuration_is_one_sentence(var: Path, tmp_path: Path) -> None:
    bad = tmp_path / "pack.yml"
    bad.write_text("sender: nobody\n", encoding="utf-8")
    environment = {**os.environ, "CSC_VAR_DIR": str(var), "CSC_PACK_CONFIG": str(bad)}
    result = subprocess.run(
        [str(SCRIPT), "report", "--la", "330", "--month", "2024-03"],
        cwd=var.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    said = " ".join(result.stderr.split())
    assert f"csc-pipeline: CSC_PACK_CONFIG file {bad} is wrong: sender: String should" in said
    assert "data_engineers: Field required; approved_domains: Field required" in said
