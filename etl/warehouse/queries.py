"""Look-ups the ingestion needs from the warehouse before it loads a file."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.months import Month
from etl.warehouse.measures_sql import current_referrals as current_referrals_query
from etl.warehouse.schema import TABLE_NAMES, metadata

#: How many months before the file's month the volume check looks at.
VOLUME_WINDOW = 12
#: The date that says a row belongs to its extract month (the rest are updates).
_OWN_MONTH_DATE = {"referrals": "referral_date"}


def current_referrals(connection: Connection, la_code: str) -> pd.DataFrame:
    """Each referral's current state (id and assessment start), for closure checks."""
    current = current_referrals_query(la_code).subquery()
    query = sa.select(current.c.referral_id, current.c.assessment_start_date)
    rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=["referral_id", "assessment_start_date"])


def monthly_volumes(connection: Connection, dataset: str, la_code: str, month: Month) -> list[int]:
    """Rows of each loaded month in the 12 before ``month`` (its own rows only)."""
    table = metadata.tables[TABLE_NAMES[dataset]]
    first = (month - VOLUME_WINDOW).start
    query = sa.select(table.c.month, sa.func.count()).where(
        table.c.la_code == la_code, table.c.month >= first, table.c.month < month.start
    )
    own_date = _OWN_MONTH_DATE.get(dataset)
    if own_date:
        query = query.where(table.c[own_date] >= table.c.month)
    rows = connection.execute(query.group_by(table.c.month)).all()
    return [int(count) for _month, count in rows]
