"""Table checksums: the same rows give the same digest, on either backend."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.warehouse.schema import DATA_TABLES, loads, measures

#: Lineage that a forced reload legitimately renews.
LINEAGE = ("load_id",)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return repr(float(value))
    return value


def table_checksum(engine: Engine, table: sa.Table, exclude: Iterable[str] = ()) -> str:
    skip = set(exclude)
    columns = [c for c in table.columns if c.name not in skip]
    order = [c for c in table.primary_key.columns if c.name not in skip]
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for row in connection.execute(sa.select(*columns).order_by(*order)):
            digest.update(repr(tuple(_plain(v) for v in row)).encode())
    return digest.hexdigest()


def warehouse_checksums(engine: Engine, exclude: Iterable[str] = ()) -> dict[str, str]:
    """Checksums of the data tables and the measures."""
    tables = [*DATA_TABLES.values(), measures]
    return {t.name: table_checksum(engine, t, exclude) for t in tables}


def load_history(engine: Engine) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(loads).order_by(loads.c.loaded_at)))


def orphan_rows(engine: Engine) -> int:
    """Data rows whose load_id is not the current load of their dataset and month."""
    orphans = 0
    with engine.connect() as connection:
        for dataset, table in DATA_TABLES.items():
            current = sa.select(loads.c.load_id).where(
                loads.c.load_id == table.c.load_id,
                loads.c.dataset == dataset,
                loads.c.la_code == table.c.la_code,
                loads.c.month == table.c.month,
                loads.c.status == "loaded",
                loads.c.superseded_by.is_(None),
            )
            query = sa.select(sa.func.count()).select_from(table).where(~current.exists())
            orphans += connection.scalar(query) or 0
    return orphans
