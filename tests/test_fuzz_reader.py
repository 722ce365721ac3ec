"""The reader and the checks refuse hostile files with problems, never a traceback.

Hypothesis writes files a council never should (random bytes, truncated or
mixed encodings, odd quoting, huge fields, formulas, XLSX with merged cells,
extra sheets or no rows, random cell values) and every one goes through
``read_extract``, some also through ``validate`` (GX: slow, so fewer).  For
each file:

- no exception escapes;
- the file is accepted (typed from its contract) or has an error problem;
- every problem names the file and a rule, and a problem about cells names
  the column and rows, which are rows of the file that hold values;
- no identifier value appears in any problem.

Identifiers are written with a marker (``SECRET…``, or ``ZQ`` and ten digits,
which is a valid worker_id) that no other cell holds, so a leak is found
whatever column it leaks through.  Files that once broke something are kept
in ``tests/fuzz_corpus/{case}/`` and replayed by ``test_corpus_file``.

Examples per test are a share of the Hypothesis profile's ``max_examples``
(``ci`` when CI=true, else ``dev``; see conftest).  In CI (1,000): 900 CSV,
100 CSV with rows cut short or made long, 600 random-byte, 300 XLSX and 200
damaged-XLSX files read, and 30 CSV and 20 XLSX files validated: 2,150 in
all, about 3 minutes on the shared 2-core machine when it is quiet, two thirds
of it reading CSV and a third GX.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from etl.contracts import DATASETS, Column, ColumnType, Severity, load_contract
from etl.problems import Problem
from etl.reader import ROW, Extract, read_extract
from etl.validation import check
from tests.conftest import VALID_ROWS

CORPUS = Path(__file__).parent / "fuzz_corpus"
#: Rules the reader reports about cells: each must name a column and rows.
CELL_RULES = {"date_format", "boolean", "integer", "number"}
#: Rules about the whole file or its header, which name no rows.
FILE_RULES = {
    "file_name",
    "missing_file",
    "empty_file",
    "encoding",
    "windows_1252",
    "csv_format",
    "xlsx_format",
    "no_header",
    "duplicate_column",
    "unnamed_column",
    "missing_column",
    "unknown_column",
}
#: Rules whose rows are the file's lines (as an editor numbers them), not rows read.
LINE_RULES = {"field_count"}
_RULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LEAK = re.compile(r"SECRET|ZQ\d{10}", re.IGNORECASE)


def _examples(share: float) -> settings:
    """This test's number of examples: a share of the loaded profile's."""
    return settings(max_examples=max(5, int(settings.default.max_examples * share)))


# --- the properties ------------------------------------------------------------


def assert_sound(
    path: Path,
    extract: Extract,
    problems: list[Problem],
    *,
    records: int | None = None,
    aligned: bool = True,
) -> None:
    """Every property a read (and perhaps checked) file must have.

    ``records`` is how many data rows were written, when the file is known to
    be well-formed CSV; otherwise rows are bounded by the file's line breaks.
    ``aligned`` says every row's values are under their own column's name.
    The reader refuses a CSV with a row of another width than the header
    (``field_count``), but a row broken by unquoted commas and line breaks
    that happen to add up to the header's width cannot be told from a real
    one, so the leak is checked only on aligned files.
    """
    rejected = any(p.is_error for p in problems)
    if not rejected:
        contract = extract.contract
        assert list(extract.frame.columns) == [ROW, *contract.columns]
    kept = set(extract.frame[ROW].tolist()) if ROW in extract.frame.columns else set()
    csv_file = path.suffix.lower() == ".csv"
    data = path.read_bytes() if csv_file else b""
    lines = range(2, data.count(b"\n") + data.count(b"\r") + 3)
    if records is not None:
        assert kept <= set(range(2, records + 2))
        # Written by the csv module, every row has the header's width.
        assert not any(p.rule in LINE_RULES for p in problems), problems
    elif csv_file:
        assert kept <= set(lines)
    for problem in problems:
        assert problem.file == path.name
        assert _RULE_NAME.match(problem.rule), problem
        assert isinstance(problem.severity, Severity)
        assert problem.message.strip()
        text = problem.describe()
        assert path.name in text and problem.rule in text
        json.dumps(problem.to_record())
        if problem.rule in CELL_RULES:
            assert problem.column and problem.rows, problem
        if problem.rule in LINE_RULES:
            # The whole file is refused, naming its lines and no column or value.
            assert rejected and problem.is_error and not kept, problem
            assert problem.rows and problem.column is None and not problem.examples, problem
            assert list(problem.rows) == sorted(set(problem.rows))
            assert set(problem.rows) <= set(lines), (problem.rows, lines)
            assert problems == [problem]
        elif problem.rows:
            assert problem.column, problem
            assert list(problem.rows) == sorted(set(problem.rows))
            assert set(problem.rows) <= kept, (problem.rule, problem.rows, sorted(kept)[:20])
            assert problem.count >= len(problem.rows)
        elif problem.rule not in FILE_RULES:
            # A rule about cells that names no rows must be about the whole table.
            assert problem.column is None or "observed" in problem.message, problem
        if aligned:
            for shown in (*problem.examples, text, json.dumps(problem.to_record())):
                assert not _LEAK.search(shown), problem.rule


def read_and_check(
    path: Path, *, records: int | None = None, aligned: bool = True, gx: bool = False
) -> None:
    extract = read_extract(path)
    assert_sound(path, extract, extract.problems, records=records, aligned=aligned)
    if gx:
        checked = check(extract)
        assert checked.problems[: len(extract.problems)] == extract.problems
        assert_sound(path, extract, checked.problems, records=records, aligned=aligned)
        if not checked.rejected:
            assert len(checked.frame) == len(extract.frame)


# --- cell values ---------------------------------------------------------------

HOSTILE = [
    "",
    " ",
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://example.invalid","x")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1)",
    "\t=1+1",
    '"',
    '""',
    'a "quoted" word',
    "a,b",
    "line\nbreak",
    "cr\rreturn",
    "nul\x00byte",
    "\ufeffbom",
    "\u2028sep",
    "café – naïve",
    "😀",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "1e-400",
    "0x10",
    "1_000",
    " 12 ",
    "12.0000",
    "12.",
    ".5",
    "+1",
    "-0",
    "١٢",
    "None",
    "NULL",
    "N/A",
    "#N/A",
    "TRUE",
    "yes ",
    "2024-02-30",
    "2024-13-01",
    "0000-01-01",
    "0001-01-01",
    "1677-09-21",
    "2262-04-12",
    "9999-12-31",
    "29/02/2024",
    "31/04/2024",
    "2024-02-29T00:00:00",
    "٢٠٢٤-٠٢-٠٥",
    "RC7: x",
    "RC8:",
    ":",
    " - ",
    "-",
    "RC9 - label - more",
    "N1: line\nbreak",
    "330",
    "33O",
]
HUGE = [
    "x" * 5_000,
    "9" * 5_000,
    "1." + "0" * 5_000,
    "RC7 " + " " * 5_000 + "b - c",
    "a" * 70_000,
]
# Identifier values, marked so that a leak is found through any column.
IDENTIFIERS = st.one_of(
    st.integers(0, 10**9).map(lambda n: f"SECRET{n}"),
    st.integers(0, 10**10 - 1).map(lambda n: f"ZQ{n:010d}"),
    st.sampled_from(["=cmd|' /C calc'!SECRET", " SECRET-1 ", "SECRET,2", 'SECRET"3', "SECRET\n4"]),
    st.text(max_size=8).map(lambda s: "SECRET" + s),
)


def _clean(text: str) -> bool:
    return not _LEAK.search(text)


def _spellings(column: Column) -> list[str]:
    """Values the contract allows, in the spellings councils send."""
    if column.type is ColumnType.DATE:
        return ["2024-02-05", "05/02/2024", "2024-02-29", "2023-11-02", "2024-03-01"]
    if column.type is ColumnType.BOOL:
        return ["1", "0", "Y", "n", "Yes", "NO", "True", "false"]
    if column.type is ColumnType.DECIMAL:
        return ["1", "0.5", "0", "1.01", "-0.5", "1e0"]
    if column.codes:
        codes = [str(c) for c in column.code_values]
        return [*codes[:4], f"{codes[0]}: label", f"{codes[-1]} - label"]
    if column.type is ColumnType.INT:
        return ["0", "5", "12.0", "-1", "12.5"]
    return ["330", "P001", "Assessment North", "REF1", "T" * 101]


def cell(column: Column | None) -> st.SearchStrategy[str]:
    if column is not None and column.identifier:
        return IDENTIFIERS
    valid = _spellings(column) if column is not None else ["x"]
    return st.one_of(
        st.sampled_from(valid),
        st.sampled_from(HOSTILE),
        st.text(max_size=20).filter(_clean),
        st.sampled_from(HUGE)
        if column is None or column.type is not ColumnType.TEXT
        else st.just(""),
    )


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, list[str], list[list[str]]]:
    """A dataset, a header (contract columns, changed) and rows of cell text."""
    dataset = draw(st.sampled_from(DATASETS))
    contract = load_contract(dataset)
    names = list(contract.columns)
    header = draw(st.permutations(names))
    header = header[: draw(st.integers(0, len(header))) if draw(st.booleans()) else len(header)]
    extras = draw(
        st.lists(
            st.one_of(
                st.sampled_from(["", "notes", "_row", "TEAM", " la_code "]), st.text(max_size=10)
            ),
            max_size=3,
        )
    )
    header = list(header) + [e for e in extras if _clean(e)]
    header = [draw(st.sampled_from([h, h.upper(), f"  {h} ", h.title()])) for h in header]
    columns = [contract.columns.get(h.strip().lower()) for h in header]
    width = len(header)
    rows = draw(
        st.lists(
            st.one_of(
                st.tuples(*[cell(c) for c in columns]).map(list),
                st.just([""] * width),
                st.builds(lambda: [VALID_ROWS[dataset].get(h.strip().lower(), "") for h in header]),
            ),
            max_size=6,
        )
    )
    return dataset, header, rows


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes, int | None]:
    """A CSV's dataset, bytes and (when it is well-formed CSV) its number of data rows."""
    dataset, header, rows = draw(tables())
    quoting = draw(st.sampled_from(["minimal", "all", "raw", "broken"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines: list[str] = []
    for values in [header, *rows]:
        if quoting in ("minimal", "all"):
            out = io.StringIO()
            style = csv.QUOTE_MINIMAL if quoting == "minimal" else csv.QUOTE_ALL
            csv.writer(out, quoting=style, lineterminator="").writerow(values)
            lines.append(out.getvalue())
        elif quoting == "raw":
            lines.append(",".join(values))
        else:
            lines.append(
                ",".join(draw(st.sampled_from([v, f'"{v}', f'"{v}"', f' "{v}"x'])) for v in values)
            )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "mixed", "utf-16", "latin-1"]))
    if encoding == "mixed":
        data = newline.join(lines[:1]).encode("utf-8")
        for line in lines[1:]:
            data += newline.encode() + _encode(line, draw(st.sampled_from(["utf-8", "cp1252"])))
    else:
        data = _encode(newline.join(lines), encoding)
    if draw(st.booleans()):
        data += newline.encode()
    truncated = draw(st.booleans()) and len(data) > 1
    if truncated:
        data = data[: draw(st.integers(1, len(data) - 1))]
    # Only CSV written by the csv module, whole and in one line ending, has a known row count.
    # The header counts too: with lineterminator="" the csv module does not quote a line
    # break, so a header name holding one splits the header (b"0\n0": no rows were written).
    simple = (
        quoting in ("minimal", "all")
        and encoding != "utf-16"
        and not truncated
        and not any("\n" in v or "\r" in v for r in [header, *rows] for v in r)
    )
    return dataset, data, len(rows) if simple else None


