"""The messy-but-valid files councils really send, as a registry of named transforms.

Each transform changes how a table is written (a :class:`Rendering`), never
what it says: every messy file follows EXTRACTS.md and reads back to exactly
the data of the clean one.  :data:`MESS_VARIANTS` is the registry, in the
order transforms are applied (cell spellings, then columns, then rows, then
the container); :func:`rotation` picks each file's combination.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from functools import partial

import numpy as np

from etl.contracts import Column, ColumnType
from etl.sample.writer import Cell, Rendering

Transform = Callable[[Rendering, np.random.Generator], None]

_BOOL_SPELLINGS = (
    ("Yes", "No"),
    ("YES", "NO"),
    ("yes", "no"),
    ("Y", "N"),
    ("y", "n"),
    ("TRUE", "FALSE"),
    ("True", "False"),
    ("1", "0"),
)
_NOTES = (
    "Checked by team manager",
    "Awaiting case note",
    "See chronology",
    "Data cleansed",
    "Query raised with performance team",
)


def _columns(rendering: Rendering, *types: ColumnType) -> list[tuple[int, Column]]:
    return [
        (i, kind)
        for i, kind in enumerate(rendering.kinds)
        if kind is not None and kind.type in types
    ]


def _rewrite(rendering: Rendering, index: int, spell: Callable[[Cell], Cell]) -> None:
    for row in rendering.rows:
        if row and row[index] is not None:
            row[index] = spell(row[index])


def yes_no(rendering: Rendering, rng: np.random.Generator) -> None:
    """Booleans as Yes/No, Y/N, TRUE/False or 1/0, a spelling per column."""
    for index, _ in _columns(rendering, ColumnType.BOOL):
        yes, no = _BOOL_SPELLINGS[int(rng.integers(len(_BOOL_SPELLINGS)))]
        _rewrite(rendering, index, partial(_spell_bool, yes, no))


def _spell_bool(yes: str, no: str, value: Cell) -> Cell:
    return yes if value else no


def uk_dates(rendering: Rendering, rng: np.random.Generator) -> None:
    """Dates as DD/MM/YYYY."""
    for index, _ in _columns(rendering, ColumnType.DATE):
        _rewrite(rendering, index, _uk_date)


def _uk_date(value: Cell) -> Cell:
    return f"{value:%d/%m/%Y}" if isinstance(value, date) else value


def float_ints(rendering: Rendering, rng: np.random.Generator) -> None:
    """Whole numbers as ``12.0``, as a spreadsheet round trip leaves them."""
    for index, _ in _columns(rendering, ColumnType.INT, ColumnType.DECIMAL):
        _rewrite(rendering, index, _point_zero)


def _point_zero(value: Cell) -> Cell:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{float(value):.1f}" if float(value).is_integer() else value
    return value


def code_labels(rendering: Rendering, rng: np.random.Generator) -> None:
    """Codes followed by their label: ``RC8: Case closed after assessment, ...``."""
    separator = (": ", " - ")[int(rng.integers(2))]
    for index, column in _columns(rendering, ColumnType.CODE):
        labels = {str(code): label for code, label in (column.codes or {}).items()}
        _rewrite(rendering, index, partial(_label, labels, separator))


def _label(labels: dict[str, str], separator: str, value: Cell) -> Cell:
    label = labels[str(value)]
    return f"{value}{separator}{label[:1].upper()}{label[1:]}"


def extra_columns(rendering: Rendering, rng: np.random.Generator) -> None:
    """Columns the contract does not know (dropped on load); never identifiers."""
    count = len(rendering.rows)
    extras: list[tuple[str, list[Cell]]] = [
        (
            "Notes",
            [
                _NOTES[int(rng.integers(len(_NOTES)))] if rng.random() < 0.08 else None
                for _ in range(count)
            ],
        ),
        ("Local ref", [f"LR{i + 1:05d}" for i in range(count)]),
        ("Extract run", ["Monthly performance extract v2"] * count),
    ]
    for name, values in extras[: int(rng.integers(2, 4))]:
        at = int(rng.integers(len(rendering.header) + 1))
        rendering.header.insert(at, name)
        rendering.kinds.insert(at, None)
        for row, value in zip(rendering.rows, values, strict=True):
            if row:
                row.insert(at, value)


def header_case(rendering: Rendering, rng: np.random.Generator) -> None:
    """Header names in mixed case with surrounding spaces, columns in another order."""
    styles: tuple[Callable[[str], str], ...] = (str.upper, str.title, str.capitalize, str.lower)
    pads = ("", " ", "  ")
    header = []
    for name in rendering.header:
        styled = styles[int(rng.integers(len(styles)))](name)
        header.append(pads[int(rng.integers(3))] + styled + pads[int(rng.integers(3))])
    order = rng.permutation(len(header))
    if (order == np.arange(len(header))).all():
        order = np.roll(order, 1)
    rendering.header = [header[i] for i in order]
    rendering.kinds = [rendering.kinds[i] for i in order]
    rendering.rows = [[row[i] for i in order] if row else row for row in rendering.rows]


def blank_rows(rendering: Rendering, rng: np.random.Generator) -> None:
    """Empty lines and rows of only commas, scattered through and after the data."""
    width = len(rendering.header)
    for _ in range(int(rng.integers(2, 7))):
        at = int(rng.integers(len(rendering.rows) + 1))
        blank: list[Cell] = [] if rng.random() < 0.5 else [None] * width
        rendering.rows.insert(at, blank)
    rendering.rows.append([None] * width)


def bom(rendering: Rendering, rng: np.random.Generator) -> None:
    """UTF-8 with a byte-order mark and CRLF, as Excel's "CSV UTF-8" saves."""
    rendering.encoding = "utf-8-sig"
    rendering.newline = "\r\n"


