"""Great Expectations suites generated from the extract contracts.

Each contract rule, and each column's required, blank, code, range, pattern
and length rule, becomes one expectation whose ``meta`` carries the rule id,
column, severity and message; results map back to :class:`Problem` records
through that meta.  The suites are committed as JSON in
``expectations/gx/expectations/`` (written by ``csc-pipeline gx-suites``);
a test rebuilds them from the contracts and fails if they differ, so no rule
lives in only one of the two places.

The reader has already parsed each cell into its type; the suites run on that
typed frame *after* pseudonymisation, so GX (and its Data Docs) never see a
raw identifier.  Checks that need the raw identifier (its pattern), data
outside the file (the warehouse's referrals) or the file's own month are
computed into derived boolean columns first (:mod:`etl.validation`), and the
suite expects them to be true.

One GX run checks many files of a dataset at once: what a rule compares with
the file (its name's LA code, its month's bounds) is a column on every row,
and uniqueness is within each file (:data:`FILE_COLUMN`).  GX's run costs
about the same for 400 rows as for 100,000, so a hub's month is three runs,
not three per LA.  The volume rule compares a file's row count with earlier
months' and so is checked per file outside GX (:func:`etl.validation.volume_problem`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from etl.contracts import Column, Condition, Contract, Severity
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

VOLUME_RULE = "volume"
#: Months before a file's own that its volume is compared with.
VOLUME_WINDOW = 12
#: Columns the validator adds to every row, so that one GX run can check the
#: files of many LAs and months at once (:func:`etl.validation.check_batch`):
#: which file of the batch the row came from, the parts of that file's name a
#: ``matches_file`` rule compares with, and the bounds of its month.
FILE_COLUMN = "_file"
MONTH_START_COLUMN, MONTH_END_COLUMN = "_month_start", "_month_end"
_BOUND_COLUMNS = {"@month_start": MONTH_START_COLUMN, "@month_end": MONTH_END_COLUMN}
#: Names of the runtime pandas data source in the GX project.
DATASOURCE, ASSET, BATCH = "runtime", "frame", "whole"


def derived_pattern_column(column: str) -> str:
    return f"_check_{column}_pattern"


def derived_reference_column(rule_id: str) -> str:
    return f"_check_{rule_id}"


def derived_in_month_column(rule_id: str) -> str:
    return f"_check_{rule_id}"


def file_part_column(part: str) -> str:
    """The column holding, on each row, ``part`` of its own file's name."""
    return f"_file_{part}"


def row_condition(condition: Condition) -> str:
    """A pandas query selecting the rows a condition holds for."""
    return " and ".join(f"{name} in {list(values)!r}" for name, values in condition.items())