def fuzz(
    name: str, data: bytes, *, records: int | None = None, aligned: bool = True, gx: bool = False
) -> None:
    """Land ``data`` as ``name`` in a folder of its own and check it."""
    with tempfile.TemporaryDirectory(prefix="csc-fuzz-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        read_and_check(path, records=records, aligned=aligned, gx=gx)


@st.composite
def misshapen_csv_files(draw: st.DrawFn) -> tuple[str, bytes, list[int]]:
    """A well-formed CSV, then some rows cut short or made long; and the lines that
    must be named: those rows', unless what is left of one is blank (ignored)."""
    dataset, header, rows = draw(tables())
    one_line = [h.replace("\r", " ").replace("\n", " ") for h in header]
    assume(any(h.strip() for h in one_line))
    table = [[v.replace("\r", " ").replace("\n", " ") for v in r] for r in rows]
    assume(table)
    expected: list[int] = []
    for index in sorted(draw(st.sets(st.integers(0, len(table) - 1), min_size=1))):
        fields = table[index]
        if draw(st.booleans()) and fields:
            fields = fields[: draw(st.integers(0, len(fields) - 1))]
        else:
            extra = draw(st.lists(cell(None), min_size=1, max_size=3))
            fields = fields + [v.replace("\r", " ").replace("\n", " ") for v in extra]
        table[index] = fields
        if any(f.strip() for f in fields):
            expected.append(index + 2)  # one line per row: the header is line 1
    out = io.StringIO()
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    csv.writer(out, lineterminator=newline).writerows([one_line, *table])
    return dataset, out.getvalue().encode("utf-8"), expected


# --- XLSX ------------------------------------------------------------------------

XLSX_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)),
    st.dates(min_value=date(1900, 3, 1)),
    st.times(),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=1000)),
    st.booleans(),
    st.sampled_from([h for h in HOSTILE if not ILLEGAL_CHARACTERS_RE.search(h)]),
    st.sampled_from(["=cmd|' /C calc'!A0", "=1+1", "=A1", "=#REF!", "=NOW()"]),
    st.text(max_size=20).filter(lambda s: _clean(s) and not ILLEGAL_CHARACTERS_RE.search(s)),
)


