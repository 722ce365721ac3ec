"""Typed frames for warehouse tests, shaped as the reader and pseudonymiser leave them.

Rows are dicts of Python values naming some of the contract's columns; the
rest are blank.  Identifiers are turned into 32-hex pseudonyms here (a plain
hash: the warehouse only needs them to look like pseudonyms).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from etl.contracts import ColumnType, load_contract
from etl.months import Month
from etl.warehouse.load import LoadResult, load_month

LA = "330"

_DTYPES = {
    ColumnType.TEXT: "str",
    ColumnType.CODE: "str",
    ColumnType.BOOL: "boolean",
    ColumnType.INT: "Int64",
    ColumnType.DECIMAL: "Float64",
}


def pseudo(name: str) -> str:
    """A pseudonym-shaped id for a readable test name (``"child A"``)."""
    return hashlib.md5(name.encode()).hexdigest()


def frame(dataset: str, rows: Sequence[Mapping[str, Any]], la_code: str = LA) -> pd.DataFrame:
    """The typed frame of ``rows`` (contract column order plus ``_row``)."""
    contract = load_contract(dataset)
    data: dict[str, pd.Series] = {}
    for column in contract.columns.values():
        values = [r.get(column.name, la_code if column.name == "la_code" else None) for r in rows]
        if column.identifier:
            values = [None if v is None else pseudo(str(v)) for v in values]
        if column.type is ColumnType.DATE:
            data[column.name] = pd.Series(
                pd.to_datetime(pd.Series(values, dtype="object")), dtype="datetime64[s]"
            )
        else:
            data[column.name] = pd.Series(values, dtype=_DTYPES[column.type])
    data["_row"] = pd.Series(range(2, len(rows) + 2), dtype="int64")
    return pd.DataFrame(data)


def digest(typed: pd.DataFrame) -> str:
    """A stand-in for the file's SHA-256: the same rows give the same digest."""
    buffer = io.StringIO()
    typed.to_csv(buffer, index=False)
    return hashlib.sha256(buffer.getvalue().encode()).hexdigest()


def load(
    engine: Any,
    dataset: str,
    month: Month | str,
    rows: Sequence[Mapping[str, Any]],
    *,
    la_code: str = LA,
    sha: str | None = None,
    **kwargs: Any,
) -> LoadResult:
    """Load hand-made ``rows`` as the ``dataset`` file of ``month``."""
    month = Month.parse(month) if isinstance(month, str) else month
    typed = frame(dataset, rows, la_code)
    return load_month(
        engine,
        dataset=dataset,
        la_code=la_code,
        month=month,
        frame=typed,
        file_name=f"{dataset}_{la_code}_{month}.csv",
        file_sha256=sha or digest(typed),
        rows_read=len(typed),
        validation_summary={"rows": len(typed)},
        loaded_by="test",
        **kwargs,
    )


# --- rows ------------------------------------------------------------------------------


def worker(
    post: str,
    *,
    fte: float = 1.0,
    agency: bool = False,
    caseload: int | None = None,
    days_lost: float | None = None,
    month: Month,
) -> dict[str, Any]:
    return {
        "snapshot_date": month.end,
        "record_type": "worker",
        "post_id": post,
        "team": "Team A",
        "org_role": 5,
        "fte": fte,
        "worker_id": f"SW{post}",
        "agency_worker": agency,
        "start_date": date(2015, 1, 1),
        "caseload": caseload,
        "working_days_lost": days_lost,
    }


def vacancy(post: str, *, fte: float = 1.0, covered: bool = False, month: Month) -> dict[str, Any]:
    return {
        "snapshot_date": month.end,
        "record_type": "vacancy",
        "post_id": post,
        "team": "Team A",
        "org_role": 5,
        "fte": fte,
        "covered_by_agency": covered,
    }


def leaver(post: str, *, fte: float = 1.0, agency: bool = False, month: Month) -> dict[str, Any]:
    return {
        "snapshot_date": month.end,
        "record_type": "leaver",
        "post_id": post,
        "team": "Team A",
        "org_role": 5,
        "fte": fte,
        "worker_id": f"SW{post}",
        "agency_worker": agency,
        "end_date": month.start,
        "reason_leave": 1,
    }


def referral(
    referral_id: str,
    child: str,
    referral_date: date,
    *,
    nfa: bool = False,
    allocated: bool | None = True,
    start: date | None = None,
    authorised: date | None = None,
) -> dict[str, Any]:
    return {
        "referral_id": referral_id,
        "child_id": child,
        "referral_date": referral_date,
        "referral_source": "6",
        "primary_need": None if nfa else "N1",
        "nfa": nfa,
        "assessment_start_date": start,
        "assessment_authorised_date": authorised,
        "allocated": allocated,
    }


def closure(
    referral_id: str,
    referral_date: date,
    closure_date: date,
    *,
    reason: str = "RC7",
    capacity: bool = False,
) -> dict[str, Any]:
    return {
        "referral_id": referral_id,
        "child_id": f"child of {referral_id}",
        "referral_date": referral_date,
        "closure_date": closure_date,
        "closure_reason": reason,
        "capacity_closure": capacity,
    }