def cp1252(rendering: Rendering, rng: np.random.Generator) -> None:
    """Windows-1252 and CRLF, as Excel's plain "CSV" saves on a UK council laptop."""
    rendering.encoding = "cp1252"
    rendering.newline = "\r\n"


def xlsx(rendering: Rendering, rng: np.random.Generator) -> None:
    """The first sheet of an XLSX workbook, with real date and number cells."""
    rendering.xlsx = True


MESS_VARIANTS: dict[str, Transform] = {
    "yes_no": yes_no,
    "uk_dates": uk_dates,
    "float_ints": float_ints,
    "code_labels": code_labels,
    "extra_columns": extra_columns,
    "header_case": header_case,
    "blank_rows": blank_rows,
    "bom": bom,
    "cp1252": cp1252,
    "xlsx": xlsx,
}

#: Pairs that cannot go together: one encoding per file, and an XLSX holds real
#: date and number cells, not text spellings of them.
CONFLICTS: tuple[frozenset[str], ...] = (
    frozenset({"xlsx", "cp1252"}),
    frozenset({"xlsx", "bom"}),
    frozenset({"bom", "cp1252"}),
    frozenset({"xlsx", "uk_dates"}),
    frozenset({"xlsx", "float_ints"}),
)

#: The order variants take turns in.  Any three neighbours (cyclically) are
#: free of conflicts, and a window moving three places a month shows every
#: variant to every dataset within four months.
ROTATION = (
    "xlsx",
    "yes_no",
    "header_case",
    "cp1252",
    "uk_dates",
    "float_ints",
    "bom",
    "code_labels",
    "extra_columns",
    "blank_rows",
)
PER_FILE = 3


def check_variants(names: Sequence[str]) -> tuple[str, ...]:
    """The variants in application order; unknown names or conflicts raise ValueError."""
    unknown = [name for name in names if name not in MESS_VARIANTS]
    if unknown:
        raise ValueError(
            f"unknown mess variant(s) {', '.join(unknown)}; expected some of "
            + ", ".join(MESS_VARIANTS)
        )
    chosen = set(names)
    for pair in CONFLICTS:
        if pair <= chosen:
            raise ValueError(f"mess variants {' and '.join(sorted(pair))} cannot be combined")
    return tuple(name for name in MESS_VARIANTS if name in chosen)


def rotation(dataset_index: int, month_index: int) -> tuple[str, ...]:
    """The combination for one file: three neighbours in ROTATION, moving each month."""
    first = PER_FILE * month_index + dataset_index
    return check_variants([ROTATION[(first + k) % len(ROTATION)] for k in range(PER_FILE)])


def apply(rendering: Rendering, names: Sequence[str], rng: np.random.Generator) -> None:
    """Apply the named variants to ``rendering``, in registry order."""
    for name in check_variants(names):
        MESS_VARIANTS[name](rendering, rng)