@st.composite
def xlsx_files(draw: st.DrawFn) -> tuple[str, bytes]:
    dataset, header, rows = draw(tables())
    book = Workbook()
    # Fixed times, so the same draws make the same bytes (Hypothesis replays them).
    book.properties.created = book.properties.modified = datetime(2024, 3, 1)
    sheet = book.active
    layout = draw(
        st.sampled_from(["table", "no_rows", "typed", "notes_first", "chart_only", "offset"])
    )
    contract = load_contract(dataset)
    if layout in ("table", "typed", "notes_first", "offset"):
        if layout == "offset":
            sheet.append([None])
        sheet.append([h if not ILLEGAL_CHARACTERS_RE.search(h) else "x" for h in header])
        for values in rows:
            out: list[object] = []
            for h, v in zip(header, values, strict=True):
                column = contract.columns.get(h.strip().lower())
                if layout == "typed" and not (column is not None and column.identifier):
                    out.append(draw(XLSX_VALUES))
                else:
                    out.append(None if ILLEGAL_CHARACTERS_RE.search(v) else v)
            sheet.append(out)
    for _ in range(draw(st.integers(0, 3))):
        if sheet.max_row < 1 or sheet.max_column < 1:
            break
        r1 = draw(st.integers(1, sheet.max_row))
        c1 = draw(st.integers(1, sheet.max_column))
        r2 = draw(st.integers(r1, sheet.max_row + 1))
        c2 = draw(st.integers(c1, sheet.max_column + 1))
        if (r1, c1) != (r2, c2) and not any(
            r1 <= m.max_row and m.min_row <= r2 and c1 <= m.max_col and m.min_col <= c2
            for m in sheet.merged_cells.ranges
        ):
            sheet.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
    for index in range(draw(st.integers(0, 2))):
        extra = book.create_sheet(f"Extra{index}")
        extra.append(["la_code", "notes"])
        extra.append(["330", draw(XLSX_VALUES)])
    if layout == "notes_first":
        book.create_sheet("Notes", 0).append(["read me first"])
    if layout == "chart_only":
        book.create_chartsheet("Chart", 0)
        book.remove(sheet)
        for extra in list(book.worksheets):
            book.remove(extra)
    out_bytes = io.BytesIO()
    book.save(out_bytes)
    return dataset, _deterministic(out_bytes.getvalue())


