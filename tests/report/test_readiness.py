"""What the DAGs ask before publishing and at the deadline: which datasets, sent or not."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from etl.errors import ConfigError
from etl.report.config import PackConfig
from etl.report.publish import missing_datasets, pack_sent, publish_pack
from etl.settings import Settings
from etl.warehouse.load import load_month, recompute_after_load
from tests.report import pack_month
from tests.report.pack_month import LA, MONTH
from tests.warehouse.extracts import land


def test_missing_until_loaded(pack_db: Engine) -> None:
    assert missing_datasets(pack_db, LA, MONTH) == ["workforce", "referrals", "closures"]
    pack_month.load_file(pack_db, "referrals", MONTH, pack_month.referral_rows())
    assert missing_datasets(pack_db, LA, MONTH) == ["workforce", "closures"]


def test_loaded_but_not_recomputed_is_still_missing(pack_db: Engine) -> None:
    """The DAG loads and recomputes in two tasks: a pack in between would show blanks."""
    landed = land("closures", pack_month.march_closures(), month=MONTH, la_code=LA)
    load_month(
        pack_db,
        dataset="closures",
        la_code=LA,
        month=MONTH,
        frame=landed.frame,
        file_name=landed.file_name,
        file_sha256=landed.sha256,
        rows_read=landed.rows_read,
        loaded_by="test",
        recompute=False,
    )
    assert "closures" in missing_datasets(pack_db, LA, MONTH)
    recompute_after_load(pack_db, dataset="closures", la_code=LA, month=MONTH)
    assert "closures" not in missing_datasets(pack_db, LA, MONTH)


def test_an_empty_file_counts_as_loaded(pack_db: Engine) -> None:
    pack_month.load_file(pack_db, "closures", MONTH, [])
    assert "closures" not in missing_datasets(pack_db, LA, MONTH)


def test_pack_sent_needs_every_audience(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    assert not pack_sent(small_warehouse, LA, MONTH, config=config)
    publish_pack(small_warehouse, settings, LA, MONTH, send=False, config=config)
    assert not pack_sent(small_warehouse, LA, MONTH, config=config)  # rendered, not sent
    publish_pack(small_warehouse, settings, LA, MONTH, send=True, config=config)
    assert pack_sent(small_warehouse, LA, MONTH, config=config)
    assert not pack_sent(small_warehouse, LA, MONTH + 1, config=config)


def test_publish_refuses_a_recipient_outside_the_approved_domains(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    """A configuration built in code is checked again before anything is sent."""
    outsider = config.audiences[1].model_copy(update={"recipients": ["board@gmail.com"]})
    built = config.model_copy(update={"audiences": [config.audiences[0], outsider]})
    with pytest.raises(ConfigError, match=r"audience partnership sends to board@gmail\.com"):
        publish_pack(small_warehouse, settings, LA, MONTH, send=True, config=built)
    assert not pack_sent(small_warehouse, LA, MONTH, config=config)
    assert not list(settings.outbox_dir.glob("*.eml"))
