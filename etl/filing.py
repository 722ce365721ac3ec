"""Where landed files go after ingestion: archive or quarantine, never deleted.

An accepted file moves to the archive; a rejected one to quarantine, with a
data-quality report beside it (Markdown for people, JSON for machines) that
names every rule, column, row number and count, and never a raw identifier.
These two folders are the only places raw identifiers may remain.

Filing is whole or not at all: a copy is complete before the original goes,
and a copy or report that fails half-way (a full or read-only disk) is
removed, so the file is where it was and nothing partial is left.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from etl.problems import Problem, format_rows

UNPARSED = "unparsed"

log = logging.getLogger(__name__)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def destination(
    root: Path, path: Path, la_code: str | None, month: str | None, when: datetime
) -> Path:
    """A unique place under ``root``: ``{la}/{YYYY-MM}/{timestamp}_{name}``."""
    folder = root / (la_code or UNPARSED) / (month or "")
    stamp = when.strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{stamp}_{path.name}"
    counter = 1
    while target.exists():  # two moves in the same microsecond: keep both
        target = folder / f"{stamp}-{counter}_{path.name}"
        counter += 1
    return target


def place(path: Path, target: Path) -> Path:
    """A complete copy of ``path`` at ``target`` (the original stays), or nothing.

    A hard link when both are on one file system (instant, no space used),
    else a copy written beside ``target`` and renamed into place once
    complete.  Raises :class:`OSError` after removing whatever it made.
    """
    made = _make_folder(target.parent)
    try:
        try:
            os.link(path, target)
            return target
        except OSError:
            pass  # another file system (or one without links): copy instead
        partial = target.with_name(target.name + ".part")
        try:
            with path.open("rb") as source, partial.open("xb") as copy:
                shutil.copyfileobj(source, copy, 1 << 20)
                copy.flush()
                os.fsync(copy.fileno())
            shutil.copystat(path, partial)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    except BaseException:
        _remove_folders(made)
        raise
    return target


def move(path: Path, target: Path) -> Path:
    """Move ``path`` to ``target`` whole or not at all (raises :class:`OSError`)."""
    place(path, target)
    try:
        path.unlink()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def remove(path: Path) -> None:
    """Remove a placed copy again (a load that failed after the file was archived)."""
    path.unlink(missing_ok=True)


def let_go(path: Path) -> None:
    """Remove the original of a file already archived and loaded.

    It cannot fail the load that has happened: a file left behind is only
    logged (ingesting it again finds it unchanged).
    """
    try:
        path.unlink()
    except OSError as exc:
        log.warning("%s is archived and loaded but could not be removed: %s", path, exc)


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
    return missing


def _remove_folders(folders: Sequence[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


def write_report(
    target: Path,
    *,
    original: Path,
    sha256: str,
    rows: int,
    problems: Sequence[Problem],
    when: datetime,
) -> tuple[Path, Path]:
    """Write ``<target>.report.md`` and ``.report.json`` beside a quarantined file."""
    errors = [p for p in problems if p.is_error]
    warnings = [p for p in problems if not p.is_error]
    lines = [
        f"# Data-quality report: {original.name}",
        "",
        f"- Decision: **rejected** ({len(errors)} errors, {len(warnings)} warnings); "
        "nothing from this file was loaded, and earlier data is unchanged.",
        f"- Checked: {when.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Rows read: {rows}",
        f"- SHA-256: `{sha256}`",
        f"- Quarantined as: `{target.name}`",
        "",
        "Row numbers count the header as row 1, as a spreadsheet shows them.",
        "",
        "| severity | rule | column | rows | count | what is wrong |",
        "|---|---|---|---|---|---|",
    ]
    for p in [*errors, *warnings]:
        rule = p.rule + (f" (CIN {p.cin_rule})" if p.cin_rule else "")
        rows_text = format_rows(p.rows, p.count) if p.rows else "whole file"
        message = p.message + (f" (e.g. {', '.join(p.examples)})" if p.examples else "")
        lines.append(
            f"| {p.severity.value} | {rule} | {p.column or ''} | {rows_text} | {p.count} "
            f"| {_cell(message)} |"
        )
    lines += ["", "Correct the file and land it again with the same name.", ""]
    markdown = target.with_name(target.name + ".report.md")
    record = {
        "file": original.name,
        "decision": "rejected",
        "checked_at": when.astimezone(UTC).isoformat(),
        "sha256": sha256,
        "rows": rows,
        "problems": [p.to_record() for p in problems],
    }
    machine = target.with_name(target.name + ".report.json")
    made = _make_folder(target.parent)
    try:
        _write_whole(markdown, "\n".join(lines))
        _write_whole(machine, json.dumps(record, indent=2))
    except BaseException:
        markdown.unlink(missing_ok=True)
        _remove_folders(made)
        raise
    return markdown, machine


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that it is there whole or not at all."""
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
