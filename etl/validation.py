"""Validate a read extract with its Great Expectations suite.

The path of one file: derive the checks that need raw values or other data,
pseudonymise, run the committed GX suite on the typed frame, and turn each
failed expectation into a :class:`Problem` (rule, column, file rows) through
the rule metadata the suite carries.  Hard rules make errors, soft rules
warnings; nothing here raises for bad data.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from etl.contracts import Contract, Severity
from etl.contracts.model import ReferenceRule
from etl.expectations import (
    IN_MONTH_COLUMN,
    VOLUME_DATE,
    derived_pattern_column,
    derived_reference_column,
)
from etl.months import Month
from etl.problems import Problem
from etl.pseudonymise import pseudonymise
from etl.reader import ROW, Extract

#: The package holding the committed GX project (suites, validation
#: definitions): the repository's ``expectations/``, mapped into the wheel
#: (pyproject.toml).  No run writes there: GX keeps results and Data Docs
#: beside the project, so every run uses a copy (:func:`working_project`).
GX_PACKAGE = "etl._expectations"
#: That project's folder: ``expectations/`` in a checkout (what ``gx-suites``
#: regenerates), ``site-packages/etl/_expectations`` in an installed wheel.
DEFAULT_GX_DIR = Path(str(resources.files(GX_PACKAGE)))
#: What a working copy leaves out: GX's own output, and the package's files.
_NOT_PROJECT = shutil.ignore_patterns("uncommitted", "__init__.py", "__pycache__")
#: Fewest months of history before the volume check means anything.
VOLUME_MIN_HISTORY = 3
#: How many distinct offending values a problem quotes (never identifiers).
EXAMPLES = 3


@dataclass
class Checked:
    """A validated extract: the pseudonymised frame and every problem found."""

    extract: Extract
    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    gx_success: bool | None = None

    @property
    def rejected(self) -> bool:
        return any(p.is_error for p in self.problems)

    def summary(self) -> dict[str, Any]:
        """Compact, JSON-ready summary kept with the load record."""
        return {
            "file": self.extract.file,
            "rows": len(self.frame),
            "errors": sum(p.count for p in self.problems if p.is_error),
            "warnings": sum(p.count for p in self.problems if not p.is_error),
            "gx_success": self.gx_success,
            "problems": [p.to_record() for p in self.problems],
        }


def volume_bounds(history: Sequence[int]) -> tuple[int | None, int | None]:
    """Half and double the median of earlier months' volumes, when there are enough."""
    if len(history) < VOLUME_MIN_HISTORY:
        return None, None
    median = statistics.median(history)
    return int(median / 2), int(median * 2)


def check(
    extract: Extract,
    *,
    key: bytes | None = None,
    references: Mapping[str, pd.DataFrame] | None = None,
    volume_history: Sequence[int] = (),
    gx_dir: Path | None = None,
) -> Checked:
    """Validate one read extract; the returned frame is safe to store.

    ``key`` is the pseudonymisation key (a throw-away one when only checking);
    ``references`` the current rows of other datasets, by name, for the
    cross-file rules (unchecked without them); ``volume_history`` the row
    counts of the months before, for the volume check; ``gx_dir`` the working
    GX project that keeps the results (a throw-away copy when none is given).
    """
    if extract.name is None or not extract.frame.columns.size:
        return Checked(extract, extract.frame, list(extract.problems))
    contract = extract.contract
    month = extract.name.month
    frame = _derive_raw_checks(extract.frame, contract, month)
    frame = pseudonymise(frame, contract, key or secrets.token_bytes(32))
    frame = _derive_reference_checks(frame, contract, references)
    low, high = volume_bounds(volume_history)
    parameters = {
        "la_code": [extract.name.la_code],
        "month_start": pd.Timestamp(month.start),
        "month_end": pd.Timestamp(month.end),
        "min_rows": low,
        "max_rows": high,
    }
    results = run_suite(contract.dataset, frame, parameters, gx_dir or _scratch_project())
    problems = list(extract.problems)
    problems += _problems(extract, contract, results, skip_references=references is None)
    stored = frame.drop(columns=[c for c in frame.columns if c.startswith("_check_")])
    return Checked(extract, stored, problems, results.success)


def _derive_raw_checks(frame: pd.DataFrame, contract: Contract, month: Month) -> pd.DataFrame:
    """Columns the suite checks that must be computed before pseudonymising."""
    out = frame.copy(deep=False)  # new columns only; the caller's frame is untouched
    for column in contract.columns.values():
        if column.identifier and column.pattern:
            values = out[column.name]
            ok = values.str.fullmatch(column.pattern).astype("boolean")
            out[derived_pattern_column(column.name)] = ok.mask(values.isna())
    date_column = VOLUME_DATE.get(contract.dataset)
    if date_column:
        dates = out[date_column]
        out[IN_MONTH_COLUMN] = (dates >= pd.Timestamp(month.start)) & (
            dates <= pd.Timestamp(month.end)
        )
    return out


def _derive_reference_checks(
    frame: pd.DataFrame, contract: Contract, references: Mapping[str, pd.DataFrame] | None
) -> pd.DataFrame:
    for rule in contract.rules:
        if not isinstance(rule, ReferenceRule):
            continue
        target = (references or {}).get(rule.dataset)
        if target is None:
            # Not checkable without the warehouse: true, and not reported as checked.
            frame[derived_reference_column(rule.id)] = True
            continue
        if rule.needs:
            target = target[target[rule.needs].notna()]
        known = frame[rule.column].isin(target[rule.column])
        frame[derived_reference_column(rule.id)] = known.mask(frame[rule.column].isna())
    return frame


