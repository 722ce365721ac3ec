"""Warehouse test data through the real path: an extract file, the reader, the pseudonymiser.

Rows are dicts of Python values naming some of the contract's columns (the
rest are blank; ``la_code`` is the LA's).  :func:`land` writes them as the
CSV a council would send, reads it with :func:`etl.reader.read_extract` and
pseudonymises it with :func:`etl.pseudonymise.pseudonymise` under
:data:`KEY`; with ``checked=True`` it is validated by
:func:`etl.validation.check` instead (the GX suite, which also pseudonymises:
slow, so only where a test needs its problem records).  A file the reader
(or the check) rejects is a fault in the test's rows and raises.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from etl.contracts import load_contract
from etl.months import Month
from etl.pseudonymise import pseudonym, pseudonymise
from etl.reader import read_extract
from etl.validation import Checked, check
from etl.warehouse.load import LoadResult, load_month
from tests.conftest import write_rows

LA = "330"
#: The pseudonymisation key of every warehouse test.
KEY = b"warehouse-tests-key-0123456789abcdef"
#: The month a file is named for when the test does not say.
MONTH = Month(2024, 3)


def pseudo(identifier: str) -> str:
    """The pseudonym the pipeline stores for ``identifier`` (the real keyed hash)."""
    return pseudonym(KEY, identifier)


def cell(value: Any) -> str:
    """A Python value as the cell text a council's export writes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class Landed:
    """One written, read and pseudonymised (perhaps validated) file."""

    file_name: str
    sha256: str
    checked: Checked

    @property
    def frame(self) -> pd.DataFrame:
        return self.checked.frame

    @property
    def rows_read(self) -> int:
        return self.checked.extract.rows

    @property
    def warnings(self) -> int:
        return sum(p.count for p in self.checked.problems if not p.is_error)


def land(
    dataset: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    month: Month = MONTH,
    la_code: str = LA,
    checked: bool = False,
) -> Landed:
    """Write ``rows`` as ``dataset``'s file for ``month``, read it and pseudonymise it."""
    contract = load_contract(dataset)
    cells = [{"la_code": la_code, **{k: cell(v) for k, v in r.items()}} for r in rows]
    with tempfile.TemporaryDirectory(prefix="csc-extract-") as folder:
        path = write_rows(Path(folder) / f"{dataset}_{la_code}_{month}.csv", dataset, cells)
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        extract = read_extract(path)
        if checked:
            result = check(extract, key=KEY)
        else:
            # What check() hands on, without the GX run: the reader's problems.
            frame = pseudonymise(extract.frame, contract, KEY)
            result = Checked(extract, frame, list(extract.problems))
    errors = [p.describe() for p in result.problems if p.is_error]
    if errors:
        raise ValueError("the test's rows make a file the pipeline rejects: " + "; ".join(errors))
    return Landed(path.name, sha256, result)


def frame(
    dataset: str, rows: Sequence[Mapping[str, Any]], la_code: str = LA, month: Month = MONTH
) -> pd.DataFrame:
    """The typed, pseudonymised frame of ``rows``, as ingestion hands it to the load."""
    return land(dataset, rows, month=month, la_code=la_code).frame


def load(
    engine: Any,
    dataset: str,
    month: Month | str,
    rows: Sequence[Mapping[str, Any]],
    *,
    la_code: str = LA,
    sha: str | None = None,
    checked: bool = False,
    **kwargs: Any,
) -> LoadResult:
    """Load ``rows`` as the ``dataset`` file of ``month``, through the reader and pseudonymiser."""
    month = Month.parse(month) if isinstance(month, str) else month
    landed = land(dataset, rows, month=month, la_code=la_code, checked=checked)
    return load_month(
        engine,
        dataset=dataset,
        la_code=la_code,
        month=month,
        frame=landed.frame,
        file_name=landed.file_name,
        file_sha256=sha or landed.sha256,
        rows_read=landed.rows_read,
        warnings=landed.warnings,
        validation_summary=landed.checked.summary(),
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