def _deterministic(data: bytes) -> bytes:
    """The workbook with the save time taken out: openpyxl stamps ``modified`` (and
    zipfile each member) with the clock, so the same draws would give bytes of
    another length a second later, which Hypothesis reports as a flaky strategy."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>2024-03-01T00:00:00Z\g<2>",
                    content,
                )
            member = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 0, 0, 0))
            target.writestr(member, content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _mutated(data: bytes, draw: st.DrawFn) -> bytes:
    """An XLSX's bytes with a few bytes changed, or cut short, or a member replaced."""
    how = draw(st.sampled_from(["flip", "truncate", "member"]))
    if how == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "member":
        source = zipfile.ZipFile(io.BytesIO(data))
        names = source.namelist()
        victim = draw(st.sampled_from(names))
        junk = draw(st.sampled_from([b"", b"<x", b"not xml", b"<?xml version='1.0'?><worksheet/>"]))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for name in names:
                target.writestr(name, junk if name == victim else source.read(name))
        return out.getvalue()
    changed = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        changed[draw(st.integers(0, len(changed) - 1))] = draw(st.integers(0, 255))
    return bytes(changed)


# --- the fuzz tests ----------------------------------------------------------------


@_examples(0.9)
@given(file=csv_files())
def test_fuzzed_csv_is_read_without_a_traceback(file: tuple[str, bytes, int | None]) -> None:
    dataset, data, records = file
    fuzz(f"{dataset}_330_2024-02.csv", data, records=records, aligned=records is not None)


