"""Reading many files at once gives each file what reading it alone gives.

``read_extracts`` types the files of a dataset together; a file's values,
unreadable cells, problems and absent columns must not depend on the files
read beside it, however those differ in header, encoding or errors.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from etl.months import Month
from etl.reader import Extract, read_extract, read_extracts
from etl.sample import write_sample

FUZZ = Path(__file__).parent / "fuzz_corpus"


def _odd_files(folder: Path) -> list[Path]:
    """Files each wrong in its own way, beside the sample's messy ones."""
    folder.mkdir()
    header = "la_code,closure_id,referral_id,child_id,referral_date,closure_date,closure_reason"
    files = {
        # Another LA's closures without a required column and with an unknown one.
        "closures_331_2024-04.csv": "la_code,closure_id,shoe_size\n331,C1,9\n331,C2,10\n",
        # Unreadable cells of several types, and a blank row.
        "closures_332_2024-04.csv": f"{header}\n332,C1,R1,K1,31/02/2024,2024-04-03,RC1\n"
        ",,,,,,\n332,C2,R2,K2,not a date,2024-13-01,RC2\n",
        # A header only.
        "closures_333_2024-04.csv": f"{header}\n",
        # Not a table at all, and a name that does not parse.
        "closures_334_2024-04.csv": "",
        "closures_of_somewhere.csv": f"{header}\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    for case in sorted(FUZZ.iterdir()):
        if case.is_dir():
            for path in case.iterdir():
                shutil.copy2(path, folder / path.name.replace("_330_", f"_{len(files) + 400}_"))
                files[path.name] = ""
    return sorted(folder.iterdir())


def _same(alone: Extract, together: Extract) -> None:
    assert together.file == alone.file
    assert together.name == alone.name
    assert together.encoding == alone.encoding
    assert together.problems == alone.problems
    assert together.absent == alone.absent
    pd.testing.assert_frame_equal(together.frame, alone.frame)
    assert together.invalid.keys() == alone.invalid.keys()
    for column, bad in alone.invalid.items():
        pd.testing.assert_series_equal(together.invalid[column], bad, check_names=False)


def test_files_read_together_are_read_as_alone(tmp_path: Path) -> None:
    messy = write_sample(tmp_path / "sample", start=Month(2024, 4), months=4, mess=True)
    paths = [*messy, *_odd_files(tmp_path / "odd")]
    together = read_extracts(paths)
    assert [e.file for e in together] == [p.name for p in paths]
    for path, extract in zip(paths, together, strict=True):
        _same(read_extract(path), extract)
    # The case is real: problems of several kinds and files of every dataset.
    rules = {p.rule for e in together for p in e.problems}
    assert {"missing_column", "unknown_column", "date_format", "file_name"} <= rules
    assert {e.name.dataset for e in together if e.name} == {"workforce", "referrals", "closures"}
