"""A regional hub's table: every loaded LA's headline measures and the hub's total.

Two LAs' workforce files for February 2024, read, validated and loaded by the
real pipeline; the figures worked out by hand:

    LA 330: 1 permanent FTE (25 cases), 1 vacant FTE   -> vacancy 1 / 2 = 50.0%
    LA 331: 3 permanent FTE (10 cases each), 1 vacant  -> vacancy 1 / 4 = 25.0%
    hub:    2 vacant over 6 = 33.3% (the mean of the two rates would be 37.5%)
            over 20 cases: 1 + 0 = 1; average caseload (25 + 30) / 4 = 13.8
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from etl.ingest import Folders, ingest_files
from etl.months import Month
from etl.report.config import PackConfig
from etl.report.publish import publish_pack
from etl.settings import Settings
from tests.conftest import row, write_rows
from tests.report.htmltext import visible_text

KEY = b"hub-test-key-0123456789"
MONTH = Month(2024, 2)


def _workforce(folder: Path, la: str, permanent: int, caseload: int) -> Path:
    rows = [
        row(
            "workforce",
            la_code=la,
            post_id=f"P{i}",
            worker_id=f"SW{la}{i:07d}",
            caseload=str(caseload),
            working_days_lost="0",
        )
        for i in range(permanent)
    ]
    rows.append(
        row(
            "workforce",
            la_code=la,
            record_type="vacancy",
            post_id="V1",
            worker_id="",
            agency_worker="",
            covered_by_agency="false",
            start_date="",
            caseload="",
            working_days_lost="",
        )
    )
    return write_rows(folder / f"workforce_{la}_{MONTH}.csv", "workforce", rows)


@pytest.fixture
def hub_config(config: PackConfig) -> PackConfig:
    hub = config.audiences[0].model_copy(
        update={"name": "hub", "title": "Hub leads", "hub_table": True}
    )
    return config.model_copy(update={"audiences": [*config.audiences, hub]})


def test_the_hub_total_is_computed_from_the_rows_not_averaged(
    pack_db: Engine, settings: Settings, tmp_path: Path, gx_dir: Path, hub_config: PackConfig
) -> None:
    landed = tmp_path / "landing"
    landed.mkdir()
    files = [_workforce(landed, "330", 1, 25), _workforce(landed, "331", 3, 10)]
    results = ingest_files(
        files,
        engine=pack_db,
        key=KEY,
        folders=Folders(tmp_path / "archive", tmp_path / "quarantine"),
        loaded_by="test",
        gx_dir=gx_dir,
    )
    assert [r.status for r in results] == ["loaded", "loaded"]

    result = publish_pack(pack_db, settings, "330", MONTH, send=False, config=hub_config)
    hub_copy = next(a for a in result.audiences if a.audience == "hub")
    text = visible_text(Path(hub_copy.html).read_text(encoding="utf-8"))
    assert "Regional hub: 2 LAs loaded for this month" in text
    # Headline measures in the configuration's order: vacancy, agency, turnover, caseload, ...
    assert "LA 330 50.0% 0.0% not available 25.0 1" in text
    assert "LA 331 25.0% 0.0% not available 10.0 0" in text
    assert "Hub total 33.3% 0.0% not available 13.8 1" in text
    # The commissioner's own copy has no hub table.
    plain = Path(result.html).read_text(encoding="utf-8")
    assert "Regional hub" not in visible_text(plain)
