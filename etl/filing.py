"""Where landed files go after ingestion: archive or quarantine, never deleted.

An accepted file moves to the archive; a rejected one to quarantine, with a
data-quality report beside it (Markdown for people, JSON for machines) that
names every rule, column, row number and count, and never a raw identifier.
These two folders are the only places raw identifiers may remain.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from etl.problems import Problem, format_rows

UNPARSED = "unparsed"


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


def move(path: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(target))
    return target


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
    markdown.write_text("\n".join(lines), encoding="utf-8")
    record = {
        "file": original.name,
        "decision": "rejected",
        "checked_at": when.astimezone(UTC).isoformat(),
        "sha256": sha256,
        "rows": rows,
        "problems": [p.to_record() for p in problems],
    }
    machine = target.with_name(target.name + ".report.json")
    machine.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return markdown, machine


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
