"""The closures check reads only the referrals its file names, and decides exactly as before.

``validate_landed`` used to read every current referral of the LA (its whole
history) for each closures file; it now reads those the file names, by the
table's key.  Both backends: the narrowed look-up is the full one restricted
to the file's ids, and the file's check (problems and stored frame) is the
same with either.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from etl.filenames import parse_name
from etl.ingest import Folders, ingest_files
from etl.months import Month
from etl.reader import read_extract
from etl.sample import write_sample
from etl.validation import check
from etl.warehouse import queries
from etl.warehouse.db import upgrade
from tests.warehouse.conftest import drop, new_engine

KEY = b"test-key-0123456789abcdef-0123456789"
START = Month(2024, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    new, schema = new_engine(request.param, tmp_path)
    upgrade(new)
    yield new
    drop(new, schema)


def test_closures_check_is_the_same_with_the_narrowed_lookup(
    tmp_path: Path, engine: Engine
) -> None:
    files = write_sample(tmp_path / "landing", start=START, months=3, seed=3)
    last = START + 2
    earlier = [f for f in files if parse_name(f).month < last]
    folders = Folders(tmp_path / "archive", tmp_path / "quarantine")
    loaded = ingest_files(earlier, engine=engine, key=KEY, folders=folders, loaded_by="test")
    assert [r.status for r in loaded] == ["loaded"] * 6

    (closures,) = [f for f in files if f.name == f"closures_330_{last}.csv"]
    extract = read_extract(closures)
    ids = extract.frame["referral_id"].dropna().tolist()
    with engine.connect() as connection:
        everything = queries.current_referrals(connection, "330")
        named = queries.current_referrals(connection, "330", ids)
    expected = everything[everything["referral_id"].isin(ids)]
    # Some closures are of referrals older than the warehouse (the warm-up):
    # the subset is smaller than the file, and far smaller than the history.
    assert 0 < len(named) < len(set(ids)) < len(everything)
    pd.testing.assert_frame_equal(
        named.sort_values("referral_id").reset_index(drop=True),
        expected.sort_values("referral_id").reset_index(drop=True),
        check_dtype=False,
    )

    full = check(extract, key=KEY, references={"referrals": everything})
    narrow = check(read_extract(closures), key=KEY, references={"referrals": named})
    assert [p.describe() for p in narrow.problems] == [p.describe() for p in full.problems]
    assert any(p.rule == "closure_referral_known" for p in full.problems)
    pd.testing.assert_frame_equal(narrow.frame, full.frame)


def test_no_ids_reads_nothing(tmp_path: Path, engine: Engine) -> None:
    with engine.connect() as connection:
        frame = queries.current_referrals(connection, "330", [])
    assert list(frame.columns) == ["referral_id", "assessment_start_date"] and frame.empty


def test_one_lookup_for_many_las_is_each_las_own(tmp_path: Path, engine: Engine) -> None:
    files = [
        *write_sample(tmp_path / "landing", la_code="330", start=START, months=2, seed=3),
        *write_sample(tmp_path / "landing", la_code="331", start=START, months=2, seed=4),
    ]
    last = START + 1
    earlier = [f for f in files if parse_name(f).month < last]
    folders = Folders(tmp_path / "archive", tmp_path / "quarantine")
    loaded = ingest_files(earlier, engine=engine, key=KEY, folders=folders, loaded_by="test")
    assert [r.status for r in loaded] == ["loaded"] * 6
    named = {
        la: read_extract(tmp_path / "landing" / f"closures_{la}_{last}.csv")
        .frame["referral_id"]
        .dropna()
        .tolist()
        for la in ("330", "331")
    }
    # The same ids under the other LA must find nothing of this one.
    named["331"] += named["330"][:5]
    with engine.connect() as connection:
        together = queries.current_referrals_of(connection, {**named, "332": []})
        alone = {la: queries.current_referrals(connection, la, ids) for la, ids in named.items()}
    assert set(together) == {"330", "331", "332"} and together["332"].empty
    for la, frame in alone.items():
        assert len(frame) > 0
        pd.testing.assert_frame_equal(
            together[la].sort_values("referral_id").reset_index(drop=True),
            frame.sort_values("referral_id").reset_index(drop=True),
            check_dtype=False,
        )
