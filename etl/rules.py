"""Check a typed extract against its contract's rules.

The contract declares its rules as data; this module holds one check per
rule *kind* in a named registry (no if-chains, no ``globals()`` lookups).
Each check returns the mask of failing rows, turned into a Problem here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import pandas as pd

from etl.contracts import Column, Condition, Severity
from etl.contracts.model import (
    AllowedRule,
    CompareRule,
    InMonthRule,
    MatchesFileRule,
    ReferenceRule,
    RequiresRule,
    Rule,
    UniqueRule,
)
from etl.filenames import ExtractName
from etl.problems import Problem
from etl.reader import ROW, Extract


@dataclass(frozen=True)
class Context:
    """What a check may look at besides the rows themselves."""

    name: ExtractName
    #: Current rows of other datasets already in the warehouse, by dataset
    #: name; a reference rule is checked only when its dataset is given.
    references: Mapping[str, pd.DataFrame] | None = None


def check_rules(
    extract: Extract, *, references: Mapping[str, pd.DataFrame] | None = None
) -> list[Problem]:
    """Problems from the required/blank conditions and every contract rule."""
    if extract.name is None or not extract.frame.columns.size:
        return []
    contract = extract.contract
    context = Context(extract.name, references)
    frame = extract.frame
    problems: list[Problem] = []
    for column in contract.columns.values():
        problems.extend(_presence(extract, column))
    for rule in contract.rules:
        if isinstance(rule, ReferenceRule) and not (references and rule.dataset in references):
            continue
        failing = _CHECKS[rule.kind](frame, rule, context)
        if rule.where:
            failing = failing & matches(frame, rule.where)
        problems.extend(
            _problem(
                extract, rule.id, rule.severity, rule.message, rule.column, failing, rule.cin_rule
            )
        )
    return problems


def matches(frame: pd.DataFrame, condition: Condition) -> pd.Series:
    """Rows where every column of the condition takes one of its values."""
    mask = pd.Series(True, index=frame.index)
    for name, values in condition.items():
        mask &= frame[name].isin(values).fillna(False).astype(bool)
    return mask


def describe_condition(condition: Condition) -> str:
    return " and ".join(
        f"{name} is {' or '.join(str(v).lower() if isinstance(v, bool) else str(v) for v in vals)}"
        for name, vals in condition.items()
    )


def _presence(extract: Extract, column: Column) -> list[Problem]:
    frame = extract.frame
    if frame.empty or column.name in extract.absent:
        return []
    blank = frame[column.name].isna()
    invalid = extract.invalid.get(column.name)
    if invalid is not None:
        blank &= ~invalid
    problems: list[Problem] = []
    if column.required or column.required_when:
        needed = matches(frame, column.required_when) if column.required_when else True
        why = f" when {describe_condition(column.required_when)}" if column.required_when else ""
        problems += _problem(
            extract,
            "required",
            Severity.ERROR,
            f"a value is required{why}",
            column.name,
            blank & needed,
            column.cin_rule,
        )
    if column.blank_when:
        problems += _problem(
            extract,
            "must_be_blank",
            Severity.ERROR,
            f"must be blank when {describe_condition(column.blank_when)}",
            column.name,
            ~frame[column.name].isna() & matches(frame, column.blank_when),
            None,
        )
    return problems


def _problem(
    extract: Extract,
    rule: str,
    severity: Severity,
    message: str,
    column: str,
    failing: pd.Series | bool,
    cin_rule: str | None,
) -> list[Problem]:
    if isinstance(failing, bool):
        return []
    failing = failing.fillna(False).astype(bool)
    if not failing.any():
        return []
    rows = tuple(int(r) for r in extract.frame.loc[failing, ROW])
    return [
        Problem(extract.file, rule, severity, message, column=column, rows=rows, cin_rule=cin_rule)
    ]


# --- one check per rule kind ----------------------------------------------------


def _operand(frame: pd.DataFrame, other: str, context: Context) -> pd.Series | pd.Timestamp:
    if other == "@month_end":
        return pd.Timestamp(context.name.month.end)
    if other == "@month_start":
        return pd.Timestamp(context.name.month.start)
    return frame[other]


_OPS: dict[str, Callable[[pd.Series, object], pd.Series]] = {
    "==": lambda a, b: a == b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


def _compare(frame: pd.DataFrame, rule: Rule, context: Context) -> pd.Series:
    rule = cast(CompareRule, rule)
    left = frame[rule.column]
    right = _operand(frame, rule.other, context)
    both = left.notna() & (right.notna() if isinstance(right, pd.Series) else True)
    return ~_OPS[rule.op](left, right).fillna(True).astype(bool) & both


def _in_month(frame: pd.DataFrame, rule: Rule, context: Context) -> pd.Series:
    rule = cast(InMonthRule, rule)
    values = frame[rule.column]
    start, end = pd.Timestamp(context.name.month.start), pd.Timestamp(context.name.month.end)
    return values.notna() & ((values < start) | (values > end))


def _unique(frame: pd.DataFrame, rule: Rule, context: Context) -> pd.Series:
    rule = cast(UniqueRule, rule)
    values = frame[rule.column]
    scope = matches(frame, rule.where) if rule.where else pd.Series(True, index=frame.index)
    scoped = values.where(scope & values.notna())
    return scoped.notna() & scoped.duplicated(keep=False)


def _requires(frame: pd.DataFrame, rule: Rule, context: Context) -> pd.Series:
    rule = cast(RequiresRule, rule)
    return frame[rule.column].notna() & frame[rule.other].isna()


def _allowed(frame: pd.DataFrame, rule: Rule, context: Context) -> pd.Series:
    rule = cast(AllowedRule, rule)
    values = frame[rule.column]
    return values.notna() & ~values.isin(rule.values)


def _matches_file(frame: pd.DataFrame, rule: Rule, context: Context) -> pd.Series:
    rule = cast(MatchesFileRule, rule)
    values = frame[rule.column]
    expected: str = getattr(context.name, rule.part)
    return values.notna() & (values != expected)


def _reference(frame: pd.DataFrame, rule: Rule, context: Context) -> pd.Series:
    rule = cast(ReferenceRule, rule)
    known = (context.references or {})[rule.dataset]
    if rule.needs:
        known = known[known[rule.needs].notna()]
    return frame[rule.column].notna() & ~frame[rule.column].isin(known[rule.column])


_CHECKS: dict[str, Callable[[pd.DataFrame, Rule, Context], pd.Series]] = {
    "compare": _compare,
    "in_month": _in_month,
    "unique": _unique,
    "requires": _requires,
    "allowed": _allowed,
    "matches_file": _matches_file,
    "reference": _reference,
}


def validate(
    extract: Extract, *, references: Mapping[str, pd.DataFrame] | None = None
) -> list[Problem]:
    """All problems of a read extract: reading, typing and contract rules."""
    return [*extract.problems, *check_rules(extract, references=references)]
