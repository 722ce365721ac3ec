"""A migrated warehouse per backend and module, its DfE tables emptied before each test."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.warehouse.schema import published_figures, reference_loads, statistical_neighbours

# The migrated warehouse per backend and module, shared with the warehouse tests.
from tests.warehouse.conftest import engine


def empty_reference(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in (published_figures, statistical_neighbours, reference_loads):
            connection.execute(sa.delete(table))


@pytest.fixture
def ref_db(engine: Engine) -> Engine:
    empty_reference(engine)
    return engine


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "dfe"
    folder.mkdir()
    return folder


__all__ = ["empty_reference", "engine"]
