"""Validate a read extract with its Great Expectations suite.

The path of every file: derive the checks that need raw values or other
data, pseudonymise, run the committed GX suite on the typed frame (one run
for a batch of files of one dataset), and turn each failed expectation into a
:class:`Problem` (file, rule, column, rows) through the rule metadata the
suite carries.  Hard rules make errors, soft rules warnings; nothing here
raises for bad data.
"""

from __future__ import annotations

import atexit
import gc
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

import numpy as np
import pandas as pd

from etl import lazy_modules
from etl.contracts import Contract, Severity
from etl.contracts.model import InMonthRule, MatchesFileRule, ReferenceRule, UniqueRule
from etl.expectations import (
    FILE_COLUMN,
    IN_MONTH_COLUMN,
    MONTH_END_COLUMN,
    MONTH_START_COLUMN,
    VOLUME_DATE,
    VOLUME_RULE,
    VOLUME_WINDOW,
    derived_in_month_column,
    derived_pattern_column,
    derived_reference_column,
    file_part_column,
)
from etl.months import Month, month_range
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
#: Rows of a batch one GX run checks at most.  GX holds several copies of
#: what it checks (a 2-million-row file: 600 MiB more than the file's own
#: frame), so a bigger batch is checked in parts of this size; every rule
#: but uniqueness is a row's own, and uniqueness is checked over the whole
#: batch here (:func:`_duplicated`).
GX_ROWS = 100_000
#: Fewest months of history before the volume check means anything.
VOLUME_MIN_HISTORY = 3
#: How many distinct offending values a problem quotes (never identifiers).
EXAMPLES = 3
VOLUME_MESSAGE = (
    "this month's rows are below half or above double the median of the 12 months before"
)


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


@dataclass(frozen=True)
class ToCheck:
    """One read extract of a batch, with what its cross-file checks need.

    ``references``: the current rows of other datasets, by name, for the
    cross-file rules (unchecked without them); ``volumes``: the warehouse's
    row counts of the LA's months before, by month, for the volume check.
    """

    extract: Extract
    references: Mapping[str, pd.DataFrame] | None = None
    volumes: Mapping[Month, int] = field(default_factory=dict)


def check(
    extract: Extract,
    *,
    key: bytes | None = None,
    references: Mapping[str, pd.DataFrame] | None = None,
    volume_history: Sequence[int] = (),
    gx_dir: Path | None = None,
) -> Checked:
    """Validate one read extract; the returned frame is safe to store (see :func:`check_batch`).

    ``volume_history``: the row counts of the months before, oldest first.
    """
    volumes: dict[Month, int] = {}
    if extract.name is not None:
        month = extract.name.month
        volumes = {month - (len(volume_history) - i): n for i, n in enumerate(volume_history)}
    item = ToCheck(extract, references, volumes)
    return check_batch([item], key=key, gx_dir=gx_dir)[0]


def check_batch(
    items: Sequence[ToCheck],
    *,
    key: bytes | None = None,
    gx_dir: Path | None = None,
    gx_rows: int = GX_ROWS,
) -> list[Checked]:
    """Validate extracts of one dataset in one GX run; each keeps its own problems and rows.

    A GX run costs about 0.3 s of CPU whatever the rows, so a hub's month of
    153 files is one run, not 153; a batch of more than ``gx_rows`` rows is
    run in parts of that size, to bound GX's memory (:func:`_run_in_parts`).
    Every row carries its file's number, LA code and month bounds, and each
    failure is mapped back to its file and rows through them; the result for
    each extract is what checking it alone gives.  ``key`` is the
    pseudonymisation key (a throw-away one when only checking); ``gx_dir``
    the working GX project that keeps the result (a throw-away copy when
    none is given).
    """
    checked: list[Checked | None] = [None] * len(items)
    runnable: list[int] = []
    for index, item in enumerate(items):
        extract = item.extract
        if extract.name is None or not extract.frame.columns.size:
            checked[index] = Checked(extract, extract.frame, list(extract.problems))
        else:
            runnable.append(index)
    if not runnable:
        return [c for c in checked if c is not None]
    datasets = {items[i].extract.contract.dataset for i in runnable}
    if len(datasets) != 1:
        raise ValueError(f"one GX run checks one dataset, not {sorted(datasets)}")
    contract = items[runnable[0]].extract.contract
    key = key or secrets.token_bytes(32)
    frames = [_prepared(items[i], contract, key, number) for number, i in enumerate(runnable)]
    batch = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    failures = _run_in_parts(contract, batch, gx_dir or _scratch_project(), gx_rows)
    del batch
    # Each file's volume history as loading the batch in order would leave
    # it: an earlier month of the same LA in the batch counts once accepted.
    loaded: dict[str, dict[Month, int]] = {}
    for number, index in enumerate(runnable):
        item, frame = items[index], frames[number]
        found = _problems(
            item.extract,
            contract,
            failures,
            number,
            skip_references=item.references is None,
        )
        name = item.extract.name
        if name is None:  # pragma: no cover - runnable extracts are named
            raise ValueError(f"{item.extract.file}: no parsed name")
        history = {**item.volumes, **loaded.get(name.la_code, {})}
        months = month_range(name.month - VOLUME_WINDOW, VOLUME_WINDOW)
        window = [history[m] for m in months if m in history]
        volume = volume_problem(item.extract, contract, frame, window)
        found += [volume] if volume is not None else []
        problems = [*item.extract.problems, *found]
        if not any(p.is_error for p in problems):
            loaded.setdefault(name.la_code, {})[name.month] = _volume(contract, frame)
        stored = frame.drop(columns=[c for c in frame.columns if _for_checks_only(c)])
        checked[index] = Checked(item.extract, stored, problems, not found)
    return [c for c in checked if c is not None]


