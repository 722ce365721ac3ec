"""A migrated warehouse per backend and module, its DfE tables emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.warehouse.db import upgrade
from etl.warehouse.schema import published_figures, reference_loads, statistical_neighbours
from tests.warehouse.conftest import BACKENDS, drop, new_engine


@pytest.fixture(scope="module", params=BACKENDS)
def ref_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    engine, schema = new_engine(request.param, tmp_path_factory.mktemp("warehouse"))
    upgrade(engine)
    yield engine
    drop(engine, schema)


def empty_reference(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in (published_figures, statistical_neighbours, reference_loads):
            connection.execute(sa.delete(table))


@pytest.fixture
def ref_db(ref_engine: Engine) -> Engine:
    empty_reference(ref_engine)
    return ref_engine


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "dfe"
    folder.mkdir()
    return folder
