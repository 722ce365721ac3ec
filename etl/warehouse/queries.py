"""Look-ups the ingestion needs from the warehouse before it loads a file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.expectations import VOLUME_WINDOW
from etl.months import Month
from etl.warehouse.measures_sql import current_referrals as current_referrals_query
from etl.warehouse.schema import TABLE_NAMES, metadata, referral_versions

#: The date that says a row belongs to its extract month (the rest are updates).
_OWN_MONTH_DATE = {"referrals": "referral_date"}
#: Bind parameters per look-up: well under SQLite's and PostgreSQL's limits.
_IDS_PER_QUERY = 5_000


def current_referrals(
    connection: Connection, la_code: str, referral_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Each referral's current state (id and assessment start), for closure checks.

    ``referral_ids``: only these referrals (those a closures file names),
    found by the table's key; a closure's check needs no other row, and the
    LA's whole history of referrals grows every month.  None: every referral.
    """
    columns = ["referral_id", "assessment_start_date"]
    current = current_referrals_query(la_code)
    if referral_ids is None:
        return _frame(connection, current, columns)
    wanted = sorted(set(referral_ids))
    parts = [
        _frame(connection, current.where(referral_versions.c.referral_id.in_(chunk)), columns)
        for chunk in (wanted[i : i + _IDS_PER_QUERY] for i in range(0, len(wanted), _IDS_PER_QUERY))
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _frame(connection: Connection, query: sa.Select[Any], columns: list[str]) -> pd.DataFrame:
    current = query.subquery()
    rows = connection.execute(sa.select(*(current.c[name] for name in columns))).all()
    return pd.DataFrame(rows, columns=columns)


def monthly_volumes(
    connection: Connection, dataset: str, la_code: str, month: Month
) -> dict[Month, int]:
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
    return {Month(start.year, start.month): int(count) for start, count in rows}
