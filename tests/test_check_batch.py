"""One GX run over many files finds, for each file, exactly what checking it alone finds.

``check_batch`` validates the files of one dataset (many LAs, many months)
in one GX run and maps each failure back to its file and rows.  These tests
put every bad file of ``test_rules`` (one per hard rule), valid files that
share identifiers with each other, and files of other LAs and months into
one batch, and compare each file's problems and stored frame with
``check`` of that file alone.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from etl.contracts import DATASETS, Severity
from etl.months import Month
from etl.reader import read_extract
from etl.validation import GX_ROWS, Checked, ToCheck, check, check_batch
from tests.conftest import VALID_ROWS, row, write_rows
from tests.test_rules import BAD_FILES

KEY = b"batch-test-key-0123456789abcdef"
#: Real LA codes (Birmingham, Coventry, Dudley) and months of the batch's files.
LAS = ("330", "331", "332")
MONTHS = ("2024-02", "2024-03")


def _months_before(month: str, counts: list[int]) -> dict[Month, int]:
    """``counts`` as the warehouse's volumes of the months just before ``month``."""
    first = Month.parse(month) - len(counts)
    return {first + i: n for i, n in enumerate(counts)}


def _problems(checked: Checked) -> list[tuple[object, ...]]:
    return [
        (p.file, p.rule, p.severity, p.column, p.rows, p.examples, p.message)
        for p in checked.problems
    ]


def _write(folder: Path, dataset: str, rows: list[dict[str, str]], la: str, month: str) -> Path:
    folder.mkdir(parents=True)
    return write_rows(folder / f"{dataset}_{la}_{month}.csv", dataset, rows)


def _batch_files(tmp_path: Path, dataset: str) -> list[Path]:
    """Every bad file of the dataset over LAs and months, then three valid ones.

    The valid files (February's, as their rows' dates are) hold the same
    row: unique within each file, not across them; the last holds it twice.
    """
    cases = [rows for _id, name, rows, *_ in BAD_FILES if name == dataset]
    paths = [
        _write(tmp_path / f"bad{n:02d}", dataset, rows, LAS[n % 3], MONTHS[n % 2])
        for n, rows in enumerate(cases)
    ]
    for n, copies in enumerate([1, 1, 2]):
        rows = [{**VALID_ROWS[dataset], "la_code": LAS[n]}] * copies
        paths.append(_write(tmp_path / f"valid{n}", dataset, rows, LAS[n], MONTHS[0]))
    return paths


@pytest.mark.parametrize("gx_rows", [GX_ROWS, 3], ids=["one run", "runs of 3 rows"])
@pytest.mark.parametrize("dataset", DATASETS)
def test_each_file_of_a_batch_gets_what_it_gets_alone(
    tmp_path: Path, gx_dir: Path, dataset: str, gx_rows: int
) -> None:
    """Also with the batch checked in parts of 3 rows (as a big file is, in parts of
    GX_ROWS): a file's rows, and its duplicates, fall in several parts."""
    extracts = [read_extract(path) for path in _batch_files(tmp_path, dataset)]
    together = check_batch([ToCheck(e) for e in extracts], key=KEY, gx_dir=gx_dir, gx_rows=gx_rows)
    alone = [check(e, key=KEY, gx_dir=gx_dir) for e in extracts]

    assert len(together) == len(alone) == len(extracts)
    for batch, single in zip(together, alone, strict=True):
        assert _problems(batch) == _problems(single), batch.extract.file
        assert batch.rejected == single.rejected
        pd.testing.assert_frame_equal(batch.frame, single.frame)
    # Every bad file is rejected; of the valid ones only the doubled row is.
    assert all(c.rejected for c in together[:-3])
    assert [c.problems for c in together[-3:-1]] == [[], []]
    assert [p.rule for p in together[-1].problems if p.rule.endswith("_unique")]


def test_la_code_is_checked_against_each_files_own_name(tmp_path: Path, gx_dir: Path) -> None:
    # Each file's rows name the LA of the *other* file: both are wrong.
    coventry_rows = _write(
        tmp_path / "a", "workforce", [row("workforce", la_code="331")], *LAS[:1], MONTHS[0]
    )
    birmingham_rows = _write(
        tmp_path / "b", "workforce", [row("workforce", la_code="330")], LAS[1], MONTHS[0]
    )
    results = check_batch(
        [ToCheck(read_extract(coventry_rows)), ToCheck(read_extract(birmingham_rows))],
        key=KEY,
        gx_dir=gx_dir,
    )
    assert [[(p.rule, p.rows) for p in c.problems] for c in results] == [
        [("la_code_matches_file", (2,))],
        [("la_code_matches_file", (2,))],
    ]


def test_dates_are_checked_against_each_files_own_month(tmp_path: Path, gx_dir: Path) -> None:
    # The same February closure in a February file and in a March file.
    february = _write(tmp_path / "a", "closures", [row("closures")], LAS[0], "2024-02")
    march = _write(tmp_path / "b", "closures", [row("closures")], LAS[0], "2024-03")
    results = check_batch(
        [ToCheck(read_extract(february)), ToCheck(read_extract(march))], key=KEY, gx_dir=gx_dir
    )
    assert [[p.rule for p in c.problems if p.is_error] for c in results] == [
        [],
        ["closure_date_in_month"],
    ]
    (problem,) = [p for p in results[1].problems if p.is_error]
    assert problem.examples == (str(pd.Timestamp(row("closures")["closure_date"])),)


