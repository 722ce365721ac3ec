"""Read a landed extract (CSV or XLSX) into a typed table, with its problems.

Everything the contract allows is accepted here: UTF-8 with or without BOM,
Windows-1252 (with a warning), the first sheet of an XLSX with real date
cells, headers in any case and order, both date formats, the boolean
spellings, ``12.0`` integers, code-with-label cells, blank rows and
header-only files.  Everything it forbids becomes a :class:`Problem`; the
types come from the dataset's contract, never from a column list here.

A CSV row with more or fewer fields than the header (an unquoted comma or
line break) rejects the file: its values would sit under other columns' names,
so an identifier could be shown as another column's example.  The parser pads
short rows with blanks and cannot say which they were, so a field-count pass
of its own finds them (see :func:`_misshapen_lines`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from etl.contracts import Column, ColumnType, Contract, Severity, load_contract
from etl.filenames import BadFileName, ExtractName, parse_name
from etl.problems import Problem

#: Rows parsed at a time when reading a CSV (bounds the parser's peak memory).
CSV_CHUNK_ROWS = 200_000
#: Name of the column holding each row's number in the file (header = row 1).
ROW = "_row"
#: Years a date may have: what the checks hold at nanosecond resolution.
DATE_YEARS = (1678, 2261)
#: Bytes scanned at a time by the field-count pass of a CSV without quotes.
FIELD_COUNT_BLOCK = 1 << 24

_BOOLEANS = {
    "1": True,
    "0": False,
    "y": True,
    "n": False,
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
}
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_UK_DATE = r"^\d{2}/\d{2}/\d{4}$"
_INTEGER = r"^[+-]?\d+(?:\.0*)?$"
# A code followed by ":" or " - " and a label: the code.  No lazy or nested
# quantifiers, so the match is linear in the cell's length (the earlier
# "([^\s:]+?)\s*(?::|\s+-\s+).*$" took quadratic time on a long run of spaces).
_CODE_LABEL = r"^([^\s:]+)(?:\s*:|\s+-\s)"


@dataclass
class Extract:
    """One landed file, read: the typed rows and what was wrong with them."""

    path: Path
    name: ExtractName | None
    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    encoding: str | None = None
    #: Per column, the rows whose value was present but could not be read.
    invalid: dict[str, pd.Series] = field(default_factory=dict)
    #: Contract columns the file's header does not have.
    absent: set[str] = field(default_factory=set)

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def contract(self) -> Contract:
        if self.name is None:
            raise ValueError(f"{self.file}: no contract for a file whose name did not parse")
        return load_contract(self.name.dataset)

    @property
    def rejected(self) -> bool:
        return any(p.is_error for p in self.problems)

    @property
    def rows(self) -> int:
        return len(self.frame)


class _Unreadable(Exception):
    """Raised inside the reader when the file cannot be read as a table at all."""

    def __init__(self, rule: str, message: str, rows: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.rule = rule
        self.rows = rows


def read_extract(path: str | Path) -> Extract:
    """Read and type one landed file; problems are returned, never raised."""
    (extract,) = read_extracts([path])
    return extract


def read_extracts(paths: Sequence[str | Path]) -> list[Extract]:
    """Read and type landed files, each as :func:`read_extract` would alone.

    The raw tables of one dataset's files are typed together, one pass per
    column over all their rows: a hub's month is 153 small files a dataset,
    and typing each alone cost more in pandas' per-call overhead than in the
    data.  Every cell is typed on its own, so what a file gets (values,
    problems, rows) does not depend on the files beside it.
    """
    extracts: list[Extract] = []
    raws: dict[str, list[tuple[Extract, pd.DataFrame]]] = {}
    for given in paths:
        path = Path(given)
        try:
            name = parse_name(path)
        except BadFileName as exc:
            extracts.append(_rejected(path, None, "file_name", str(exc)))
            continue
        problems: list[Problem] = []
        try:
            raw, encoding = _read_raw(path, name, problems)
        except _Unreadable as exc:
            extracts.append(_rejected(path, name, exc.rule, str(exc), exc.rows))
            continue
        extract = Extract(path, name, pd.DataFrame(), problems, encoding)
        extracts.append(extract)
        raws.setdefault(name.dataset, []).append((extract, raw))
        del raw  # the list holds the only reference, which typing lets go
    for dataset in list(raws):
        _type_columns(load_contract(dataset), raws.pop(dataset))
    return extracts


def _rejected(
    path: Path, name: ExtractName | None, rule: str, message: str, rows: tuple[int, ...] = ()
) -> Extract:
    problem = Problem(path.name, rule, Severity.ERROR, message, rows=rows)
    return Extract(path, name, pd.DataFrame(), [problem])


# --- raw table: every cell a string -----------------------------------------


def _read_raw(path: Path, name: ExtractName, problems: list[Problem]) -> tuple[pd.DataFrame, str]:
    if not path.exists():
        raise _Unreadable("missing_file", "the file does not exist")
    if path.stat().st_size == 0:
        raise _Unreadable("empty_file", "the file is empty (zero bytes); expected a header row")
    if name.suffix == ".xlsx":
        table, encoding = _read_xlsx(path), "xlsx"
    else:
        table, encoding = _read_csv(path, problems)
    return _with_header(table, path.name, problems), encoding


def _read_csv(path: Path, problems: list[Problem]) -> tuple[pd.DataFrame, str]:
    # UTF-8 (a BOM is dropped) first; what fails to decode is retried as
    # Windows-1252, which is what Excel writes on most UK council machines.
    try:
        return _parse_csv(path, "utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        table = _parse_csv(path, "cp1252")
    except UnicodeDecodeError:
        raise _Unreadable("encoding", "the file is neither UTF-8 nor Windows-1252 text") from None
    problems.append(
        Problem(
            path.name,
            "windows_1252",
            Severity.WARNING,
            "the file is Windows-1252 text, not UTF-8; read it as Windows-1252",
        )
    )
    return table, "windows-1252"


def _parse_csv(path: Path, encoding: str) -> pd.DataFrame:
    # In chunks: the parser makes a Python object per cell before the column
    # becomes compact Arrow strings, so whole-file parsing would peak at
    # several times the table's final size.
    try:
        chunks = pd.read_csv(
            path,
            header=None,
            dtype="str",
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding=encoding,
            encoding_errors="strict",
            chunksize=CSV_CHUNK_ROWS,
        )
        table = pd.concat([_blank_for_missing(chunk) for chunk in chunks], ignore_index=True)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(dtype="str")
    except pd.errors.ParserError as exc:
        # A row longer than the header stops the parser; say which rows, as below.
        if _TOO_MANY_FIELDS.search(str(exc)):
            _refuse_misshapen(path, encoding)
        raise _Unreadable("csv_format", f"the file is not valid CSV: {exc}") from None
    _refuse_misshapen(path, encoding)
    return table


def _blank_for_missing(chunk: pd.DataFrame) -> pd.DataFrame:
    """Cells missing from short rows (a blank line, a row of fewer fields) as blank text."""
    # Only the columns that have any: filling every column copies them all.
    missing = [column for column in chunk.columns if chunk[column].hasnans]
    if missing:
        chunk[missing] = chunk[missing].fillna("")
    return chunk


_TOO_MANY_FIELDS = re.compile(r"Expected \d+ fields in line \d+, saw \d+")


def _refuse_misshapen(path: Path, encoding: str) -> None:
    """Raise if a row that holds values has another number of fields than the header."""
    width, lines = _misshapen_lines(path, encoding)
    if not lines:
        return
    many = len(lines) > 1
    raise _Unreadable(
        "field_count",
        f"{'these rows do' if many else 'this row does'} not have the header's {width} "
        "fields (a comma or line break outside quotes?), so values would be read under "
        "other columns' names; none is shown",
        rows=tuple(lines),
    )


def _misshapen_lines(path: Path, encoding: str) -> tuple[int, list[int]]:
    """The header's field count and the lines (as an editor numbers them) of rows with another.

    Blank rows (only spaces and commas) are left out: the contract ignores them.
    A file without a double quote is counted with numpy, a block at a time
    (a comma or line-break byte is the same character in UTF-8 and
    Windows-1252); one with quotes by the csv module, whose default quoting
    (double quotes, doubled to escape) is the parser's.
    """
    counted = _plain_lines(path, encoding)
    return counted if counted is not None else _quoted_lines(path, encoding)


def _blank(fields: list[str]) -> bool:
    return not any(f.strip() for f in fields)


def _quoted_lines(path: Path, encoding: str) -> tuple[int, list[int]]:
    try:
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or _blank(header):
                return 0, []  # no header: refused as such later
            width, previous, lines = len(header), reader.line_num, []
            for fields in reader:
                if len(fields) != width and not _blank(fields):
                    lines.append(previous + 1)  # the line the row starts on
                previous = reader.line_num
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise _Unreadable("csv_format", f"the file is not valid CSV: {exc}") from None
    return width, lines


def _plain_lines(path: Path, encoding: str) -> tuple[int, list[int]] | None:
    """As :func:`_misshapen_lines` for a file without quotes; None if it has one."""
    width, seen, lines = 0, 0, []
    carry = b""
    with path.open("rb") as handle:
        while True:
            block = handle.read(FIELD_COUNT_BLOCK)
            if b'"' in block:
                return None
            data = carry + block
            if block:
                # Keep the last line, which may go on in the next block (so may
                # a final CR, if its LF starts the next block), for that block.
                cut = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1)) + 1
                data, carry = data[:cut], data[cut:]
            if data:
                texts, counts = _line_fields(data, encoding)
                if not seen:
                    if _blank(texts(0).split(",")):
                        return 0, []  # no header: refused as such later
                    width = int(counts[0])
                for index in np.flatnonzero(counts != width):
                    if seen + index and not _blank(texts(int(index)).split(",")):
                        lines.append(seen + int(index) + 1)
                seen += len(counts)
            if not block:
                return width, lines


def _line_fields(data: bytes, encoding: str) -> tuple[Callable[[int], str], np.ndarray]:
    """For whole lines of bytes: a line's text by index, and each line's field count."""
    array = np.frombuffer(data, dtype=np.uint8)
    lf, cr = array == 10, array == 13
    cr[:-1] &= ~lf[1:]  # a CR before an LF is one CRLF line break
    ends = np.flatnonzero(lf | cr)
    if not len(ends) or ends[-1] != len(array) - 1:
        ends = np.append(ends, len(array))  # the last line, without a line break
    commas = np.flatnonzero(array == 44)
    counts = np.diff(np.searchsorted(commas, ends), prepend=0) + 1
    starts = np.concatenate(([0], ends[:-1] + 1))

    def text(index: int) -> str:
        return data[starts[index] : ends[index]].decode(encoding, errors="replace")

    return text, counts


def _read_xlsx(path: Path) -> pd.DataFrame:
    # Imported here: openpyxl is only needed for the few councils that send XLSX.
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise _Unreadable(
            "xlsx_format", f"the file is not a readable XLSX workbook: {exc}"
        ) from None
    try:
        if not book.worksheets:  # a chart sheet only, or a damaged workbook.xml
            raise _Unreadable("xlsx_format", "the workbook has no worksheet")
        # Sheets are parsed lazily in read-only mode: a damaged sheet fails here.
        rows = [
            [_cell_text(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)
        ]
    except _Unreadable:
        raise
    except Exception as exc:  # zipfile, XML and openpyxl errors alike
        raise _Unreadable(
            "xlsx_format", f"the first sheet of the workbook cannot be read: {exc}"
        ) from None
    finally:
        book.close()
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype="str")


def _cell_text(value: object) -> str:
    """An Excel cell as the text the CSV path would have seen."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _with_header(table: pd.DataFrame, file: str, problems: list[Problem]) -> pd.DataFrame:
    """Use the first row as header; number the rows; drop blank rows."""
    # Columns by label and one slice at the end: pandas' positional look-ups
    # cost more than the data in a hub's 9,000 small columns.
    table.columns = pd.RangeIndex(table.shape[1])
    cells = [str(table[position].iat[0]) for position in table.columns] if len(table) else []
    if not any(cell.strip() for cell in cells):
        raise _Unreadable("no_header", "the file has no header row")
    header = [cell.strip().lower() for cell in cells]
    seen: set[str] = set()
    for h in header:
        if h and h in seen:
            raise _Unreadable("duplicate_column", f"the header names column {h!r} twice")
        seen.add(h)
    # Column by column, so no second full-size table of booleans is built.
    filled = np.zeros(len(table) - 1, dtype=bool)
    for position, name in enumerate(header):
        has_value = _has_value(table[position])[1:]
        if not name and has_value.any():
            problems.append(
                Problem(
                    file,
                    "unnamed_column",
                    Severity.WARNING,
                    "a column with a blank header holds values; it was dropped",
                )
            )
        filled |= has_value
    named = [position for position, name in enumerate(header) if name]
    body = table.iloc[1:, named]
    body.columns = pd.Index([header[position] for position in named])
    body[ROW] = np.arange(2, len(body) + 2)
    if not filled.all():
        body = body[filled]
    result: pd.DataFrame = body.reset_index(drop=True)
    return result


