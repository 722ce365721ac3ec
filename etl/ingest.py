"""Ingest landed files: read, validate, pseudonymise, load, and file away.

The one path every landed file takes, whether from ``csc-pipeline ingest``
or from an Airflow task: a file either loads whole (and moves to the
archive) or loads nothing (and moves to quarantine with a data-quality
report).  Data problems are results, not exceptions; only faults in code,
configuration or services raise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from etl import filing
from etl.contracts import DATASETS, Severity
from etl.errors import FilingFailed
from etl.filenames import BadFileName, parse_name
from etl.months import Month
from etl.problems import Problem
from etl.reader import Extract, read_extracts
from etl.validation import Checked, ToCheck, check_batch, prepare_gx
from etl.warehouse import queries
from etl.warehouse.load import (
    LaFile,
    LoadError,
    LoadResult,
    batchable,
    load_month,
    load_months,
)
from etl.workers import forkable, run_split, split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Folders:
    """Where files go after ingestion."""

    archive: Path
    quarantine: Path


@dataclass(frozen=True)
class IngestResult:
    """What became of one landed file."""

    file: str
    #: "loaded", "unchanged" (same file as the month's current load) or "rejected".
    status: str
    dataset: str | None = None
    la_code: str | None = None
    month: Month | None = None
    rows: int = 0
    problems: tuple[Problem, ...] = ()
    moved_to: Path | None = None
    report: Path | None = None
    load_id: str | None = None
    months_recomputed: tuple[Month, ...] = field(default=())
    #: The earliest month whose referrals this load touched (see load_month).
    earliest: Month | None = None

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]


def ingest_order(paths: Iterable[Path]) -> list[Path]:
    """Months in order; within a month workforce, referrals, then closures, each by LA.

    Closures are checked against the referrals already loaded, so a month's
    referrals go first; a dataset's LAs are next to each other, so that they
    are validated together; files whose names do not parse come last.
    """

    def key(path: Path) -> tuple[int, str, int, str, str]:
        try:
            name = parse_name(path)
        except BadFileName:
            return (1, "", 0, "", path.name)
        return (0, str(name.month), DATASETS.index(name.dataset), name.la_code, path.name)

    return sorted(paths, key=key)


@dataclass(frozen=True)
class Accepted:
    """A landed file that passed validation, ready to load (nothing loaded yet).

    Everything but the frame is plain data (:meth:`to_json`), so an Airflow
    task can hand it to the next task beside the staged frame.
    """

    path: Path
    dataset: str
    la_code: str
    month: Month
    sha256: str
    rows_read: int
    warnings: int
    problems: int
    validation_summary: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "dataset": self.dataset,
            "la_code": self.la_code,
            "month": str(self.month),
            "sha256": self.sha256,
            "rows_read": self.rows_read,
            "warnings": self.warnings,
            "problems": self.problems,
            "validation_summary": self.validation_summary,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Accepted:
        return cls(
            path=Path(data["path"]),
            dataset=data["dataset"],
            la_code=data["la_code"],
            month=Month.parse(data["month"]),
            sha256=data["sha256"],
            rows_read=int(data["rows_read"]),
            warnings=int(data["warnings"]),
            problems=int(data["problems"]),
            validation_summary=dict(data["validation_summary"]),
        )


def ingest_file(
    path: Path,
    *,
    engine: Engine,
    key: bytes,
    folders: Folders,
    loaded_by: str,
    gx_dir: Path | None = None,
    force: bool = False,
) -> IngestResult:
    """Validate and load one landed file, then archive or quarantine it."""
    outcome = validate_landed(path, engine=engine, key=key, folders=folders, gx_dir=gx_dir)
    return _finish(outcome, engine=engine, folders=folders, loaded_by=loaded_by, force=force)


def _finish(
    outcome: tuple[Accepted, Checked] | IngestResult,
    *,
    engine: Engine,
    folders: Folders,
    loaded_by: str,
    force: bool,
) -> IngestResult:
    """A validated file's result: a rejection as it is, an accepted file loaded."""
    if isinstance(outcome, IngestResult):
        return outcome
    accepted, checked = outcome
    result = load_accepted(
        accepted,
        checked.frame,
        engine=engine,
        folders=folders,
        loaded_by=loaded_by,
        force=force,
    )
    return replace(result, problems=tuple(checked.problems))


