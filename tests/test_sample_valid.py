"""The sample extracts pass the real validation path: reader and GX suites.

36 clean months load with no error and no warning beyond the documented one
(closures whose episode began before the first file); every messy variant
loads with warnings only.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from etl.contracts import Severity
from etl.months import Month
from etl.reader import read_extract
from etl.sample import MESS_VARIANTS, write_sample
from etl.validation import check


@pytest.fixture(scope="module")
def clean_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_sample(tmp_path_factory.mktemp("clean"), months=36)


def test_36_months_pass_every_rule(clean_files: list[Path]) -> None:
    assert len(clean_files) == 108
    problems = [p for path in clean_files for p in check(read_extract(path)).problems]
    assert [p.describe() for p in problems if p.severity is Severity.ERROR] == []
    # Without the warehouse the reference rules are not checked: no warning at all.
    assert [p.describe() for p in problems] == []


def test_messy_variants_pass_with_warnings_only(tmp_path: Path) -> None:
    files = write_sample(tmp_path, start=Month(2023, 1), months=4, mess=True)
    warnings = set()
    for path in files:
        problems = check(read_extract(path)).problems
        assert [p.describe() for p in problems if p.is_error] == [], path.name
        warnings |= {p.rule for p in problems}
    assert warnings == {"windows_1252", "unknown_column"}


@pytest.mark.parametrize("variant", sorted(MESS_VARIANTS))
def test_each_variant_alone_is_valid(tmp_path: Path, variant: str) -> None:
    clean = write_sample(tmp_path / "clean", start=Month(2024, 2), months=1)
    # The clean file's data rows, counted by the csv module (not the reader).
    expected = {path.name.split("_")[0]: _data_rows(path) for path in clean}
    messy = tmp_path / "messy"
    for path in write_sample(messy, start=Month(2024, 2), months=1, mess_variants=[variant]):
        extract = read_extract(path)
        assert extract.rows == expected[path.name.split("_")[0]] > 0, path.name
        assert [p.describe() for p in check(extract).problems if p.is_error] == []


def _data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for fields in csv.reader(handle) if any(f.strip() for f in fields)) - 1
