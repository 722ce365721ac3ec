"""Child process for test_kill: a big referrals load whose COPY is slowed down.

Run as ``python -m tests.warehouse._slow_copy_load URL SCHEMA APP_NAME ROWS``.
Each COPY block is written after a pause, so the parent can see the COPY
under way (pg_stat_progress_copy) and kill this process with SIGKILL in the
middle of it.  Exits 0 only if the load (unexpectedly) completes.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import psycopg

import etl.warehouse.load as load_module
from etl.months import Month
from etl.warehouse.db import make_engine
from etl.warehouse.load import load_month

MONTH = Month(2024, 3)


def big_referrals(rows: int) -> pd.DataFrame:
    """``rows`` valid referrals of MONTH, built column-wise (fast)."""
    ids = pd.Series([f"BIG{i}" for i in range(rows)], dtype="str")
    days = pd.Series(
        np.datetime64(MONTH.start.isoformat()) + (np.arange(rows) % 28), dtype="datetime64[s]"
    )
    blank_dates = pd.Series(pd.NaT, index=range(rows), dtype="datetime64[s]")
    blank_text = pd.Series(None, index=range(rows), dtype="str")
    return pd.DataFrame(
        {
            "la_code": pd.Series("330", index=range(rows), dtype="str"),
            "referral_id": ids,
            "child_id": pd.Series([f"{i:032x}" for i in range(rows)], dtype="str"),
            "referral_date": days,
            "referral_source": pd.Series("6", index=range(rows), dtype="str"),
            "primary_need": pd.Series("N1", index=range(rows), dtype="str"),
            "nfa": pd.Series(False, index=range(rows), dtype="boolean"),
            "date_of_birth": blank_dates,
            "sex": blank_text,
            "ethnicity": blank_text,
            "assessment_start_date": blank_dates,
            "assessment_authorised_date": blank_dates,
            "team": blank_text,
            "allocated": pd.Series(True, index=range(rows), dtype="boolean"),
            "_row": pd.Series(range(2, rows + 2), dtype="int64"),
        }
    )


def main(url: str, schema: str, app_name: str, rows: int) -> None:
    slow_write = psycopg.Copy.write

    def write(self: Any, buffer: Any) -> None:
        time.sleep(0.2)
        slow_write(self, buffer)

    psycopg.Copy.write = write  # type: ignore[method-assign]
    load_module.COPY_CHUNK_ROWS = 1000
    engine = make_engine(url, schema=schema, connect_args={"application_name": app_name})
    load_month(
        engine,
        dataset="referrals",
        la_code="330",
        month=MONTH,
        frame=big_referrals(rows),
        file_name=f"referrals_330_{MONTH}.csv",
        file_sha256="f" * 64,
        rows_read=rows,
        validation_summary={},
        loaded_by="killed",
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
