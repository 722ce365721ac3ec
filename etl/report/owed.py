"""Which packs are owed: an LA's month loaded since its pack last went.

The report DAG runs on the ingest DAGs' Asset events, and Airflow 3.3 can
drop one: with ``max_active_runs=1``, an event for an asset that is already
queued, arriving before the next run is created, is cleared with the queue
entry yet left out of that run's events (its timestamp is after the queue
entry's; apache/airflow#56050, #54659).  Two LAs' loads finishing at once do
exactly that.  The dropped load is in the warehouse by then (an event
follows its measures' commit), so a report run that also asks the warehouse
which packs of the months it was told about are owed sends it.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from etl.months import Month
from etl.warehouse.db import Bind, transaction
from etl.warehouse.schema import CURRENT_LOAD, deliveries, loads


def owed_packs(bind: Bind, months: Iterable[Month]) -> list[tuple[str, Month]]:
    """(LA, month) pairs of ``months`` whose newest current load is newer than the
    newest delivery of that LA and month, or that have none: in month, then LA order."""
    starts = sorted({month.start for month in months})
    if not starts:
        return []
    loaded = (
        sa.select(loads.c.la_code, loads.c.month, sa.func.max(loads.c.loaded_at).label("loaded_at"))
        .where(loads.c.month.in_(starts), CURRENT_LOAD)
        .group_by(loads.c.la_code, loads.c.month)
        .subquery()
    )
    sent = (
        sa.select(
            deliveries.c.la_code,
            deliveries.c.month,
            sa.func.max(deliveries.c.sent_at).label("sent_at"),
        )
        .where(deliveries.c.month.in_(starts))
        .group_by(deliveries.c.la_code, deliveries.c.month)
        .subquery()
    )
    same = sa.and_(sent.c.la_code == loaded.c.la_code, sent.c.month == loaded.c.month)
    query = (
        sa.select(loaded.c.la_code, loaded.c.month)
        .outerjoin(sent, same)
        .where(sa.or_(sent.c.sent_at.is_(None), sent.c.sent_at < loaded.c.loaded_at))
        .order_by(loaded.c.month, loaded.c.la_code)
    )
    with transaction(bind) as connection:
        rows = connection.execute(query).all()
    return [(row.la_code, Month(row.month.year, row.month.month)) for row in rows]
