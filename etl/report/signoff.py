"""What an approver reads before signing off a pack: its headline figures, data quality, a link.

The text is the body of the Airflow sign-off request (Markdown, shown in
Airflow's "Required actions"); it carries figures as the pack prints them,
file names, rules, columns and counts, never a value from a file.
"""

from __future__ import annotations

from pathlib import Path

from etl.contracts import DATASETS
from etl.report.content import PackData
from etl.report.view import View

#: The options of a sign-off request, as Airflow's ApprovalOperator names them.
APPROVE = "Approve"
REJECT = "Reject"


def review_subject(view: View, audience_title: str) -> str:
    """The request's one-line subject."""
    return f"Sign off the {view.month_name} pack for {view.council}: {audience_title}"


def review_body(view: View, data: PackData, archived: Path) -> str:
    """The request's body: headline figures, each dataset's load and warnings, the pack's link."""
    lines = [
        f"**{view.council} (LA {view.la_code}), {view.month_name}**: {view.plan_name}, "
        f"{view.plan_month}.",
        "",
        "Headline figures, as the pack shows them:",
        "",
        "| measure | figure | against the plan | target |",
        "|---|---|---|---|",
        *(
            f"| {_cell(t.label)} | {_cell(t.figure.long)} | {_cell(t.status)} | {_cell(t.target)} |"
            for t in view.tiles
        ),
        "",
        "Data quality of the month's files:",
        "",
        *_quality(data),
        "",
        f"The pack as archived: [{archived.name}]({archived.resolve().as_uri()}) (`{archived}`).",
        "",
        "Approve to send it; Reject (with a comment for the data engineers) sends nothing.",
    ]
    return "\n".join(lines)


def _quality(data: PackData) -> list[str]:
    current = [r for r in data.loads if r.current and r.month == data.month]
    lines = []
    for record in sorted(current, key=lambda r: r.dataset):
        lines.append(
            f"- {record.dataset}: {record.file_name}, {record.rows_loaded:,} rows loaded"
            f"{' (a resubmission)' if record.resubmission else ''}, "
            f"{record.warnings:,} warning{'s' if record.warnings != 1 else ''}"
        )
        lines += [
            f"  - {rule.rule}{f' ({rule.column})' if rule.column else ''}: "
            f"{rule.count:,} row{'s' if rule.count != 1 else ''}"
            for rule in record.warning_rules
        ]
    loaded = {r.dataset for r in current}
    missing = [d for d in DATASETS if d not in loaded]
    if missing:
        lines.append(f"- no {', '.join(missing)} file loaded: its measures show as not available")
    return lines


def _cell(text: str) -> str:
    """A Markdown table cell: a pipe in a label must not split the row."""
    return text.replace("|", "\\|").replace("\n", " ")
