"""Great Expectations suites for DfE's publications, generated from their descriptions.

The suites run on a release's long form (:func:`etl.reference.reader.read_release`:
one row per value cell, with its file row and column), so one expectation
checks every value column and each failure still maps back to the columns
and file rows it was found in.  Like the extract suites they are committed in
``expectations/gx/`` (``csc-pipeline gx-suites``) and a test rebuilds them
from the descriptions; each expectation's ``meta`` names its rule, column
and message.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from etl.contracts import Severity
from etl.expectations import _spec, row_condition
from etl.problems import Problem
from etl.reference.model import LA_LEVEL, LEVELS, Figures, Neighbours
from etl.reference.reader import CELL, COLUMN, ROW, Release

#: A published number: DfE writes no thousands separators.
NUMBER = r"-?\d+(?:\.\d+)?"
LA_CODE = r"^\d{3}$"
#: An LA row's code: one LA, or several reporting jointly ("314 / 318").
LA_CODES = r"^\d{3}(?: / \d{3})*$"


def suite_name(name: str) -> str:
    """The suite and validation definition of publication ``name`` in the GX project."""
    return f"dfe_{name}"


def value_pattern(symbols: list[str]) -> str:
    """A value cell: a number, one of the publication's symbols, or blank."""
    alternatives = "|".join([NUMBER, *(re.escape(s) for s in symbols)])
    return f"^(?:{alternatives})?$"


def suite_spec(described: Figures | Neighbours) -> dict[str, Any]:
    """The whole suite of one publication, as plain, deterministic data."""
    expectations = _figures(described) if isinstance(described, Figures) else _neighbours(described)
    for spec in expectations:
        if "column_" in spec["kwargs"]:
            spec["kwargs"]["column"] = spec["kwargs"].pop("column_")
    return {"name": suite_name(described.name), "expectations": expectations}


def _figures(described: Figures) -> list[dict[str, Any]]:
    levels = list(LEVELS)
    return [
        _spec(
            "expect_column_values_to_be_in_set",
            rule="geographic_level",
            column="geographic_level",
            message=f"the geographic level is not one of {', '.join(levels)}",
            column_="geographic_level",
            value_set=levels,
        ),
        _spec(
            "expect_column_values_to_match_regex",
            rule="time_period",
            column=described.period.column,
            message="the time period is not a year (YYYY)",
            column_=described.period.column,
            regex=r"^\d{4}$",
        ),
        _spec(
            "expect_column_values_to_match_regex",
            rule="value",
            column=CELL,
            message="a value is neither a number nor one of DfE's symbols "
            f"({', '.join(described.symbols)})",
            column_=CELL,
            regex=value_pattern(list(described.symbols)),
        ),
        _spec(
            "expect_column_values_to_match_regex",
            rule="la_code",
            column="old_la_code",
            message="a local authority row needs a 3-digit old_la_code (or codes joined by ' / ')",
            where=row_condition({"geographic_level": [LA_LEVEL]}),
            column_="old_la_code",
            regex=LA_CODES,
        ),
        _spec(
            "expect_column_values_to_match_regex",
            rule="region_code",
            column="region_code",
            message="a regional or local authority row needs its region_code",
            where=row_condition({"geographic_level": ["Regional", LA_LEVEL]}),
            column_="region_code",
            regex=r"^\S+$",
        ),
        _spec(
            "expect_column_values_to_match_regex",
            rule="country_code",
            column="country_code",
            message="every row needs its country_code",
            column_="country_code",
            regex=r"^\S+$",
        ),
        _spec(
            "expect_compound_columns_to_be_unique",
            rule="duplicate",
            column=None,
            message="two rows have the same time period, level and area",
            column_list=[
                described.period.column,
                "geographic_level",
                "country_code",
                "region_code",
                "old_la_code",
                COLUMN,
            ],
        ),
    ]


def _neighbours(described: Neighbours) -> list[dict[str, Any]]:
    positions = range(1, described.neighbours + 1)
    codes = [described.code(n) for n in positions]
    closeness = [described.closeness_of(n) for n in positions]
    return [
        _spec(
            "expect_column_values_to_match_regex",
            rule="la_code",
            column=described.la_column,
            message="an LA code must be 3 digits",
            column_=described.la_column,
            regex=LA_CODE,
        ),
        _spec(
            "expect_column_values_to_match_regex",
            rule="neighbour",
            column=CELL,
            message="a neighbour must be a 3-digit LA code",
            where=row_condition({COLUMN: list(codes)}),
            column_=CELL,
            regex=LA_CODE,
        ),
        _spec(
            "expect_column_values_to_be_in_set",
            rule="closeness",
            column=CELL,
            message=f"closeness must be one of {', '.join(described.closeness)}",
            where=row_condition({COLUMN: list(closeness)}),
            column_=CELL,
            value_set=list(described.closeness),
        ),
        _spec(
            "expect_compound_columns_to_be_unique",
            rule="duplicate",
            column=None,
            message="an LA appears twice",
            column_list=[described.la_column, COLUMN],
        ),
    ]


def check_release(release: Release, gx_dir: Path) -> list[Problem]:
    """Run the publication's committed suite on ``release``; its failures as problems."""
    from etl.validation import _context as gx_context

    described = release.publication
    if described is None or release.rejected:
        return []
    cells = release.cells
    if isinstance(described, Neighbours):
        # Closeness is published with stray spaces ("Close "): compared stripped.
        cells = cells.assign(**{CELL: cells[CELL].str.strip()})
    definition = gx_context(gx_dir).validation_definitions.get(suite_name(described.name))
    results = definition.run(
        batch_parameters={"dataframe": cells},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [ROW, COLUMN],
            "return_unexpected_index_query": False,
        },
    )
    problems = []
    for result in results.results:
        if result.success:
            continue
        info = result.exception_info or {}
        meta = result.expectation_config.meta or {}
        if info.get("raised_exception"):
            raise RuntimeError(
                f"{release.file}: expectation for rule {meta.get('rule')} failed to run: "
                f"{info.get('exception_message')}"
            )
        problems += _problems(release.file, meta, result.result)
    return problems


def _problems(file: str, meta: dict[str, Any], result: dict[str, Any]) -> list[Problem]:
    """One problem per column the failing cells are in (a value rule spans many)."""
    rows_by_column: dict[str | None, set[int]] = defaultdict(set)
    for item in result.get("unexpected_index_list") or []:
        if not isinstance(item, dict):
            continue
        column = meta.get("column")
        if column in (CELL, None):
            column = str(item.get(COLUMN)) if COLUMN in item else None
        rows_by_column[column].add(int(item[ROW]))
    examples = tuple(
        dict.fromkeys(str(v) for v in result.get("partial_unexpected_list") or [] if v != "")
    )[:3]
    return [
        Problem(
            file,
            str(meta.get("rule")),
            Severity.ERROR,
            str(meta.get("message")),
            column=column,
            rows=tuple(sorted(rows)),
            examples=examples if meta.get("rule") in ("value", "geographic_level") else (),
        )
        for column, rows in sorted(rows_by_column.items(), key=lambda kv: str(kv[0]))
    ] or [Problem(file, str(meta.get("rule")), Severity.ERROR, str(meta.get("message")))]
