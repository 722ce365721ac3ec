"""SQLite and PostgreSQL compute the same measures from the same files."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.warehouse.db import upgrade
from etl.warehouse.schema import measures
from tests.warehouse.conftest import drop, new_engine
from tests.warehouse.extracts import load
from tests.warehouse.history import DATASETS, MONTHS, history


def test_sqlite_and_postgresql_agree(tmp_path: Path) -> None:
    files = history(seed=3)
    results = []
    for backend in ("sqlite", "postgresql"):
        engine, schema = new_engine(backend, tmp_path)
        try:
            upgrade(engine)
            for month in MONTHS[:15]:
                for dataset in DATASETS:
                    load(engine, dataset, month, files[dataset, month])
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.select(measures).order_by(measures.c.month, measures.c.kpi_id)
                )
                results.append([tuple(r) for r in rows])
        finally:
            drop(engine, schema)
    on_sqlite, on_postgresql = results
    assert len(on_sqlite) == len(on_postgresql) == 15 * 29
    for a, b in zip(on_sqlite, on_postgresql, strict=True):
        assert a[:3] == b[:3] and a[6] == b[6]  # la_code, month, kpi_id; reason
        for x, y in zip(a[3:6], b[3:6], strict=True):  # value, numerator, denominator
            assert (x is None) == (y is None), (a, b)
            assert x is None or x == pytest.approx(y, rel=1e-12), (a, b)
