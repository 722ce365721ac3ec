"""The packs a report run adds to its events' own: loaded since the LA's pack last went."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.engine import Engine

from etl.ingest import Folders, IngestResult, ingest_file
from etl.months import Month
from etl.report.config import PackConfig
from etl.report.owed import owed_packs
from etl.report.publish import publish_pack
from etl.sample import write_sample
from etl.settings import Settings

KEY = b"owed-packs-key-0123456789abcdef"
MONTH = Month(2024, 5)


def _ingest(path: Path, db: Engine, tmp: Path, *, force: bool = False) -> IngestResult:
    landed = tmp / "landing" / path.name
    landed.parent.mkdir(exist_ok=True)
    shutil.copy(path, landed)
    folders = Folders(tmp / "archive", tmp / "quarantine")
    result = ingest_file(landed, engine=db, key=KEY, folders=folders, loaded_by="test", force=force)
    assert result.status == "loaded", result
    return result


def test_a_month_is_owed_from_its_load_until_its_pack_goes_and_again_after_a_reload(
    pack_db: Engine, settings: Settings, config: PackConfig, tmp_path: Path
) -> None:
    first = write_sample(tmp_path / "330", la_code="330", start=MONTH, months=1, seed=3)
    second = write_sample(tmp_path / "886", la_code="886", start=MONTH, months=1, seed=4)
    assert owed_packs(pack_db, [MONTH]) == []
    for path in first:
        _ingest(path, pack_db, tmp_path)
    closures_886 = next(p for p in second if p.name.startswith("closures"))
    _ingest(closures_886, pack_db, tmp_path)
    assert owed_packs(pack_db, [MONTH]) == [("330", MONTH), ("886", MONTH)]
    # Only the months asked about.
    assert owed_packs(pack_db, [MONTH + 1]) == []
    assert owed_packs(pack_db, []) == []

    result = publish_pack(pack_db, settings, "330", MONTH, send=True, config=config)
    assert result.summary()["sent"] == len(config.audiences)
    assert owed_packs(pack_db, [MONTH, MONTH + 1]) == [("886", MONTH)]

    # A resubmission loaded after the pack went makes it owed again.
    closures_330 = next(p for p in first if p.name.startswith("closures"))
    _ingest(closures_330, pack_db, tmp_path, force=True)
    assert owed_packs(pack_db, [MONTH]) == [("330", MONTH), ("886", MONTH)]
