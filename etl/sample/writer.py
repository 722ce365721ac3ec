"""Tables of typed cells, and their bytes as a CSV or XLSX extract.

A :class:`Table` holds one file's rows as Python values in contract column
order.  A :class:`Rendering` is how those rows will be written (header text,
encoding, line endings, CSV or XLSX); the mess transforms change a rendering,
never the table, so a messy file always means the same data as the clean one.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt

from etl.contracts import Column, load_contract

Cell = str | int | float | bool | date | None

# Fixed zip and document timestamps: the same workbook must give the same bytes.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
_FIXED = datetime(2000, 1, 1)
_CORE_TIME = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")
_SHEET = "xl/worksheets/sheet1.xml"
_DATE_STYLE = re.compile(rb'<c r="A1" s="(\d+)"')
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_EXCEL_EPOCH = date(1899, 12, 30)


@dataclass
class Table:
    """One file's rows as typed cells, columns in contract order."""

    dataset: str
    columns: list[str]
    rows: list[list[Cell]]

    @classmethod
    def from_columns(cls, dataset: str, data: Mapping[str, Sequence[Cell]]) -> Table:
        """Build from whole columns; they must be exactly the contract's."""
        order = list(load_contract(dataset).columns)
        if set(data) != set(order):
            raise ValueError(
                f"{dataset}: columns {sorted(set(data) ^ set(order))} do not match the contract"
            )
        rows = [list(row) for row in zip(*(data[name] for name in order), strict=True)]
        return cls(dataset, order, rows)

    @classmethod
    def from_records(cls, dataset: str, records: Sequence[Mapping[str, Cell]]) -> Table:
        """Build from one mapping per row, each naming every contract column."""
        order = list(load_contract(dataset).columns)
        for record in records:
            if record.keys() != set(order):
                raise ValueError(f"{dataset}: a record's columns do not match the contract")
        return cls(dataset, order, [[record[name] for name in order] for record in records])


@dataclass
class Rendering:
    """How a table is written: the mess transforms change this."""

    header: list[str]
    #: The contract column behind each header cell; None for an extra column.
    kinds: list[Column | None]
    #: Rows of cells; a str cell is written as it is.  ``[]`` is a blank line.
    rows: list[list[Cell]]
    encoding: str = "utf-8"
    newline: str = "\n"
    xlsx: bool = False
    sheet: str = "Sheet1"

    @classmethod
    def of(cls, table: Table) -> Rendering:
        columns = load_contract(table.dataset).columns
        return cls(
            header=list(table.columns),
            kinds=[columns[name] for name in table.columns],
            rows=[list(row) for row in table.rows],
            sheet=table.dataset,
        )

    @property
    def suffix(self) -> str:
        return ".xlsx" if self.xlsx else ".csv"

    def to_bytes(self) -> bytes:
        return _xlsx_bytes(self) if self.xlsx else _csv_bytes(self)


def cell_text(value: Cell) -> str:
    """The canonical text of a cell: ISO dates, true/false, minimal decimals."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: a bool is an int to Python
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.10g}"
    return value.isoformat()


def date_cells(values: npt.NDArray[np.datetime64]) -> list[Cell]:
    """Dates as cells; NaT becomes a blank."""
    converted: list[Cell] = values.astype(object).tolist()
    return converted


def code_cells(codes: Sequence[str], index: npt.NDArray[np.int64]) -> list[Cell]:
    """Code-table indexes as codes; -1 becomes a blank."""
    return [codes[i] if i >= 0 else None for i in index.tolist()]


def _csv_bytes(rendering: Rendering) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=rendering.newline)
    writer.writerow(rendering.header)
    for row in rendering.rows:
        writer.writerow([cell_text(cell) for cell in row])
    return buffer.getvalue().encode(rendering.encoding)


def _xlsx_bytes(rendering: Rendering) -> bytes:
    """A workbook whose first sheet holds the rows, with real date and number cells.

    openpyxl writes the package (workbook, styles with a UK date format, content
    types); the sheet's cells are written here as plain XML, because openpyxl's
    cell-by-cell writer takes most of a second for a file of a few thousand rows.
    """
    # Imported here: only the few XLSX files need openpyxl.
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    book = Workbook()
    sheet = book.active
    sheet.title = rendering.sheet
    # One date cell, so the styles hold the date format the real cells use.
    probe = sheet.cell(row=1, column=1, value=_FIXED.date())
    probe.number_format = "DD/MM/YYYY"
    book.properties.created = _FIXED
    book.properties.modified = _FIXED
    raw = io.BytesIO()
    # ExcelWriter rather than Workbook.save, which stamps the current time.
    ExcelWriter(book, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()
    return _repack(raw.getvalue(), rendering)


def _repack(data: bytes, rendering: Rendering) -> bytes:
    """The archive with our sheet and fixed timestamps, for byte-identical output."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _CORE_TIME.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", content)
            elif info.filename == _SHEET:
                style = _DATE_STYLE.search(content)
                if style is None:
                    raise RuntimeError("openpyxl wrote no date style for the probe cell")
                content = _sheet_xml(rendering, style.group(1).decode())
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, content)
    return out.getvalue()


def _sheet_xml(rendering: Rendering, date_style: str) -> bytes:
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(i + 1) for i in range(len(rendering.header))]
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_MAIN_NS}"><sheetData>'
    ]
    # Blank rows are rows with no cells: the row number moves on past them.
    for number, row in enumerate([list[Cell](rendering.header), *rendering.rows], start=1):
        cells = [
            _cell_xml(f"{letters[i]}{number}", value, date_style)
            for i, value in enumerate(row)
            if value is not None
        ]
        if cells:
            parts.append(f'<row r="{number}">{"".join(cells)}</row>')
    parts.append("</sheetData></worksheet>")
    return "".join(parts).encode("utf-8")


def _cell_xml(ref: str, value: Cell, date_style: str) -> str:
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, date):
        # Excel's day number: days since 30 December 1899.
        return f'<c r="{ref}" s="{date_style}"><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    text = escape(str(value))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