def _for_checks_only(column: str) -> bool:
    """A column the validator added for the suite, never stored."""
    return column.startswith(("_check_", "_file")) or column in (
        MONTH_START_COLUMN,
        MONTH_END_COLUMN,
    )


def _prepared(item: ToCheck, contract: Contract, key: bytes, number: int) -> pd.DataFrame:
    """The extract's frame as the suite checks it: derived columns, pseudonymised."""
    extract = item.extract
    if extract.name is None:  # pragma: no cover - callers pass named extracts only
        raise ValueError(f"{extract.file}: no parsed name")
    month = extract.name.month
    frame = _derive_raw_checks(extract.frame, contract, month)
    frame = pseudonymise(frame, contract, key)
    frame = _derive_reference_checks(frame, contract, item.references)
    frame[FILE_COLUMN] = number
    for rule in contract.rules:
        if isinstance(rule, MatchesFileRule):
            frame[file_part_column(rule.part)] = getattr(extract.name, rule.part)
    frame[MONTH_START_COLUMN] = pd.Timestamp(month.start)
    frame[MONTH_END_COLUMN] = pd.Timestamp(month.end)
    return frame


def _derive_raw_checks(frame: pd.DataFrame, contract: Contract, month: Month) -> pd.DataFrame:
    """Columns the suite checks that must be computed before pseudonymising."""
    out = frame.copy(deep=False)  # new columns only; the caller's frame is untouched
    for column in contract.columns.values():
        if column.identifier and column.pattern:
            values = out[column.name]
            ok = values.str.fullmatch(column.pattern).astype("boolean")
            out[derived_pattern_column(column.name)] = ok.mask(values.isna())
    start, end = pd.Timestamp(month.start), pd.Timestamp(month.end)
    date_column = VOLUME_DATE.get(contract.dataset)
    if date_column:
        dates = out[date_column]
        out[IN_MONTH_COLUMN] = (dates >= start) & (dates <= end)
    for rule in contract.rules:
        if isinstance(rule, InMonthRule):
            dates = out[rule.column]
            inside = ((dates >= start) & (dates <= end)).astype("boolean")
            out[derived_in_month_column(rule.id)] = inside.mask(dates.isna())
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


def prepare_gx(gx_dir: Path | None = None) -> None:
    """Import GX and build the project's context now, e.g. before forking ingest workers,
    which then share them rather than each paying the seconds they cost."""
    _context(gx_dir or _scratch_project())


@cache
def _context(gx_dir: Path) -> Any:
    # Imported here: GX takes seconds to import and only validation needs it.
    lazy_modules.defer()
    import great_expectations as gx
    import tqdm  # type: ignore[import-untyped]

    # GX's progress bars would start tqdm's monitor thread, after which this
    # process could no longer fork ingest workers (etl.workers).
    tqdm.tqdm.monitor_interval = 0

    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    _freeze_imports()
    return context