@_examples(0.1)
@given(file=misshapen_csv_files())
def test_rows_of_another_width_are_named_and_quote_nothing(
    file: tuple[str, bytes, list[int]],
) -> None:
    dataset, data, expected = file
    with tempfile.TemporaryDirectory(prefix="csc-fuzz-") as folder:
        path = Path(folder) / f"{dataset}_330_2024-02.csv"
        path.write_bytes(data)
        extract = read_extract(path)
        assert_sound(path, extract, extract.problems)
        named = [list(p.rows) for p in extract.problems if p.rule in LINE_RULES]
        assert named == ([expected] if expected else [])
        for problem in extract.problems:
            for shown in (*problem.examples, problem.describe()):
                assert not _LEAK.search(shown), problem.rule


@_examples(0.6)
@given(
    data=st.binary(max_size=2_000),
    name=st.sampled_from(
        ["referrals_330_2024-02.csv", "workforce_330_2024-02.xlsx", "closures_330_2024-02.CSV"]
    ),
)
@example(data=b"\xff\xfe\x00", name="referrals_330_2024-02.csv")
@example(data=b"PK\x03\x04", name="workforce_330_2024-02.xlsx")
def test_random_bytes_are_refused_without_a_traceback(data: bytes, name: str) -> None:
    fuzz(name, data)


@_examples(0.3)
@given(file=xlsx_files())
def test_fuzzed_xlsx_is_read_without_a_traceback(file: tuple[str, bytes]) -> None:
    dataset, data = file
    fuzz(f"{dataset}_330_2024-02.xlsx", data)


@_examples(0.2)
@given(file=xlsx_files(), data=st.data())
def test_damaged_xlsx_is_refused_without_a_traceback(
    file: tuple[str, bytes], data: st.DataObject
) -> None:
    dataset, content = file
    damaged = _mutated(content, data.draw)
    fuzz(f"{dataset}_330_2024-02.xlsx", damaged)


@_examples(0.03)
@given(file=csv_files())
def test_fuzzed_csv_is_validated_without_a_traceback(file: tuple[str, bytes, int | None]) -> None:
    dataset, data, records = file
    fuzz(f"{dataset}_330_2024-02.csv", data, records=records, aligned=records is not None, gx=True)


@_examples(0.02)
@given(file=xlsx_files())
def test_fuzzed_xlsx_is_validated_without_a_traceback(file: tuple[str, bytes]) -> None:
    dataset, data = file
    fuzz(f"{dataset}_330_2024-02.xlsx", data, gx=True)


# --- the corpus: files that once broke something -----------------------------------


#: Corpus cases still open, with why: replayed as strict xfails until fixed.
KNOWN_OPEN: dict[str, str] = {}


def _corpus() -> list[object]:
    cases: list[object] = []
    for path in sorted(CORPUS.glob("*/*")):
        if path.suffix.lower() not in (".csv", ".xlsx"):
            continue
        reason = KNOWN_OPEN.get(path.parent.name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        cases.append(pytest.param(path, id=path.parent.name, marks=marks))
    return cases


@pytest.mark.parametrize("path", _corpus())
def test_corpus_file(path: Path) -> None:
    """Each corpus file reads and validates soundly."""
    read_and_check(path, gx=True)


def test_corpus_is_there() -> None:
    assert _corpus(), f"no fuzz corpus in {CORPUS}"
