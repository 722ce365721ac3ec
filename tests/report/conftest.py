"""A small warehouse for the pack, on SQLite and the real PostgreSQL.

``pack_db`` is one migrated warehouse per backend and module, emptied (loads,
data, measures and deliveries) before each test.  ``small_warehouse`` loads
the month the tests' figures are worked out for by hand (see
:mod:`tests.report.pack_month`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.report.config import PackConfig, load_pack_config
from etl.settings import Settings
from etl.warehouse.db import upgrade
from etl.warehouse.schema import deliveries
from tests.report.pack_month import load_small_warehouse
from tests.warehouse.conftest import BACKENDS, drop, empty, new_engine


@pytest.fixture(scope="module", params=BACKENDS)
def pack_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    engine, schema = new_engine(request.param, tmp_path_factory.mktemp("warehouse"))
    upgrade(engine)
    yield engine
    drop(engine, schema)


def clear(engine: Engine) -> None:
    """Delete every delivery, load, data row and measure."""
    with engine.begin() as connection:
        connection.execute(sa.delete(deliveries))
    empty(engine)


@pytest.fixture
def pack_db(pack_engine: Engine) -> Engine:
    """The module's warehouse, empty (deliveries too)."""
    clear(pack_engine)
    return pack_engine


@pytest.fixture
def small_warehouse(pack_db: Engine) -> Engine:
    load_small_warehouse(pack_db)
    return pack_db


def make_settings(folder: Path) -> Settings:
    """Settings with every folder under ``folder``."""
    var = folder / "var"
    return Settings(
        var_dir=var,
        warehouse_url="sqlite://",  # publish_pack is given its engine; this is not read
        landing_dir=var / "landing",
        reports_dir=var / "reports",
        pseudonym_key=None,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def config() -> PackConfig:
    """The embedded configuration: plan from 2022-04, commissioner and partnership."""
    return load_pack_config()
