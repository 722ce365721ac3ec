"""The workforce-by-team table: the measures' own SQL grouped by team.

Files go through the real reader, pseudonymiser, validation and load
(``ingest_file``); the expected cells are worked out by hand from the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from etl.ingest import Folders, ingest_file
from etl.months import Month
from etl.report.content import gather
from etl.report.tables import teams_table
from etl.sample import write_sample
from etl.warehouse.db import upgrade
from etl.warehouse.measures_sql import TEAM_KPIS
from tests.conftest import row, write_rows
from tests.warehouse.conftest import BACKENDS, drop, new_engine

KEY = b"test-key-0123456789abcdef-0123456789"
FEBRUARY = Month(2024, 2)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    new, schema = new_engine(request.param, tmp_path)
    upgrade(new)
    yield new
    drop(new, schema)


def _ingest(path: Path, engine: Engine, tmp_path: Path, gx_dir: Path) -> None:
    folders = Folders(tmp_path / "archive", tmp_path / "quarantine")
    result = ingest_file(
        path, engine=engine, key=KEY, folders=folders, loaded_by="test", gx_dir=gx_dir
    )
    assert result.status == "loaded", result.problems


def _worker(post: str, team: str, **changes: str) -> dict[str, str]:
    return row("workforce", post_id=post, team=team, worker_id=f"SW{post[1:]:0>10}", **changes)


def _vacancy(post: str, team: str) -> dict[str, str]:
    blank = dict.fromkeys(
        ("worker_id", "agency_worker", "start_date", "caseload", "working_days_lost"), ""
    )
    return {
        **row("workforce", post_id=post, team=team, record_type="vacancy"),
        **blank,
        "covered_by_agency": "false",
    }


ROWS = [
    _worker("P001", "Alpha", caseload="22"),
    _worker("P002", "Alpha", agency_worker="true", fte="0.5", caseload="10"),
    _vacancy("P003", "Alpha"),
    _worker("P004", "Beta", caseload="0"),
]


def test_team_cells_are_the_measures_per_team(engine: Engine, tmp_path: Path, gx_dir: Path) -> None:
    path = write_rows(tmp_path / "workforce_330_2024-02.csv", "workforce", ROWS)
    _ingest(path, engine, tmp_path, gx_dir)
    table = teams_table(gather(engine, "330", FEBRUARY), suppress=False)
    assert table.headers == (
        "Team",
        "Permanent social workers (FTE)",
        "Agency social workers (FTE)",
        "Vacancies (FTE)",
        "Vacancy rate",
        "Average caseload",
        "Workers with more than 20 cases",
    )
    cells = [[shown.text for shown in cells] for cells in table.rows]
    # Alpha: permanent 1, agency 0.5, vacant 1 -> 1/(1+1); caseload (22+10)/(1+0.5).
    # Beta: one permanent worker with no cases -> no caseload to average.
    assert cells == [
        ["Alpha", "1.0", "0.5", "1.0", "50.0%", "21.3", "1"],
        ["Beta", "1.0", "0.0", "0.0", "0.0%", "not available", "0"],
    ]
    beta_caseload = table.rows[1][5]
    assert beta_caseload.reason == "no workers with a caseload"
    hidden = teams_table(gather(engine, "330", FEBRUARY), suppress=True)
    assert [shown.text for shown in hidden.rows[0]] == ["Alpha", "c", "c", "c", "c", "21.3", "c"]


def test_teams_add_up_to_the_la(engine: Engine, tmp_path: Path, gx_dir: Path) -> None:
    """On a sample council's month the teams partition the LA's own measures."""
    landing = tmp_path / "landing"
    landing.mkdir()
    (path,) = (
        p for p in write_sample(landing, start=FEBRUARY, months=1) if p.name.startswith("work")
    )
    _ingest(path, engine, tmp_path, gx_dir)
    data = gather(engine, "330", FEBRUARY)
    assert len(data.teams) >= 2
    for kpi_id in TEAM_KPIS:
        la = data.kpis[kpi_id]
        teams = [team.figures[kpi_id] for team in data.teams]
        if la.numerator is None:
            assert sum(t.value or 0 for t in teams) == pytest.approx(la.value), kpi_id
        else:
            assert sum(t.numerator or 0 for t in teams) == pytest.approx(la.numerator), kpi_id
            assert sum(t.denominator or 0 for t in teams) == pytest.approx(la.denominator), kpi_id