@cache
def _freeze_imports() -> None:
    # GX's modules are millions of objects that live as long as the process:
    # out of the collector's reach, every later collection (and a forked
    # worker's) skips them; a hub's ingest spent 2 s of CPU on them.  Once a
    # process: each freeze also keeps whatever else is alive then.
    gc.freeze()


def run_suite(dataset: str, frame: pd.DataFrame, gx_dir: Path) -> Any:
    """Run the dataset's committed validation definition on a batch's ``frame``."""
    context = _context(gx_dir)
    definition = context.validation_definitions.get(dataset)
    return definition.run(
        batch_parameters={"dataframe": _for_gx(frame)},
        result_format={
            "result_format": "COMPLETE",
            # Each failing row's file in the batch, and its row in that file.
            "unexpected_index_column_names": [FILE_COLUMN, ROW],
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


@dataclass(frozen=True)
class _Failure:
    """One expectation that failed in a batch run, its failing rows by file number."""

    meta: dict[str, Any]
    rule: str
    rows: dict[int, set[int]]


def _run_in_parts(
    contract: Contract, batch: pd.DataFrame, gx_dir: Path, rows: int
) -> list[_Failure]:
    """The batch's failures, in suite order, from one GX run per ``rows`` rows.

    In parts, a unique rule's failing rows are found over the whole batch
    instead, as GX's compound rule finds them in one run: every row, within
    its own file, whose (non-blank) value another row of the rule's rows has.
    """
    if len(batch) <= rows:
        return list(_failures(run_suite(contract.dataset, batch, gx_dir)).values())
    unique = {rule.id: rule for rule in contract.rules if isinstance(rule, UniqueRule)}
    merged: dict[int, _Failure] = {}
    for start in range(0, len(batch), rows):
        part = run_suite(contract.dataset, batch.iloc[start : start + rows], gx_dir)
        for index, failure in _failures(part).items():
            if failure.rule in unique:
                continue
            known = merged.setdefault(index, _Failure(failure.meta, failure.rule, {}))
            for number, found in failure.rows.items():
                known.rows.setdefault(number, set()).update(found)
    # In the place GX gives the rule's expectation (every run gives the same).
    for index, result in enumerate(part.results):
        meta = dict(result.expectation_config.meta or {})
        rule = unique.get(str(meta.get("rule")))
        if rule is not None and (duplicated := _duplicated(batch, rule)):
            merged[index] = _Failure(meta, rule.id, duplicated)
    return [merged[index] for index in sorted(merged)]


def _duplicated(batch: pd.DataFrame, rule: UniqueRule) -> dict[int, set[int]]:
    """The rows, by file number, whose value of the rule's column another row of the
    same file has (blanks, and rows outside the rule's ``where``, aside)."""
    column = batch[rule.column]
    chosen = column.notna().to_numpy(dtype=bool)
    for name, values in (rule.where or {}).items():
        chosen = chosen & batch[name].isin(values).to_numpy(dtype=bool)
    # By 64-bit hashes, a slice at a time, then exactly among the rows whose
    # hashes meet: a hash table of two million strings would take more
    # memory than checking in parts saves.
    hashes = np.empty(int(chosen.sum()), dtype=np.uint64)
    filled = 0
    for start in range(0, len(column), GX_ROWS):
        part = pd.util.hash_array(column.iloc[start : start + GX_ROWS].to_numpy(dtype=object))
        part = part[chosen[start : start + GX_ROWS]]
        hashes[filled : filled + len(part)] = part
        filled += len(part)
    files = batch[FILE_COLUMN].to_numpy(dtype=np.int64)[chosen]
    if len(files) == 0 or files.min() == files.max():
        order = np.argsort(hashes)
        hashes = hashes[order]  # the sorted copy replaces its source
        meets = hashes[1:] == hashes[:-1]
    else:
        order = np.lexsort((hashes, files))
        hashes, files = hashes[order], files[order]
        meets = (hashes[1:] == hashes[:-1]) & (files[1:] == files[:-1])
    del hashes, files
    candidate = np.zeros(len(order), dtype=bool)
    candidate[1:] |= meets
    candidate[:-1] |= meets
    positions = np.sort(np.flatnonzero(chosen)[order[candidate]])
    rows = batch.iloc[positions][[rule.column, FILE_COLUMN, ROW]]
    shared = rows.loc[rows.duplicated([rule.column, FILE_COLUMN], keep=False).to_numpy()]
    found: dict[int, set[int]] = {}
    for number, row in zip(shared[FILE_COLUMN].tolist(), shared[ROW].tolist(), strict=True):
        found.setdefault(int(number), set()).add(int(row))
    return found


def _failures(results: Any) -> dict[int, _Failure]:
    """The failed expectations of one run, by their place in the suite."""
    failures: dict[int, _Failure] = {}
    for index, result in enumerate(results.results):
        if result.success:
            continue
        config = result.expectation_config
        meta = dict(config.meta or {})
        rule = str(meta.get("rule", config.type))
        info = result.exception_info or {}
        if info.get("raised_exception"):
            # A suite that cannot run is a fault in code or configuration.
            raise RuntimeError(
                f"expectation for rule {rule} failed to run: {info.get('exception_message')}"
            )
        indexed = result.result.get("unexpected_index_list")
        if not indexed:
            # Every expectation of the suites is per row; one that is not
            # could not be attributed to a file of the batch.
            raise RuntimeError(f"expectation for rule {rule} failed without naming its rows")
        rows: dict[int, set[int]] = {}
        for item in indexed:
            rows.setdefault(int(item[FILE_COLUMN]), set()).add(int(item[ROW]))
        failures[index] = _Failure(meta, rule, rows)
    return failures


def _problems(
    extract: Extract,
    contract: Contract,
    failures: Sequence[_Failure],
    number: int,
    *,
    skip_references: bool,
) -> list[Problem]:
    """The problems of file ``number`` of the batch."""
    reference_ids = {r.id for r in contract.rules if isinstance(r, ReferenceRule)}
    # Cells the reader could not parse are blank here, and already reported.
    unreadable = {
        name: set(extract.frame.loc[mask.to_numpy(), ROW].astype(int))
        for name, mask in extract.invalid.items()
        if mask.any()
    }
    problems = []
    for failure in failures:
        failing = failure.rows.get(number)
        if not failing:
            continue
        if skip_references and failure.rule in reference_ids:
            continue
        if failure.meta.get("column") in extract.absent:
            continue  # the missing column is already reported, once
        problem = _problem(extract, contract, failure, failing, unreadable)
        if problem is not None:
            problems.append(problem)
    return problems


def _problem(
    extract: Extract,
    contract: Contract,
    failure: _Failure,
    failing: set[int],
    unreadable: Mapping[str, set[int]],
) -> Problem | None:
    meta, rule = failure.meta, failure.rule
    column = meta.get("column")
    severity = Severity(meta.get("severity", "error"))
    if isinstance(column, str) and column in unreadable:
        failing = failing - unreadable[column]
        if not failing:
            return None
    rows = tuple(sorted(failing))
    examples: tuple[str, ...] = ()
    identifier = column in contract.columns and contract.columns[column].identifier
    if isinstance(column, str) and not identifier and rule not in ("required", "must_be_blank"):
        examples = _examples(extract.frame, column, rows)
    return Problem(
        extract.file,
        rule,
        severity,
        str(meta.get("message", rule)),
        column=column,
        rows=rows,
        cin_rule=meta.get("cin_rule"),
        examples=examples,
    )


def _examples(frame: pd.DataFrame, column: str, rows: Sequence[int]) -> tuple[str, ...]:
    """The first few distinct values of ``column`` on ``rows``, in file order."""
    if column not in frame.columns:
        return ()
    first = frame.loc[frame[ROW].isin(rows[: EXAMPLES * 8]), column].dropna()
    return tuple(dict.fromkeys(str(value) for value in first))[:EXAMPLES]


def _volume(contract: Contract, frame: pd.DataFrame) -> int:
    """The month's own rows of a prepared frame (what the warehouse's volumes count)."""
    return int(frame[IN_MONTH_COLUMN].sum()) if contract.dataset in VOLUME_DATE else len(frame)


def volume_problem(
    extract: Extract, contract: Contract, frame: pd.DataFrame, history: Sequence[int]
) -> Problem | None:
    """The soft volume rule: the month's own rows within half to double the earlier median.

    Checked here, not in the GX suite: it compares one file's count with its
    own LA's history, which a run over many files cannot express per file.
    """
    low, high = volume_bounds(history)
    if low is None or high is None:
        return None
    date_column = VOLUME_DATE.get(contract.dataset)
    observed = _volume(contract, frame)
    if low <= observed <= high:
        return None
    return Problem(
        extract.file,
        VOLUME_RULE,
        Severity.WARNING,
        f"{VOLUME_MESSAGE} (observed {observed})",
        column=date_column,
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