# --- running GX ---------------------------------------------------------------


def working_project(target: Path, source: Path | None = None) -> Path:
    """Copy the committed GX project to ``target``, where results and Data Docs go.

    The committed project (suites, validation definitions; the package's
    unless ``source`` is given) is refreshed on every call; what GX keeps
    under ``uncommitted/`` (results, Data Docs) is left alone, so results
    accumulate beside the deployment's other data and the package, or the
    repository, stays as it was installed.
    """
    if source is not None:
        return _copy_project(source, target)
    with resources.as_file(resources.files(GX_PACKAGE)) as committed:
        return _copy_project(committed, target)


def _copy_project(source: Path, target: Path) -> Path:
    if target.resolve() == source.resolve():
        return target
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=_NOT_PROJECT)
    return target


@cache
def _scratch_project() -> Path:
    """A working copy for checks that keep nothing (``validate``), removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="csc-gx-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return working_project(folder)


@cache
def _context(gx_dir: Path) -> Any:
    # Imported here: GX takes seconds to import and only validation needs it.
    import great_expectations as gx

    return gx.get_context(mode="file", project_root_dir=str(gx_dir))


def run_suite(
    dataset: str, frame: pd.DataFrame, parameters: Mapping[str, Any], gx_dir: Path
) -> Any:
    """Run the dataset's committed validation definition on ``frame``."""
    context = _context(gx_dir)
    definition = context.validation_definitions.get(dataset)
    return definition.run(
        batch_parameters={"dataframe": _for_gx(frame)},
        expectation_parameters=dict(parameters),
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [ROW],
            "return_unexpected_index_query": False,
        },
    )


def _for_gx(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with dates at nanosecond resolution, as GX's pandas engine expects.

    pandas 3 reads dates at millisecond resolution; GX compares only
    ``datetime64[ns]`` columns vectorised and falls back to a Python call per
    value for anything else (a third of the suite's time on a big file).
    """
    dates = {
        name: "datetime64[ns]"
        for name, dtype in frame.dtypes.items()
        if pd.api.types.is_datetime64_dtype(dtype) and dtype != "datetime64[ns]"
    }
    return frame.astype(dates) if dates else frame


def _problems(
    extract: Extract, contract: Contract, results: Any, *, skip_references: bool
) -> list[Problem]:
    reference_ids = {r.id for r in contract.rules if isinstance(r, ReferenceRule)}
    # Cells the reader could not parse are blank here, and already reported.
    unreadable = {
        name: set(extract.frame.loc[mask.to_numpy(), ROW].astype(int))
        for name, mask in extract.invalid.items()
        if mask.any()
    }
    problems = []
    for result in results.results:
        if result.success:
            continue
        config = result.expectation_config
        meta = config.meta or {}
        rule = meta.get("rule", config.type)
        if skip_references and rule in reference_ids:
            continue
        if meta.get("column") in extract.absent:
            continue  # the missing column is already reported, once
        info = result.exception_info or {}
        if info.get("raised_exception"):
            # A suite that cannot run is a fault in code or configuration.
            raise RuntimeError(
                f"{extract.file}: expectation for rule {rule} failed to run: "
                f"{info.get('exception_message')}"
            )
        problem = _problem(extract, contract, meta, rule, result.result, unreadable)
        if problem is not None:
            problems.append(problem)
    return problems


def _problem(
    extract: Extract,
    contract: Contract,
    meta: dict[str, Any],
    rule: str,
    result: dict[str, Any],
    unreadable: Mapping[str, set[int]],
) -> Problem | None:
    column = meta.get("column")
    severity = Severity(meta.get("severity", "error"))
    message = str(meta.get("message", rule))
    indexed = result.get("unexpected_index_list") or []
    failing = {int(item[ROW]) for item in indexed if isinstance(item, dict)}
    if failing and isinstance(column, str) and column in unreadable:
        failing -= unreadable[column]
        if not failing:
            return None
    rows = tuple(sorted(failing))
    examples: tuple[str, ...] = ()
    identifier = column in contract.columns and contract.columns[column].identifier
    if column and not identifier and rule not in ("required", "must_be_blank"):
        values = [str(v) for v in result.get("partial_unexpected_list") or [] if v is not None]
        examples = tuple(dict.fromkeys(values))[:EXAMPLES]
    if "observed_value" in result and not rows:
        message += f" (observed {result['observed_value']})"
    return Problem(
        extract.file,
        rule,
        severity,
        message,
        column=column,
        rows=rows,
        cin_rule=meta.get("cin_rule"),
        examples=examples,
    )


def validate(
    extract: Extract, *, references: Mapping[str, pd.DataFrame] | None = None
) -> list[Problem]:
    """Every problem of a read extract (checking only; nothing is kept, GX's results included)."""
    return check(extract, references=references).problems


def build_data_docs(gx_dir: Path) -> Path:
    """Render GX Data Docs for every kept validation result; return the index page.

    Only results without a page yet are rendered (with the suites' pages and
    the index): a result's page never changes, and rendering them all again
    took longer with every month kept (3 s for 40 results).
    """
    context = _context(gx_dir)
    site = gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    unrendered = [
        key
        for key in context.validation_results_store.list_keys()
        if not _page(site, key.to_tuple()).exists()
    ]
    # Never an empty list, which GX takes for "everything".
    suites = context.expectations_store.list_keys()
    context.build_data_docs(resource_identifiers=[*suites, *unrendered])
    return site / "index.html"


def _page(site: Path, key: tuple[str, ...]) -> Path:
    """Where GX's site puts the page of the validation result ``key``."""
    *folders, name = key
    return site.joinpath("validations", *folders, f"{name}.html")
