"""The volume rule at both ends: below half or above double the median of the months before.

Through the real code: ``volume_bounds`` of a history, then the GX suite run
by ``check`` on a written and read file.  History 8, 10, 12 has median 10, so
the bounds are 5 and 20 rows (worked out by hand); a month of 4 or 21 rows is
flagged, 5 and 20 are not.  Only the month's own rows count: a referrals file's
updates of earlier referrals do not.
"""

from __future__ import annotations

import pytest

from etl.contracts import Severity
from etl.reader import read_extract
from etl.validation import VOLUME_MIN_HISTORY, check, volume_bounds
from tests.conftest import WriteExtract, row

HISTORY = (8, 12, 10)


def _closures(count: int) -> list[dict[str, str]]:
    return [row("closures", referral_id=f"REF{i}", child_id=f"CH{i}") for i in range(count)]


def test_bounds_are_half_and_double_the_median() -> None:
    assert volume_bounds(HISTORY) == (5, 20)
    assert volume_bounds((9, 9, 9, 40)) == (4, 18)  # median 9: 4.5 is cut to 4
    assert VOLUME_MIN_HISTORY == 3
    assert volume_bounds((10, 10)) == (None, None)


@pytest.mark.parametrize(
    ("rows", "flagged"), [(4, True), (5, False), (20, False), (21, True)], ids=str
)
def test_a_month_outside_the_bounds_is_a_warning(
    write_extract: WriteExtract, rows: int, flagged: bool
) -> None:
    path = write_extract("closures", _closures(rows))
    checked = check(read_extract(path), volume_history=HISTORY)
    volume = [
        (p.rule, p.severity, p.column, p.rows, p.message)
        for p in checked.problems
        if p.rule == "volume"
    ]
    expected = [
        (
            "volume",
            Severity.WARNING,
            "closure_date",
            (),
            "this month's rows are below half or above double the median of the 12 months "
            f"before (observed {rows})",
        )
    ]
    assert volume == (expected if flagged else [])
    assert [p.rule for p in checked.problems if p.rule != "volume"] == []
    assert not checked.rejected


def test_only_the_months_own_rows_count(write_extract: WriteExtract) -> None:
    # 20 referrals of February and 3 updates of January's: 20 counted, at the bound.
    rows = [row("referrals", referral_id=f"REF{i}", child_id=f"CH{i}") for i in range(20)]
    rows += [
        row(
            "referrals",
            referral_id=f"OLD{i}",
            child_id=f"CHOLD{i}",
            referral_date="2024-01-15",
            assessment_start_date="2024-01-16",
        )
        for i in range(3)
    ]
    checked = check(read_extract(write_extract("referrals", rows)), volume_history=HISTORY)
    assert [p.rule for p in checked.problems] == []
    checked = check(read_extract(write_extract("referrals", rows[1:])), volume_history=(8, 9, 9))
    # Median 9: the upper bound is 18, and 19 of February's rows are above it.
    assert [(p.rule, p.message) for p in checked.problems] == [
        (
            "volume",
            "this month's rows are below half or above double the median of the 12 months "
            "before (observed 19)",
        )
    ]