def _finish_all(
    outcomes: Sequence[tuple[Accepted, Checked] | IngestResult],
    *,
    engine: Engine,
    folders: Folders,
    loaded_by: str,
    force: bool,
) -> list[IngestResult]:
    """:func:`_finish` of a batch's outcomes: its accepted files (one dataset and
    month, many LAs) loaded together by :func:`load_accepted_many`."""
    accepted = [o for o in outcomes if not isinstance(o, IngestResult)]
    loaded = iter(
        load_accepted_many(
            [(a, checked.frame) for a, checked in accepted],
            engine=engine,
            folders=folders,
            loaded_by=loaded_by,
            force=force,
        )
    )
    return [
        o if isinstance(o, IngestResult) else replace(next(loaded), problems=tuple(o[1].problems))
        for o in outcomes
    ]


def load_accepted_many(
    files: Sequence[tuple[Accepted, pd.DataFrame]],
    *,
    engine: Engine,
    folders: Folders,
    loaded_by: str,
    force: bool = False,
    recompute: bool = True,
    committed: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """:func:`load_accepted` of validated files (each with its frame) of one dataset
    and month, in one transaction (:func:`etl.warehouse.load.load_months`)
    where they allow it: two or more, one per LA, not too many rows.

    Each file still loads whole or not at all: a file that cannot be loaded
    (:class:`LoadError`) stops the whole batch, and the files are then loaded
    one by one, so that only that file fails, as alone it would.
    ``committed`` is called with each file's result once its load has
    committed, before a later file's load can fail.
    """

    def done(result: IngestResult) -> IngestResult:
        if committed is not None:
            committed(result)
        return result

    def one_by_one() -> list[IngestResult]:
        return [
            done(
                load_accepted(
                    a,
                    frame,
                    engine=engine,
                    folders=folders,
                    loaded_by=loaded_by,
                    force=force,
                    recompute=recompute,
                )
            )
            for a, frame in files
        ]

    batch = [
        LaFile(
            la_code=a.la_code,
            frame=frame,
            file_name=a.path.name,
            file_sha256=a.sha256,
            rows_read=a.rows_read,
            warnings=a.warnings,
            validation_summary=a.validation_summary,
        )
        for a, frame in files
    ]
    keys = {(a.dataset, a.month) for a, _frame in files}
    if len(files) < 2 or len(keys) != 1 or not batchable(batch):
        return one_by_one()
    ((dataset, month),) = keys
    when = datetime.now(UTC)
    targets: list[Path] = []
    try:
        for a, _frame in files:
            targets.append(_archive(a, folders, when))
        results = load_months(
            engine,
            dataset=dataset,
            month=month,
            files=batch,
            loaded_by=loaded_by,
            force=force,
            recompute=recompute,
        )
    except LoadError as exc:
        for target in targets:
            filing.remove(target)
        log.warning("%s; loading the %d files one by one", exc, len(files))
        return one_by_one()
    except BaseException:
        for target in targets:
            filing.remove(target)
        raise
    return [
        done(_loaded(a, target, result))
        for (a, _frame), target, result in zip(files, targets, results, strict=True)
    ]


def validate_landed(
    path: Path,
    *,
    engine: Engine,
    key: bytes,
    folders: Folders,
    gx_dir: Path | None = None,
) -> tuple[Accepted, Checked] | IngestResult:
    """Check one landed file against its contract and the warehouse (see :func:`validate_many`)."""
    (outcome,) = validate_many([path], engine=engine, key=key, folders=folders, gx_dir=gx_dir)
    return outcome


def validate_many(
    paths: Sequence[Path],
    *,
    engine: Engine,
    key: bytes,
    folders: Folders,
    gx_dir: Path | None = None,
) -> list[tuple[Accepted, Checked] | IngestResult]:
    """Check landed files against their contracts and the warehouse, in one GX run per dataset.

    Each file is checked as if alone: its references and volume history are
    read from the warehouse as it stands, so files that depend on each other
    (a month's closures on its referrals) belong in separate calls, in
    :func:`ingest_order`.  A rejected file is quarantined with its report and
    comes back as a "rejected" :class:`IngestResult`; an accepted one stays
    where it is.
    """
    when = datetime.now(UTC)
    paths = [Path(path) for path in paths]
    sha256s = [filing.sha256_of(path) if path.exists() else "" for path in paths]
    items = _to_checks(read_extracts(paths), engine)
    checked: list[Checked | None] = [None] * len(items)
    by_dataset: dict[str | None, list[int]] = {}
    for index, item in enumerate(items):
        name = item.extract.name
        by_dataset.setdefault(name.dataset if name else None, []).append(index)
    for indexes in by_dataset.values():
        batch = check_batch([items[i] for i in indexes], key=key, gx_dir=gx_dir)
        for index, result in zip(indexes, batch, strict=True):
            checked[index] = result
    outcomes: list[tuple[Accepted, Checked] | IngestResult] = []
    for item, done, sha256 in zip(items, checked, sha256s, strict=True):
        if done is None:  # pragma: no cover - every index is in one batch
            raise RuntimeError(f"{item.extract.file}: not checked")
        outcomes.append(_outcome(item.extract.path, done, folders, sha256, when))
    return outcomes


def _to_checks(extracts: Sequence[Extract], engine: Engine) -> list[ToCheck]:
    """The extracts with what their cross-file rules need from the warehouse."""
    # Only the referrals a closures file names: the rest cannot change its
    # checks (an LA's files of several months share one look-up).
    named: dict[str, set[str]] = {}
    for extract in extracts:
        if extract.name is not None and extract.name.dataset == "closures":
            ids = extract.frame.get("referral_id", pd.Series(dtype="str")).dropna()
            named.setdefault(extract.name.la_code, set()).update(ids)
    items = []
    with engine.connect() as connection:
        current = queries.current_referrals_of(connection, named) if named else {}
        for extract in extracts:
            name = extract.name
            if name is None:
                items.append(ToCheck(extract))
                continue
            references = {"referrals": current[name.la_code]} if name.la_code in current else None
            history = queries.monthly_volumes(connection, name.dataset, name.la_code, name.month)
            items.append(
                ToCheck(extract, references if name.dataset == "closures" else None, history)
            )
    return items


def _outcome(
    path: Path, checked: Checked, folders: Folders, sha256: str, when: datetime
) -> tuple[Accepted, Checked] | IngestResult:
    if checked.rejected:
        return _quarantine(path, checked, folders, sha256, when)
    extract, name = checked.extract, checked.extract.name
    if name is None:  # pragma: no cover - a file without a name is always rejected
        raise RuntimeError(f"{path.name}: accepted without a parsed name")
    accepted = Accepted(
        path=path,
        dataset=name.dataset,
        la_code=name.la_code,
        month=name.month,
        sha256=sha256,
        rows_read=extract.rows,
        warnings=sum(p.count for p in checked.problems if not p.is_error),
        problems=len(checked.problems),
        validation_summary=checked.summary(),
    )
    return accepted, checked


def load_accepted(
    accepted: Accepted,
    frame: pd.DataFrame,
    *,
    engine: Engine,
    folders: Folders,
    loaded_by: str,
    force: bool = False,
    recompute: bool = True,
) -> IngestResult:
    """Load a validated file's frame, then move the file to the archive.

    ``recompute=False`` leaves the measures to the caller
    (:func:`etl.warehouse.load.recompute_after_load`), as the Airflow DAG does
    in a task of its own.
    """
    when = datetime.now(UTC)
    path = accepted.path
    target = _archive(accepted, folders, when)
    try:
        result = load_month(
            engine,
            dataset=accepted.dataset,
            la_code=accepted.la_code,
            month=accepted.month,
            frame=frame,
            file_name=path.name,
            file_sha256=accepted.sha256,
            rows_read=accepted.rows_read,
            warnings=accepted.warnings,
            validation_summary=accepted.validation_summary,
            loaded_by=loaded_by,
            force=force,
            recompute=recompute,
        )
    except BaseException:
        filing.remove(target)
        raise
    return _loaded(accepted, target, result)


def _archive(accepted: Accepted, folders: Folders, when: datetime) -> Path:
    """A copy of the file in the archive, made before its load commits: a disk that
    cannot take it stops the load with the warehouse unchanged and the file where it was."""
    path = accepted.path
    target = filing.destination(folders.archive, path, accepted.la_code, str(accepted.month), when)
    try:
        return filing.place(path, target)
    except OSError as exc:
        raise _not_filed("archive", path, folders.archive, exc) from None


def _loaded(accepted: Accepted, target: Path, result: LoadResult) -> IngestResult:
    """A committed load's result: the original let go, the load logged."""
    filing.let_go(accepted.path)
    log.info(
        "%s %s: %s rows read, %s loaded, %s warning(s) (load %s)",
        result.status,
        accepted.path.name,
        accepted.rows_read,
        result.rows_loaded,
        accepted.warnings,
        result.load_id,
    )
    return IngestResult(
        accepted.path.name,
        result.status,
        accepted.dataset,
        accepted.la_code,
        accepted.month,
        accepted.rows_read,
        (),
        target,
        None,
        result.load_id,
        tuple(result.months_recomputed),
        result.earliest,
    )


def _quarantine(
    path: Path, checked: Checked, folders: Folders, sha256: str, when: datetime
) -> IngestResult:
    name = checked.extract.name
    la_code, month = (name.la_code, str(name.month)) if name else (None, None)
    target = filing.destination(folders.quarantine, path, la_code, month, when)
    try:
        report, machine = filing.write_report(
            target,
            original=path,
            sha256=sha256,
            rows=checked.extract.rows,
            problems=checked.problems,
            when=when,
        )
        try:
            if path.exists():
                filing.move(path, target)
        except BaseException:
            report.unlink(missing_ok=True)
            machine.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise _not_filed("quarantine", path, folders.quarantine, exc) from None
    errors = [p for p in checked.problems if p.is_error]
    # The data engineers' alert until the orchestration sends e-mail: one
    # clear line (rules and counts, never values) and the report's path.
    log.error(
        "REJECTED %s: %d error(s) (%s); nothing loaded; quarantined with report %s",
        path.name,
        len(errors),
        "; ".join(f"{p.rule} in {p.column or 'file'} x{p.count}" for p in errors[:5]),
        report,
    )
    return IngestResult(
        path.name,
        "rejected",
        name.dataset if name else None,
        la_code,
        name.month if name else None,
        checked.extract.rows,
        tuple(checked.problems),
        target,
        report,
    )


def _not_filed(action: str, path: Path, folder: Path, exc: OSError) -> FilingFailed:
    """The one sentence for a file that could not be archived or quarantined."""
    reason = exc.strerror or type(exc).__name__
    return FilingFailed(
        f"cannot {action} {path.name} into {folder} (CSC_VAR_DIR): {reason}; nothing was "
        f"loaded and the file is still in {path.parent}"
    )


def ingest_files(
    paths: Sequence[Path],
    *,
    engine: Engine,
    key: bytes,
    folders: Folders,
    loaded_by: str,
    gx_dir: Path | None = None,
    force: bool = False,
    finished: Callable[[IngestResult], None] | None = None,
    workers: int = 1,
) -> list[IngestResult]:
    """Ingest several files in a safe order (see :func:`ingest_order`).

    The files of one dataset and month (a hub's LAs) are validated together,
    in one GX run (in parts when it is big), and then loaded one by one, each whole or not at all; a
    month's closures are validated only after its referrals are loaded.
    ``finished`` is called with each file's result as it comes (progress).

    ``workers`` > 1 splits the LAs over that many processes (PostgreSQL only:
    SQLite takes one writer at a time), each ingesting its LAs' files in the
    same order; the results, and the warehouse, are what one process gives.
    """
    # Each file with its place in the order, which the results keep.
    ordered = list(enumerate(ingest_order(paths)))
    groups = [ordered]
    if workers > 1 and engine.dialect.name == "postgresql":
        groups = split(
            ordered, workers, key=lambda item: _la_of(item[1]), weight=lambda i: _size_of(i[1])
        )
        if len(groups) > 1 and not forkable():
            log.info("ingesting in one process: this process runs other threads")
            groups = [ordered]
    if len(groups) > 1:
        log.info("ingesting %d files in %d processes, each LA in one", len(ordered), len(groups))
    results: list[IngestResult | None] = [None] * len(ordered)

    def work(
        group: Sequence[tuple[int, Path]], emit: Callable[[tuple[int, IngestResult]], None]
    ) -> None:
        for batch in _batches(group):
            outcomes = validate_many(
                [path for _number, path in batch],
                engine=engine,
                key=key,
                folders=folders,
                gx_dir=gx_dir,
            )
            finished_batch = _finish_all(
                outcomes, engine=engine, folders=folders, loaded_by=loaded_by, force=force
            )
            for (number, _path), result in zip(batch, finished_batch, strict=True):
                emit((number, result))

    def done(_group: int, numbered: tuple[int, IngestResult]) -> None:
        number, result = numbered
        results[number] = result
        if finished is not None:
            finished(result)

    if len(groups) == 1:
        work(ordered, lambda numbered: done(0, numbered))
    else:
        # Imported once, here: the forked workers share it (about 2.5 s of
        # CPU each otherwise, on cores the load needs).
        prepare_gx(gx_dir)
        # A child must not use the pooled connections it inherits.
        run_split(groups, work, finished=done, in_child=lambda: engine.dispose(close=False))
    return [result for result in results if result is not None]


def _la_of(path: Path) -> str:
    """The LA a file is for ("" when its name does not say)."""
    try:
        return parse_name(path).la_code
    except BadFileName:
        return ""


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _batches(ordered: Sequence[tuple[int, Path]]) -> Iterator[list[tuple[int, Path]]]:
    """Runs of files of one month and dataset (any LAs); a file whose name does not parse alone."""
    group: list[tuple[int, Path]] = []
    group_key: tuple[str, str] | None = None
    for item in ordered:
        try:
            name = parse_name(item[1])
            key: tuple[str, str] | None = (str(name.month), name.dataset)
        except BadFileName:
            key = None
        if group and (key is None or key != group_key):
            yield group
            group = []
        group.append(item)
        group_key = key
    if group:
        yield group
