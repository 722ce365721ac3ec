"""The pack's data-quality appendix: which files the figures come from.

For the pack's month: every file loaded (the current one and any it
replaced), when, its rows and the soft rules it broke.  For the months before
that the measures' windows read (12): the resubmissions, since a corrected
earlier file changes this month's re-referral, turnover and capacity figures.
Rules and counts only, never a value from a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl.report.content import LoadRecord, PackData
from etl.report.figures import Shown, count, day, moment, month_name


@dataclass(frozen=True)
class FileRow:
    dataset: str
    month: str
    file_name: str
    loaded_at: str
    rows_read: Shown
    rows_loaded: Shown
    warnings: Shown
    status: str
    #: "rule (column): message — N rows", one per soft rule broken.
    warning_lines: tuple[str, ...]


@dataclass(frozen=True)
class Appendix:
    month_name: str
    files: tuple[FileRow, ...]
    resubmissions: tuple[FileRow, ...]
    months_checked: str


def build(data: PackData, *, suppress: bool) -> Appendix:
    """The appendix of ``data``'s pack for an audience."""
    own = [r for r in data.loads if r.month == data.month]
    earlier = [r for r in data.loads if r.month != data.month]
    first = data.month - 12
    return Appendix(
        month_name=month_name(data.month),
        files=tuple(_row(r, suppress) for r in own),
        resubmissions=tuple(_row(r, suppress) for r in earlier),
        months_checked=f"{month_name(first)} to {month_name(data.month - 1)}",
    )


def _row(record: LoadRecord, suppress: bool) -> FileRow:
    return FileRow(
        dataset=record.dataset,
        month=month_name(record.month),
        file_name=record.file_name,
        loaded_at=moment(record.loaded_at),
        rows_read=count(record.rows_read, suppress=suppress),
        rows_loaded=count(record.rows_loaded, suppress=suppress),
        warnings=count(record.warnings, suppress=suppress),
        status=_status(record),
        warning_lines=tuple(
            f"{rule.rule}{f' ({rule.column})' if rule.column else ''}: {rule.message} — "
            f"{count(rule.count, suppress=suppress).text} "
            f"{'row' if rule.count == 1 and not suppress else 'rows'}"
            for rule in record.warning_rules
        ),
    )


def _status(record: LoadRecord) -> str:
    if not record.current:
        replaced = day(record.replaced_at) if record.replaced_at else "a later load"
        return f"replaced by a resubmission loaded {replaced}"
    if record.resubmission:
        return "current (a resubmission)"
    return "current"
