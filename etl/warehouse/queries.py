"""Look-ups the ingestion needs from the warehouse before it loads a file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
#: Referrals per look-up (a bind parameter each): well under SQLite's and
#: PostgreSQL's limits.
_IDS_PER_QUERY = 5_000
#: What a closure's checks read of its referral.
_CURRENT_COLUMNS = ["referral_id", "assessment_start_date"]


def current_referrals(
    connection: Connection, la_code: str, referral_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Each referral's current state (id and assessment start), for closure checks.

    ``referral_ids``: only these referrals (those a closures file names),
    found by the table's key; a closure's check needs no other row, and the
    LA's whole history of referrals grows every month.  None: every referral.
    """
    if referral_ids is None:
        return _frame(connection, current_referrals_query(la_code), _CURRENT_COLUMNS)
    return current_referrals_of(connection, {la_code: referral_ids})[la_code]


def current_referrals_of(
    connection: Connection, named: Mapping[str, Iterable[str]]
) -> dict[str, pd.DataFrame]:
    """:func:`current_referrals` of the named referrals of many LAs, by LA code.

    One query for a hub's closures files, not one per LA: the look-ups go by
    the key (la_code, referral_id) either way.
    """
    rv = referral_versions
    # Per LA "la_code = ... AND referral_id IN (...)", OR-ed: each a range of
    # the primary key (a row-value IN list is not matched to the key).
    chunks: list[list[sa.ColumnElement[bool]]] = [[]]
    size = 0
    for la, ids in sorted(named.items()):
        wanted = sorted({str(i) for i in ids})
        for i in range(0, len(wanted), _IDS_PER_QUERY):
            part = wanted[i : i + _IDS_PER_QUERY]
            if size + len(part) > _IDS_PER_QUERY:
                chunks.append([])
                size = 0
            chunks[-1].append(sa.and_(rv.c.la_code == la, rv.c.referral_id.in_(part)))
            size += len(part)
    parts = [
        _frame(
            connection,
            current_referrals_query().where(sa.or_(*conditions)),
            ["la_code", *_CURRENT_COLUMNS],
        )
        for conditions in chunks
        if conditions
    ]
    found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    empty = pd.DataFrame(columns=_CURRENT_COLUMNS)
    by_la = {la: empty for la in named}
    if not found.empty:
        for code, rows in found.groupby("la_code", sort=False):
            by_la[str(code)] = rows[_CURRENT_COLUMNS].reset_index(drop=True)
    return by_la


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
