"""The reader accepts everything the contract allows and types it from the contract."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from etl import reader
from etl.contracts import Severity, load_contract
from etl.reader import ROW, read_extract
from etl.validation import validate
from tests.conftest import VALID_ROWS, WriteExtract, row


def _rules(path: Path) -> list[tuple[str, Severity]]:
    return [(p.rule, p.severity) for p in validate(read_extract(path))]


def test_types_come_from_the_contract(write_extract: WriteExtract) -> None:
    frame = read_extract(write_extract("workforce")).frame
    assert list(frame.columns) == [ROW, *load_contract("workforce").columns]
    first = frame.iloc[0]
    assert first["snapshot_date"] == pd.Timestamp("2024-02-29")
    assert first["org_role"] == 5 and first["caseload"] == 18
    assert first["fte"] == 1.0 and first["working_days_lost"] == 0.5
    assert first["agency_worker"] is False or first["agency_worker"] == False  # noqa: E712
    assert pd.isna(first["covered_by_agency"]) and pd.isna(first["end_date"])
    assert first[ROW] == 2


def test_utf8_bom_is_read(tmp_path: Path, write_extract: WriteExtract) -> None:
    plain = write_extract("closures")
    bom = tmp_path / "bom" / plain.name
    bom.parent.mkdir()
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    extract = read_extract(bom)
    assert extract.problems == [] and extract.encoding == "utf-8"
    assert extract.frame["la_code"].tolist() == ["330"]


def test_windows_1252_is_read_with_a_warning(tmp_path: Path, write_extract: WriteExtract) -> None:
    plain = write_extract("closures", [row("closures", team="Café – North")])
    path = tmp_path / "cp" / plain.name
    path.parent.mkdir()
    path.write_bytes(plain.read_text(encoding="utf-8").encode("cp1252"))
    extract = read_extract(path)
    assert extract.encoding == "windows-1252"
    assert [(p.rule, p.severity) for p in extract.problems] == [("windows_1252", Severity.WARNING)]
    assert extract.frame["team"].tolist() == ["Café – North"]


def test_text_that_is_neither_utf8_nor_1252_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_bytes(b"la_code\n\x81\x8d\n")
    assert _rules(path) == [("encoding", Severity.ERROR)]


def test_xlsx_first_sheet_with_real_cells(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    columns = list(load_contract("workforce").columns)
    sheet.append([c.upper() for c in columns])
    values = {
        **VALID_ROWS["workforce"],
        "snapshot_date": datetime(2024, 2, 29),
        "start_date": date(2019, 5, 1),
        "org_role": 5,
        "fte": 1,
        "caseload": 18.0,
        "agency_worker": False,
        "working_days_lost": 0.5,
    }
    sheet.append([None if values[c] == "" else values[c] for c in columns])
    sheet.append([None] * len(columns))
    book.create_sheet("Notes").append(["ignored"])
    path = tmp_path / "workforce_330_2024-02.xlsx"
    book.save(path)
    extract = read_extract(path)
    assert validate(extract) == []
    first = extract.frame.iloc[0]
    assert first["snapshot_date"] == pd.Timestamp("2024-02-29")
    assert first["caseload"] == 18 and first["agency_worker"] == False  # noqa: E712


def test_headers_any_case_order_and_spaces(tmp_path: Path, write_extract: WriteExtract) -> None:
    columns = list(reversed(load_contract("closures").columns))
    path = write_extract("closures", header=[f"  {c.upper()} " for c in columns])
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + ",".join(VALID_ROWS["closures"][c] for c in columns) + "\n")
    extract = read_extract(path)
    assert validate(extract) == []
    assert extract.frame["closure_reason"].tolist() == ["RC7"]


@pytest.mark.parametrize("text", ["2024-02-12", "12/02/2024"])
def test_both_date_formats(write_extract: WriteExtract, text: str) -> None:
    extract = read_extract(write_extract("closures", [row("closures", closure_date=text)]))
    assert extract.problems == []
    assert extract.frame["closure_date"].tolist() == [pd.Timestamp("2024-02-12")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("0", False),
        ("Y", True),
        ("n", False),
        ("Yes", True),
        ("NO", False),
        ("True", True),
        ("false", False),
    ],
)
def test_boolean_spellings(write_extract: WriteExtract, text: str, value: bool) -> None:
    extract = read_extract(write_extract("closures", [row("closures", capacity_closure=text)]))
    assert extract.problems == []
    assert bool(extract.frame["capacity_closure"].iloc[0]) is value


def test_integers_written_with_point_zero(write_extract: WriteExtract) -> None:
    path = write_extract("workforce", [row("workforce", caseload="12.0", org_role="4.0")])
    extract = read_extract(path)
    assert extract.problems == []
    assert extract.frame["caseload"].tolist() == [12] and extract.frame["org_role"].tolist() == [4]


@pytest.mark.parametrize(
    ("column", "text", "code"),
    [
        ("closure_reason", "RC8: Case closed after assessment, no further action", "RC8"),
        ("closure_reason", "RC9 - closed after assessment, referred to early help", "RC9"),
        ("closure_reason", "rc7", "RC7"),
    ],
)
def test_code_with_label(write_extract: WriteExtract, column: str, text: str, code: str) -> None:
    extract = read_extract(write_extract("closures", [row("closures", **{column: text})]))
    assert [p.rule for p in extract.problems] == []
    assert extract.frame[column].tolist() == [code]


def test_referral_source_with_label(write_extract: WriteExtract) -> None:
    path = write_extract(
        "referrals",
        [
            row(
                "referrals",
                referral_source="1A - Individual - family",
                primary_need="N1: Abuse or neglect",
            )
        ],
    )
    extract = read_extract(path)
    assert extract.problems == []
    assert extract.frame[["referral_source", "primary_need"]].iloc[0].tolist() == ["1A", "N1"]


def test_blank_rows_are_ignored_and_rows_keep_file_numbers(write_extract: WriteExtract) -> None:
    path = write_extract(
        "closures",
        [
            row("closures", referral_id="A"),
            {},
            row("closures", referral_id="B", closure_reason="RCX"),
        ],
    )
    text = path.read_text()
    path.write_text(text + "\n\n")
    extract = read_extract(path)
    assert extract.frame["referral_id"].tolist() == ["A", "B"]
    assert [(p.rule, p.rows) for p in validate(extract)] == [("code", (4,))]


def test_header_only_file_is_a_valid_empty_month(write_extract: WriteExtract) -> None:
    extract = read_extract(write_extract("referrals", []))
    assert validate(extract) == [] and extract.rows == 0


def test_zero_byte_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "referrals_330_2024-02.csv"
    path.write_bytes(b"")
    problems = validate(read_extract(path))
    assert [(p.rule, p.severity) for p in problems] == [("empty_file", Severity.ERROR)]
    assert "zero bytes" in problems[0].describe()


def test_file_without_header_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "referrals_330_2024-02.csv"
    path.write_text("\n,,,\n")
    assert _rules(path) == [("no_header", Severity.ERROR)]


def test_unknown_columns_are_dropped_and_reported(write_extract: WriteExtract) -> None:
    columns = [*load_contract("closures").columns, "Notes", "social_worker_name"]
    path = write_extract(
        "closures", [row("closures", Notes="x", social_worker_name="y")], header=columns
    )
    extract = read_extract(path)
    (problem,) = extract.problems
    assert problem.rule == "unknown_column" and problem.severity is Severity.WARNING
    assert "notes" in problem.message and "social_worker_name" in problem.message
    assert "notes" not in extract.frame.columns


def test_missing_required_column_rejects_the_file(write_extract: WriteExtract) -> None:
    columns = [c for c in load_contract("closures").columns if c != "closure_reason"]
    problems = validate(read_extract(write_extract("closures", header=columns)))
    assert [(p.rule, p.column, p.severity) for p in problems] == [
        ("missing_column", "closure_reason", Severity.ERROR)
    ]


def test_missing_optional_column_is_fine(write_extract: WriteExtract) -> None:
    columns = [c for c in load_contract("referrals").columns if c != "ethnicity"]
    extract = read_extract(write_extract("referrals", header=columns))
    assert validate(extract) == [] and extract.frame["ethnicity"].isna().all()


def test_duplicate_header_is_rejected(write_extract: WriteExtract) -> None:
    columns = [*load_contract("closures").columns, "TEAM"]
    assert _rules(write_extract("closures", header=columns)) == [
        ("duplicate_column", Severity.ERROR)
    ]


@pytest.mark.parametrize(
    "name",
    [
        "referrals_330_2024-2.csv",
        "referral_330_2024-02.csv",
        "referrals_3300_2024-02.csv",
        "referrals_330_2024-13.csv",
        "referrals_330_2024-02.txt",
        "referrals-330-2024-02.csv",
    ],
)
def test_names_that_do_not_parse_are_rejected(write_extract: WriteExtract, name: str) -> None:
    problems = validate(read_extract(write_extract("referrals", name=name)))
    assert [(p.rule, p.severity) for p in problems] == [("file_name", Severity.ERROR)]
    assert name in problems[0].describe()


def test_long_run_of_spaces_in_a_code_is_read_in_linear_time(write_extract: WriteExtract) -> None:
    """The code-with-label pattern once backtracked quadratically here (minutes at 100 kB)."""
    text = "RC7" + " " * 100_000 + "b - c"
    extract = read_extract(write_extract("closures", [row("closures", closure_reason=text)]))
    assert extract.frame["closure_reason"].tolist() == [text]
    assert [(p.rule, p.column) for p in validate(extract)] == [("code", "closure_reason")]


@pytest.mark.parametrize("text", ["9999-12-31", "1677-12-31", "31/12/2262"])
def test_dates_beyond_what_the_checks_hold_are_refused(
    write_extract: WriteExtract, text: str
) -> None:
    """GX holds dates at nanosecond resolution; 9999-12-31 once failed the whole suite."""
    path = write_extract("referrals", [row("referrals", date_of_birth=text)])
    problems = validate(read_extract(path))
    assert [(p.rule, p.column, p.rows) for p in problems] == [
        ("date_format", "date_of_birth", (2,))
    ]
    assert "1678 to 2261" in problems[0].message


def test_dates_at_the_ends_of_the_years_held_are_read(write_extract: WriteExtract) -> None:
    path = write_extract("referrals", [row("referrals", date_of_birth="1678-01-01")])
    assert validate(read_extract(path)) == []
    path = write_extract("referrals", [row("referrals", date_of_birth="31/12/2261")])
    assert read_extract(path).problems == []


def test_workbook_with_only_a_chart_sheet_is_rejected(tmp_path: Path) -> None:
    book = Workbook()
    book.create_chartsheet("Chart", 0)
    book.remove(book["Sheet"])
    path = tmp_path / "workforce_330_2024-02.xlsx"
    book.save(path)
    assert _rules(path) == [("xlsx_format", Severity.ERROR)]


@pytest.mark.parametrize(
    ("member", "junk"),
    [
        ("xl/worksheets/sheet1.xml", b"<x"),
        ("xl/worksheets/sheet1.xml", b""),
        ("xl/worksheets/sheet1.xml", b"not xml"),
        # A workbook that lists no sheet at all: once an IndexError.
        ("xl/workbook.xml", b"<?xml version='1.0'?><worksheet/>"),
    ],
)
def test_workbook_with_a_damaged_part_is_rejected(tmp_path: Path, member: str, junk: bytes) -> None:
    """openpyxl parses a sheet only when its rows are read, after the workbook opened."""
    book = Workbook()
    book.active.append(["la_code"])
    whole = io.BytesIO()
    book.save(whole)
    path = tmp_path / "workforce_330_2024-02.xlsx"
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(path, "w") as target:
        for name in source.namelist():
            target.writestr(name, junk if name == member else source.read(name))
    assert _rules(path) == [("xlsx_format", Severity.ERROR)]


# --- rows of another width than the header --------------------------------------

_CLOSURES_HEADER = ",".join(load_contract("closures").columns)
_GOOD = ",".join(VALID_ROWS["closures"][c] for c in load_contract("closures").columns)


Summary = tuple[str, Severity, str | None, tuple[int, ...], tuple[str, ...]]


def _field_count(path: Path) -> list[Summary]:
    return [(p.rule, p.severity, p.column, p.rows, p.examples) for p in read_extract(path).problems]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_a_short_row_after_an_unquoted_line_break_rejects_the_file(
    tmp_path: Path, newline: str
) -> None:
    # Line 3's team ends in a raw line break, so line 4 starts mid-row: it has
    # 2 fields where the header has 8, and the child's id would sit under la_code.
    lines = [_CLOSURES_HEADER, _GOOD, _GOOD + " North", "CHSECRET9,REF9", _GOOD]
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_bytes(newline.join(lines).encode())
    extract = read_extract(path)
    assert _field_count(path) == [("field_count", Severity.ERROR, None, (4,), ())]
    assert extract.rejected and extract.rows == 0
    text = extract.problems[0].describe()
    assert text == (
        "closures_330_2024-02.csv: error: rule field_count, row 4: this row does not have "
        "the header's 8 fields (a comma or line break outside quotes?), so values would be "
        "read under other columns' names; none is shown"
    )
    assert "SECRET" not in text


def test_long_and_short_rows_are_named_by_the_line_they_start_on(tmp_path: Path) -> None:
    # Line 2-3 is one row with a quoted line break (fine); line 4 has a 9th
    # field; line 5 is blank and 6 holds only commas (blank rows are ignored
    # whatever their width); line 7 is short; line 8-9 is a quoted row, short.
    good = _GOOD.replace("Assessment North", '"Assessment\nNorth"')
    lines = [_CLOSURES_HEADER, good, _GOOD + ",extra", "", ",,", "330,REF7", '"a\nb",c', _GOOD]
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_text("\n".join(lines) + "\n")
    assert _field_count(path) == [("field_count", Severity.ERROR, None, (4, 7, 8), ())]
    assert "these rows do not have the header's 8 fields" in read_extract(path).problems[0].message


def test_a_file_whose_rows_all_have_the_header_width_is_not_refused(tmp_path: Path) -> None:
    # A trailing blank row of any width, a quoted comma and a BOM change nothing.
    quoted = _GOOD.replace("Assessment North", '"Assessment, North"')
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([_CLOSURES_HEADER, _GOOD, quoted, ","])).encode())
    extract = read_extract(path)
    assert extract.problems == []
    assert extract.frame["team"].tolist() == ["Assessment North", "Assessment, North"]


def test_rows_are_counted_across_the_blocks_the_count_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of 7 bytes: lines, and a CR LF pair, are cut across blocks.
    monkeypatch.setattr(reader, "FIELD_COUNT_BLOCK", 7)
    lines = [_CLOSURES_HEADER, _GOOD, _GOOD, "330,x", _GOOD, _GOOD + ",9", _GOOD]
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_bytes("\r\n".join(lines).encode())
    assert _field_count(path) == [("field_count", Severity.ERROR, None, (4, 6), ())]
    path.write_bytes("\r\n".join([_CLOSURES_HEADER, _GOOD, _GOOD]).encode())
    assert _field_count(path) == []


def test_a_windows_1252_file_with_a_short_row_is_refused(tmp_path: Path) -> None:
    lines = [_CLOSURES_HEADER, _GOOD.replace("North", "Nörth"), "330,é"]
    path = tmp_path / "closures_330_2024-02.csv"
    path.write_bytes("\n".join(lines).encode("cp1252"))
    assert _field_count(path) == [("field_count", Severity.ERROR, None, (3,), ())]