def _spec(
    kind: str,
    *,
    rule: str,
    column: str | None,
    message: str,
    severity: Severity = Severity.ERROR,
    where: str | None = None,
    cin_rule: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """One expectation as plain data: ``type``, ``kwargs``, ``meta``, ``severity``."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if where:
        kwargs["row_condition"] = where
        kwargs["condition_parser"] = "pandas"
    meta = {"rule": rule, "column": column, "message": message, "severity": severity.value}
    if cin_rule:
        meta["cin_rule"] = cin_rule
    return {
        "type": kind,
        "kwargs": kwargs,
        "meta": meta,
        "severity": "critical" if severity is Severity.ERROR else "warning",
    }


def _describe(condition: Condition) -> str:
    def show(v: str | int | bool) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v)

    return " and ".join(
        f"{name} is {' or '.join(show(v) for v in vals)}" for name, vals in condition.items()
    )


def column_expectations(column: Column) -> list[dict[str, Any]]:
    """The expectations one column's description implies."""
    name, specs = column.name, []
    if column.required or column.required_when:
        when = column.required_when
        specs.append(
            _spec(
                "expect_column_values_to_not_be_null",
                rule="required",
                column=name,
                message="a value is required" + (f" when {_describe(when)}" if when else ""),
                where=row_condition(when) if when else None,
                cin_rule=column.cin_rule,
                column_=name,
            )
        )
    if column.blank_when:
        specs.append(
            _spec(
                "expect_column_values_to_be_null",
                rule="must_be_blank",
                column=name,
                message=f"must be blank when {_describe(column.blank_when)}",
                where=row_condition(column.blank_when),
                column_=name,
            )
        )
    if column.codes:
        codes = column.code_values
        specs.append(
            _spec(
                "expect_column_values_to_be_in_set",
                rule="code",
                column=name,
                message="not one of the codes " + " ".join(str(c) for c in codes),
                column_=name,
                value_set=codes,
            )
        )
    if column.min is not None or column.max is not None:
        bounds = []
        if column.min is not None:
            bounds.append(f"{'above' if column.min_exclusive else 'at least'} {column.min:g}")
        if column.max is not None:
            bounds.append(f"at most {column.max:g}")
        specs.append(
            _spec(
                "expect_column_values_to_be_between",
                rule="range",
                column=name,
                message="must be " + " and ".join(bounds),
                column_=name,
                min_value=column.min,
                max_value=column.max,
                strict_min=column.min_exclusive or None,
            )
        )
    if column.pattern is not None:
        message = f"does not match the pattern {column.pattern}"
        if column.identifier:
            specs.append(
                _spec(
                    "expect_column_values_to_be_in_set",
                    rule="pattern",
                    column=name,
                    message=message,
                    column_=derived_pattern_column(name),
                    value_set=[True],
                )
            )
        else:
            specs.append(
                _spec(
                    "expect_column_values_to_match_regex",
                    rule="pattern",
                    column=name,
                    message=message,
                    column_=name,
                    regex=column.pattern,
                )
            )
    if column.max_length is not None:
        specs.append(
            _spec(
                "expect_column_value_lengths_to_be_between",
                rule="max_length",
                column=name,
                message=f"longer than {column.max_length} characters",
                column_=name,
                max_value=column.max_length,
            )
        )
    return specs


def rule_expectations(rule: Rule) -> list[dict[str, Any]]:
    """The expectation that checks one contract rule."""
    common: dict[str, Any] = {
        "rule": rule.id,
        "column": rule.column,
        "message": rule.message,
        "severity": rule.severity,
        "cin_rule": rule.cin_rule,
        "where": row_condition(rule.where) if rule.where else None,
    }
    if isinstance(rule, CompareRule):
        return [_compare(rule, common)]
    if isinstance(rule, InMonthRule):
        # Each row's own month: derived (etl.validation) from the file's name.
        return [
            _spec(
                "expect_column_values_to_be_in_set",
                **common,
                column_=derived_in_month_column(rule.id),
                value_set=[True],
            )
        ]
    if isinstance(rule, UniqueRule):
        # Unique within each file of the batch, blanks aside (as GX's single-column rule).
        return [
            _spec(
                "expect_compound_columns_to_be_unique",
                **common,
                column_list=[rule.column, FILE_COLUMN],
                ignore_row_if="any_value_is_missing",
            )
        ]
    if isinstance(rule, RequiresRule):
        common["where"] = f"{rule.column}.notna()"
        return [_spec("expect_column_values_to_not_be_null", **common, column_=rule.other)]
    if isinstance(rule, AllowedRule):
        return [
            _spec(
                "expect_column_values_to_be_in_set",
                **common,
                column_=rule.column,
                value_set=rule.values,
            )
        ]
    if isinstance(rule, MatchesFileRule):
        return [
            _spec(
                "expect_column_pair_values_to_be_equal",
                **common,
                column_A=rule.column,
                column_B=file_part_column(rule.part),
                ignore_row_if="either_value_is_missing",
            )
        ]
    if isinstance(rule, ReferenceRule):
        return [
            _spec(
                "expect_column_values_to_be_in_set",
                **common,
                column_=derived_reference_column(rule.id),
                value_set=[True],
            )
        ]
    raise TypeError(f"no expectation for rule kind {rule.kind!r}")


def _compare(rule: CompareRule, common: dict[str, Any]) -> dict[str, Any]:
    # A bound of the month is a column on every row (its own file's month).
    other = _BOUND_COLUMNS.get(rule.other, rule.other)
    pair: dict[str, Any] = {"ignore_row_if": "either_value_is_missing"}
    if rule.op == "==":
        return _spec(
            "expect_column_pair_values_to_be_equal",
            **common,
            column_A=rule.column,
            column_B=other,
            **pair,
        )
    # A >= B: column is A for >= and >, the other column is A for <= and <.
    a, b = (rule.column, other) if rule.op in (">=", ">") else (other, rule.column)
    return _spec(
        "expect_column_pair_values_a_to_be_greater_than_b",
        **common,
        column_A=a,
        column_B=b,
        or_equal=rule.op in (">=", "<="),
        **pair,
    )


#: The date that says a row is the month's own (a referrals file also carries
#: updates of earlier referrals, which must not count towards its volume).
VOLUME_DATE = {"referrals": "referral_date", "closures": "closure_date"}
IN_MONTH_COLUMN = "_check_in_month"


def suite_spec(contract: Contract) -> dict[str, Any]:
    """The whole suite for one dataset, as plain, deterministic data."""
    expectations = [e for c in contract.columns.values() for e in column_expectations(c)]
    expectations += [e for r in contract.rules for e in rule_expectations(r)]
    for spec in expectations:
        # ``column`` is a field name in kwargs; built as ``column_`` to keep it
        # apart from the meta's column.
        if "column_" in spec["kwargs"]:
            spec["kwargs"]["column"] = spec["kwargs"].pop("column_")
    return {"name": contract.dataset, "expectations": expectations}


def canonical(suite: dict[str, Any]) -> str:
    """A suite as sorted JSON without GX's random ids, for comparing."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("type") == "pass_through":
                return value["pass_through_filter"]  # how GX stores a row_condition
            return {k: strip(v) for k, v in value.items() if k not in ("id", "notes")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    body = strip({"name": suite["name"], "expectations": suite["expectations"]})
    return json.dumps(body, sort_keys=True, indent=1, default=str)


def write_project(gx_dir: Path) -> list[Path]:
    """Create or update the GX file project: one suite and validation definition per dataset.

    Run by ``csc-pipeline gx-suites`` after a contract changes; the result is
    committed.  The pipeline itself only reads these files.
    """
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from etl.contracts import all_contracts

    context = gx.get_context(mode="file", project_root_dir=str(gx_dir))
    # Progress bars on every run clutter the task logs; the pipeline reports itself.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()
    source = context.data_sources.add_or_update_pandas(DATASOURCE)
    try:
        asset = source.get_asset(ASSET)
    except LookupError:
        asset = source.add_dataframe_asset(ASSET)
    try:
        batch = asset.get_batch_definition(BATCH)
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe(BATCH)
    written = []
    for contract in all_contracts():
        spec = suite_spec(contract)
        suite = ExpectationSuite(name=spec["name"], expectations=spec["expectations"])
        suite = context.suites.add_or_update(suite)
        context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=contract.dataset, data=batch, suite=suite)
        )
        written.append(gx_dir / "gx" / "expectations" / f"{contract.dataset}.json")
    written += _write_reference_suites(context, batch, gx_dir)
    return written


def _write_reference_suites(context: Any, batch: Any, gx_dir: Path) -> list[Path]:
    """The suites of DfE's publications (:mod:`etl.reference.suites`), beside the extracts'."""
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite

    from etl.reference import PUBLICATIONS, publication
    from etl.reference.suites import suite_spec as reference_suite

    written = []
    for name in PUBLICATIONS:
        spec = reference_suite(publication(name))
        suite = context.suites.add_or_update(
            ExpectationSuite(name=spec["name"], expectations=spec["expectations"])
        )
        context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=spec["name"], data=batch, suite=suite)
        )
        written.append(gx_dir / "gx" / "expectations" / f"{spec['name']}.json")
    return written