def _has_value(cells: pd.Series) -> np.ndarray:
    """Whether each cell holds more than white space."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    stripped = pc.utf8_trim_whitespace(pa.array(cells, from_pandas=True))
    # A missing cell (never in a CSV read as text) counts as a value, as before.
    blank = pc.fill_null(pc.equal(stripped, ""), False)
    return np.asarray(pc.invert(blank).to_numpy(zero_copy_only=False), dtype=bool)


# --- typed table ---------------------------------------------------------------


def _type_columns(contract: Contract, read: list[tuple[Extract, pd.DataFrame]]) -> None:
    """Type the raw tables of files of one dataset, all at once; each file gets its own
    frame, unreadable cells and problems, in contract column order.

    ``read`` is emptied: its raw tables are let go column by column as they
    are typed, so the text and the typed table of a big file never coexist
    whole (the caller must hold no other reference to them).
    """
    extracts = [extract for extract, _raw in read]
    bodies = []
    while read:
        extract, raw = read.pop(0)
        present = set(raw.columns) - {ROW}
        _header_problems(extract, contract, present)
        extract.absent = {c for c in contract.columns if c not in present}
        # Absent columns are blank, as in a file whose column is empty.
        wanted = [c for c in contract.columns if c in present]
        bodies.append(raw.loc[:, [ROW, *wanted]])
        del raw
    # Each file's rows are one run of the whole, from its offset on.
    offsets = np.cumsum([0, *(len(body) for body in bodies)])
    raw = bodies[0] if len(bodies) == 1 else pd.concat(bodies, ignore_index=True)
    del bodies
    typed: dict[str, pd.Series] = {ROW: raw[ROW].astype("int64").reset_index(drop=True)}
    for column in contract.columns.values():
        if column.name in raw.columns:
            # Popped: each raw column is freed once typed, bounding peak memory.
            cells = raw.pop(column.name).fillna("").astype("str")
        else:
            cells = pd.Series([""] * len(raw), dtype="str")
        values, bad = _parse_column(column, cells, raw[ROW], extracts, offsets)
        typed[column.name] = values
        for extract, start, end in zip(extracts, offsets, offsets[1:], strict=False):
            if column.name not in extract.absent:
                extract.invalid[column.name] = bad.iloc[start:end].reset_index(drop=True)
    frame = pd.DataFrame(typed)
    for extract, start, end in zip(extracts, offsets, offsets[1:], strict=False):
        part = frame if len(extracts) == 1 else frame.iloc[start:end]
        extract.frame = part.reset_index(drop=True)


def _header_problems(extract: Extract, contract: Contract, present: set[str]) -> None:
    file = extract.file
    missing = [c for c in contract.required_columns if c not in present]
    if missing:
        extract.problems.append(
            Problem(
                file,
                "missing_column",
                Severity.ERROR,
                f"required column{'s' if len(missing) > 1 else ''} missing: " + ", ".join(missing),
                column=", ".join(missing),
            )
        )
    unknown = sorted(present - set(contract.columns))
    if unknown:
        extract.problems.append(
            Problem(
                file,
                "unknown_column",
                Severity.WARNING,
                "unknown columns dropped (not stored): " + ", ".join(unknown),
                column=", ".join(unknown),
            )
        )


def _parse_column(
    column: Column,
    raw: pd.Series,
    rows: pd.Series,
    extracts: Sequence[Extract],
    offsets: np.ndarray,
) -> tuple[pd.Series, pd.Series]:
    """Typed values and the mask of present-but-unreadable cells, of every file's rows.

    Only the syntax of a cell is checked here (is it a date, a number, a
    yes/no?).  What the value must be (codes, ranges, patterns, required
    when...) is the Great Expectations suite's business (etl.expectations).
    """
    text = raw.str.strip()
    blank = text == ""
    values, bad, rule, expected = _PARSERS[column.type](column, text)
    bad = (bad & ~blank).reset_index(drop=True)
    if bad.any():
        for extract, start, end in zip(extracts, offsets, offsets[1:], strict=False):
            part = slice(int(start), int(end))
            failing, cells = bad.iloc[part], raw.iloc[part]
            _report(extract, column, rule, failing, rows.iloc[part], cells, expected)
    # A value that could not be read is blank to the checks that follow, which
    # skip it (it is reported once, here) rather than report it again.
    values = values.reset_index(drop=True).mask(blank.reset_index(drop=True) | bad)
    return values, bad


def _report(
    extract: Extract,
    column: Column,
    rule: str,
    failing: pd.Series,
    rows: pd.Series,
    raw: pd.Series,
    message: str,
) -> None:
    if not failing.any():
        return
    bad_rows = tuple(int(r) for r in rows[failing.to_numpy()])
    # Never echo an identifier's value: it is personal data.
    examples = () if column.identifier else tuple(dict.fromkeys(raw[failing.to_numpy()].head(3)))
    extract.problems.append(
        Problem(
            extract.file,
            rule,
            Severity.ERROR,
            message,
            column=column.name,
            rows=bad_rows,
            cin_rule=column.cin_rule,
            examples=examples,
        )
    )


Parsed = tuple[pd.Series, pd.Series, str, str]


def _parse_text(column: Column, text: pd.Series) -> Parsed:
    return text.astype("str"), pd.Series(False, index=text.index), "type", ""


def _parse_date(column: Column, text: pd.Series) -> Parsed:
    # Parsed once per distinct text (a month's file has a few thousand dates
    # in a million rows): pandas turns what it parses into Python strings.
    positions, distinct = pd.factorize(text)
    parsed = _dates(pd.Series(distinct, dtype="str")).to_numpy()
    # Position -1 (a missing cell) takes the NaT appended at the end.
    spread = np.append(parsed, np.datetime64("NaT", "s"))[positions]
    values = pd.Series(spread, index=text.index, dtype="datetime64[s]")
    first, last = DATE_YEARS
    return (
        values,
        values.isna() & (text != ""),
        "date_format",
        (f"not a valid date in the form YYYY-MM-DD or DD/MM/YYYY (years {first} to {last})"),
    )


def _dates(text: pd.Series) -> pd.Series:
    """Each text as a date (NaT unless it is a real ISO or UK date within DATE_YEARS)."""
    iso = pd.to_datetime(text.where(text.str.match(_ISO_DATE)), format="%Y-%m-%d", errors="coerce")
    uk = pd.to_datetime(text.where(text.str.match(_UK_DATE)), format="%d/%m/%Y", errors="coerce")
    values = iso.fillna(uk).astype("datetime64[s]")
    # A date GX cannot hold at nanosecond resolution (9999-12-31) is refused
    # here, rather than failing the whole suite.
    first, last = DATE_YEARS
    return values.mask((values.dt.year < first) | (values.dt.year > last))


def _parse_bool(column: Column, text: pd.Series) -> Parsed:
    values = _map_distinct(text, lambda v: _BOOLEANS.get(v.lower()), "boolean")
    return (
        values,
        values.isna() & (text != ""),
        "boolean",
        ("not a yes/no value (0/1, Y/N, Yes/No, True/False)"),
    )


def _parse_int(column: Column, text: pd.Series) -> Parsed:
    if column.codes:
        text = _strip_label(text)
    whole = text.str.match(_INTEGER)
    numbers = pd.to_numeric(text.where(whole), errors="coerce").astype("Int64")
    return numbers, numbers.isna() & (text != ""), "integer", "not a whole number (12 or 12.0)"


def _parse_decimal(column: Column, text: pd.Series) -> Parsed:
    numbers = pd.to_numeric(text.where(text != ""), errors="coerce").astype("Float64")
    finite = numbers.notna() & numbers.abs().lt(float("inf"))
    bad = ~finite.fillna(False).astype(bool) & (text != "")
    return numbers.mask(bad), bad, "number", "not a number"


def _parse_code(column: Column, text: pd.Series) -> Parsed:
    # Codes are matched case-insensitively and written as the contract spells
    # them; a code not in the list is kept as sent, for the suite to reject.
    codes = {str(c).lower(): str(c) for c in column.code_values}
    stripped = _strip_label(text)
    values = _map_distinct(stripped, lambda v: codes.get(v.lower(), v), "str")
    return values, pd.Series(False, index=text.index), "code", ""


def _map_distinct(text: pd.Series, function: Callable[[str], object], dtype: Any) -> pd.Series:
    """``function`` of each cell, called once per distinct value (a code column has a
    handful), spread back by position; a missing cell stays missing."""
    # Series.map with a dict would turn every cell into a Python object first
    # (hundreds of MB at a million rows) to look it up.
    positions, distinct = pd.factorize(text)
    mapped = pd.array([function(str(v)) for v in distinct], dtype=dtype)
    return pd.Series(mapped.take(positions, allow_fill=True), index=text.index)


def _strip_label(text: pd.Series) -> pd.Series:
    # The replacement runs in Python per cell, so only on cells with a label.
    # A label needs a ':' or a '-': found by plain substring search first
    # (Arrow's), so the regex (\s is Unicode whitespace, which only Python's
    # engine matches, a Python call per cell) runs only on those cells.
    labelled = text.str.contains(":", regex=False) | text.str.contains("-", regex=False)
    if labelled.any():
        labelled[labelled] = text[labelled].str.contains(r":|\s-\s", regex=True)
    if not labelled.any():
        return text
    codes = text[labelled].str.extract(_CODE_LABEL, expand=False)
    return text.mask(labelled, codes.fillna(text[labelled]))


_PARSERS: dict[ColumnType, Callable[[Column, pd.Series], Parsed]] = {
    ColumnType.TEXT: _parse_text,
    ColumnType.DATE: _parse_date,
    ColumnType.BOOL: _parse_bool,
    ColumnType.INT: _parse_int,
    ColumnType.DECIMAL: _parse_decimal,
    ColumnType.CODE: _parse_code,
}