def test_references_and_volumes_stay_with_their_own_file(tmp_path: Path, gx_dir: Path) -> None:
    def rows(la: str) -> list[dict[str, str]]:
        return [row("closures", la_code=la, referral_id="KNOWN", closure_reason="RC8")]

    checked_against = _write(tmp_path / "a", "closures", rows(LAS[0]), LAS[0], MONTHS[0])
    unchecked = _write(tmp_path / "b", "closures", rows(LAS[1]), LAS[1], MONTHS[0])
    tiny_history = _write(tmp_path / "c", "closures", rows(LAS[2]), LAS[2], MONTHS[0])
    nothing_known = pd.DataFrame(
        {
            "referral_id": pd.Series([], dtype="str"),
            "assessment_start_date": pd.Series([], dtype="datetime64[ns]"),
        }
    )
    items = [
        ToCheck(read_extract(checked_against), references={"referrals": nothing_known}),
        ToCheck(read_extract(unchecked)),
        ToCheck(read_extract(tiny_history), volumes=_months_before(MONTHS[0], [40, 40, 40])),
    ]
    together = check_batch(items, key=KEY, gx_dir=gx_dir)
    alone = [
        check(
            i.extract,
            key=KEY,
            references=i.references,
            volume_history=list(i.volumes.values()),
            gx_dir=gx_dir,
        )
        for i in items
    ]
    assert [_problems(c) for c in together] == [_problems(c) for c in alone]
    assert [[(p.rule, p.severity) for p in c.problems] for c in together] == [
        [
            ("closure_referral_known", Severity.WARNING),
            ("rc8_rc9_without_assessment", Severity.WARNING),
        ],
        [],
        [("volume", Severity.WARNING)],
    ]
    assert together[2].problems[0].message.endswith("(observed 1)")


def test_one_run_checks_one_dataset(tmp_path: Path, gx_dir: Path) -> None:
    workforce = _write(tmp_path / "a", "workforce", [row("workforce")], LAS[0], MONTHS[0])
    referrals = _write(tmp_path / "b", "referrals", [row("referrals")], LAS[0], MONTHS[0])
    with pytest.raises(ValueError, match="one dataset"):
        check_batch(
            [ToCheck(read_extract(workforce)), ToCheck(read_extract(referrals))],
            key=KEY,
            gx_dir=gx_dir,
        )


def _workforce_month(folder: Path, month: str, posts: int, *, bad: bool = False) -> Path:
    """A workforce file of Birmingham with ``posts`` valid rows (one bad when ``bad``)."""
    end = str(Month.parse(month).end)
    rows = [
        row("workforce", snapshot_date=end, post_id=f"P{n:03d}", worker_id=f"SW{n:010d}")
        for n in range(posts)
    ]
    if bad:
        rows[0]["fte"] = "2"
    return _write(folder, "workforce", rows, LAS[0], month)


@pytest.mark.parametrize("february_rejected", [False, True])
def test_a_batch_of_months_counts_its_own_earlier_months(
    tmp_path: Path, gx_dir: Path, february_rejected: bool
) -> None:
    """Month by month, a file's volume history includes the batch's earlier accepted months."""
    posts = {"2024-01": 10, "2024-02": 10, "2024-03": 10, "2024-04": 2}
    paths = [
        _workforce_month(tmp_path / m, m, n, bad=february_rejected and m == "2024-02")
        for m, n in posts.items()
    ]
    results = check_batch([ToCheck(read_extract(p)) for p in paths], key=KEY, gx_dir=gx_dir)
    assert [c.rejected for c in results] == [False, february_rejected, False, False]
    april = [(p.rule, p.message) for p in results[3].problems]
    if february_rejected:
        assert april == []  # two months of history: too few to judge
    else:
        assert april == [
            (
                "volume",
                "this month's rows are below half or above double the median of the "
                "12 months before (observed 2)",
            )
        ]


@pytest.mark.parametrize("dataset", ["referrals", "workforce"])
def test_a_big_file_checked_in_parts_finds_duplicates_parts_apart(
    tmp_path: Path, gx_dir: Path, dataset: str
) -> None:
    """Rows 2 and 10 share an identifier, in the first and the last of five parts."""
    valid = VALID_ROWS[dataset]
    rows = [dict(valid) for _ in range(8)]
    column = "referral_id" if dataset == "referrals" else "worker_id"
    for number, one in enumerate(rows):
        one[column] = f"{valid[column]}{number}"
    rows.append(dict(rows[0]))
    path = _write(tmp_path / "big", dataset, rows, "330", MONTHS[0])
    extract = read_extract(path)
    parts = check_batch([ToCheck(extract)], key=KEY, gx_dir=gx_dir, gx_rows=2)[0]
    whole = check_batch([ToCheck(extract)], key=KEY, gx_dir=gx_dir)[0]

    assert _problems(parts) == _problems(whole)
    duplicated = [p for p in parts.problems if p.rule.endswith("_unique")]
    assert [(p.column, p.rows) for p in duplicated] == [(column, (2, 10))]
    assert parts.rejected
