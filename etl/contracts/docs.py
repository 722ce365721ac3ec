"""Render the extract contracts as the users' documentation page.

``docs/extracts.md`` is this module's output, committed; a test regenerates
it and fails when the two differ, so the page cannot drift from the code.
Regenerate with ``csc-pipeline contract-docs --out docs/extracts.md``.
"""

from __future__ import annotations

from etl.contracts import Column, ColumnType, Contract, all_contracts
from etl.contracts.model import CompareRule, Rule

_HEADER = """\
# Extract contracts

<!-- Generated from etl/contracts/*.yml by `csc-pipeline contract-docs`. Do not edit. -->

Every month a local authority lands three files in the landing folder, named
`{dataset}_{la_code}_{YYYY-MM}.csv` (or `.xlsx`), e.g. `referrals_330_2025-03.csv`.
This page lists, for each file, every column the pipeline reads, its type, when
it is required, its codes, and every rule it is checked against. An **error**
rejects the whole file (nothing of it is loaded; the file goes to quarantine with
a data-quality report); a **warning** is reported in the pack's data-quality
appendix and the file still loads.

Accepted everywhere: UTF-8 with or without BOM (Windows-1252 with a warning);
the first sheet of an XLSX; header names in any case and order, surrounding
spaces ignored; unknown columns dropped with a warning; blank rows ignored;
dates as `YYYY-MM-DD` or `DD/MM/YYYY`; booleans as `0/1`, `Y/N`, `Yes/No`,
`True/False` (any case); integers as `12` or `12.0`; code cells as the bare code
or the code followed by `:` or ` - ` and a label. A zero-byte file, or one with
no header, is rejected; a header-only file is a valid month with no rows.

Columns marked *pseudonymised* are replaced on the way in by a keyed
HMAC-SHA256 of their value; the raw value never reaches the warehouse, a log,
a report or an e-mail.
"""


def render_markdown(contracts: list[Contract] | None = None) -> str:
    sections = [_HEADER]
    for contract in contracts or all_contracts():
        sections.append(_section(contract))
    return "\n".join(sections).rstrip() + "\n"


def _section(contract: Contract) -> str:
    lines = [
        f"## {contract.dataset} — {contract.grain}",
        "",
        f"Codes follow the {contract.codes_from}.",
        "",
        "| column | type | required | notes |",
        "|---|---|---|---|",
    ]
    for column in contract.columns.values():
        lines.append(
            f"| `{column.name}` | {_type(column)} | {_required(column)} | {_notes(column)} |"
        )
    coded = [c for c in contract.columns.values() if c.codes]
    for column in coded:
        lines += ["", f"**`{column.name}` codes**", ""]
        lines += [f"- `{code}` {label}" for code, label in (column.codes or {}).items()]
    lines += [
        "",
        f"**Rules of the {contract.dataset} file**",
        "",
        "| rule | severity | checks |",
        "|---|---|---|",
    ]
    for rule in contract.rules:
        cin = f" (CIN rule {rule.cin_rule})" if rule.cin_rule else ""
        lines.append(f"| `{rule.id}` | {rule.severity.value} | {_rule_text(rule)}{cin} |")
    lines.append("")
    return "\n".join(lines)


def _type(column: Column) -> str:
    text = {
        ColumnType.TEXT: "text",
        ColumnType.DATE: "date",
        ColumnType.BOOL: "yes/no",
        ColumnType.INT: "whole number",
        ColumnType.DECIMAL: "number",
        ColumnType.CODE: "code",
    }[column.type]
    bounds = []
    if column.min is not None:
        bounds.append(f"{'>' if column.min_exclusive else '≥'} {column.min:g}")
    if column.max is not None:
        bounds.append(f"≤ {column.max:g}")
    if bounds:
        text += ", " + " and ".join(bounds)
    if column.max_length:
        text += f", at most {column.max_length} characters"
    if column.pattern:
        text += f", pattern `{column.pattern}`"
    return text


def _required(column: Column) -> str:
    if column.required:
        return "yes"
    if column.required_when:
        return "when " + _condition(column.required_when)
    return "no"


def _notes(column: Column) -> str:
    notes = [column.description] if column.description else []
    if column.blank_when:
        notes.append("Blank when " + _condition(column.blank_when) + ".")
    if column.identifier:
        notes.append("*Pseudonymised.*")
    if column.coarsen == "month":
        notes.append("*Coarsened to the first of its month.*")
    if column.cin_rule:
        notes.append(f"CIN rule {column.cin_rule}.")
    return " ".join(notes)


def _condition(condition: dict[str, list[str | int | bool]]) -> str:
    def show(v: str | int | bool) -> str:
        return str(v).lower() if isinstance(v, bool) else f"`{v}`"

    return " and ".join(
        f"`{name}` is {' or '.join(show(v) for v in values)}" for name, values in condition.items()
    )


def _rule_text(rule: Rule) -> str:
    if isinstance(rule, CompareRule):
        other = (
            rule.other.lstrip("@").replace("_", " ")
            if rule.other.startswith("@")
            else (f"`{rule.other}`")
        )
        text = f"`{rule.column}` {rule.op} {other}: {rule.message}"
    else:
        text = f"`{rule.column}`: {rule.message}"
    if rule.where:
        text += " (only where " + _condition(rule.where) + ")"
    return text
