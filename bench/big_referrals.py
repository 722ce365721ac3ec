"""Write a large, valid referrals extract quickly (numpy, no per-row Python).

Used by the benchmarks: ``python bench/big_referrals.py OUT_DIR ROWS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from etl.contracts import load_contract
from etl.filenames import extract_filename
from etl.months import Month

SOURCES = ["6", "2A", "3A", "5A", "1A", "8", "4", "10"]
NEEDS = ["N1", "N5", "N4", "N2", "N0"]


MONTH = Month(2025, 3)


def write_big_referrals(out_dir: Path, rows: int, month: Month = MONTH, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    start = np.datetime64(month.start.isoformat())
    days = (month.end - month.start).days + 1
    referral = start + rng.integers(0, days, rows).astype("timedelta64[D]")
    assess_start = np.minimum(
        referral + rng.integers(0, 5, rows).astype("timedelta64[D]"),
        np.datetime64(month.end.isoformat()),
    )
    nfa = rng.random(rows) < 0.07
    frame = pd.DataFrame(
        {
            "la_code": "330",
            "referral_id": np.char.add("R", np.arange(rows).astype(str)),
            "child_id": np.char.add("C", rng.integers(0, rows // 2 + 1, rows).astype(str)),
            "referral_date": referral.astype(str),
            "referral_source": rng.choice(SOURCES, rows),
            "primary_need": np.where(nfa, "", rng.choice(NEEDS, rows)),
            "nfa": np.where(nfa, "true", "false"),
            "date_of_birth": (
                np.datetime64("2010-01-01") + rng.integers(0, 6000, rows).astype("timedelta64[D]")
            ).astype(str),
            "sex": rng.choice(["M", "F"], rows),
            "ethnicity": rng.choice(["WBRI", "APKN", "BCRB", "MWBC"], rows),
            "assessment_start_date": np.where(nfa, "", assess_start.astype(str)),
            "assessment_authorised_date": "",
            "team": rng.choice(["Assessment North", "Assessment South"], rows),
            "allocated": np.where(rng.random(rows) < 0.9, "true", "false"),
        }
    )
    path = out_dir / extract_filename("referrals", "330", month)
    frame[list(load_contract("referrals").columns)].to_csv(path, index=False)
    return path


if __name__ == "__main__":
    print(write_big_referrals(Path(sys.argv[1]), int(sys.argv[2])))
