"""The committed GX suites are exactly what the contracts generate."""

from __future__ import annotations

import json

import pytest

from etl.contracts import DATASETS, load_contract
from etl.expectations import canonical, row_condition, suite_spec
from etl.reference import PUBLICATIONS, publication
from etl.reference.suites import suite_spec as reference_suite
from etl.validation import DEFAULT_GX_DIR

SUITES = DEFAULT_GX_DIR / "gx" / "expectations"


@pytest.mark.parametrize("dataset", DATASETS)
def test_committed_suite_matches_the_contract(dataset: str) -> None:
    committed = json.loads((SUITES / f"{dataset}.json").read_text(encoding="utf-8"))
    assert canonical(committed) == canonical(suite_spec(load_contract(dataset))), (
        "expectations/ is stale: run `csc-pipeline gx-suites`"
    )


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_rule_of_the_contract_has_an_expectation(dataset: str) -> None:
    contract = load_contract(dataset)
    rules = {(e["meta"]["rule"], e["meta"]["column"]) for e in suite_spec(contract)["expectations"]}
    for rule in contract.rules:
        assert (rule.id, rule.column) in rules
    for column in contract.columns.values():
        if column.required or column.required_when:
            assert ("required", column.name) in rules
        if column.blank_when:
            assert ("must_be_blank", column.name) in rules
        if column.codes:
            assert ("code", column.name) in rules
        if column.min is not None or column.max is not None:
            assert ("range", column.name) in rules
        if column.pattern:
            assert ("pattern", column.name) in rules
        if column.max_length:
            assert ("max_length", column.name) in rules


def test_soft_rules_are_warnings_in_the_suite() -> None:
    spec = suite_spec(load_contract("closures"))
    severities = {e["meta"]["rule"]: e["severity"] for e in spec["expectations"]}
    assert severities["capacity_closure_not_rc7"] == "warning"
    assert severities["closure_referral_known"] == "warning"
    assert "volume" not in severities  # per file, outside GX: etl.validation.volume_problem
    assert severities["closure_date_in_month"] == "critical"


def test_row_condition_is_a_pandas_query() -> None:
    assert row_condition({"record_type": ["worker"], "org_role": [4, 5]}) == (
        "record_type in ['worker'] and org_role in [4, 5]"
    )
    assert row_condition({"nfa": [False]}) == "nfa in [False]"


@pytest.mark.parametrize("name", PUBLICATIONS)
def test_committed_reference_suite_matches_its_description(name: str) -> None:
    spec = reference_suite(publication(name))
    committed = json.loads((SUITES / f"{spec['name']}.json").read_text(encoding="utf-8"))
    assert canonical(committed) == canonical(spec), (
        "expectations/ is stale: run `csc-pipeline gx-suites`"
    )


def test_every_value_column_and_level_of_a_publication_is_checked() -> None:
    rules = {e["meta"]["rule"] for e in reference_suite(publication("csww"))["expectations"]}
    assert {"geographic_level", "time_period", "value", "la_code", "duplicate"} <= rules
    value = next(
        e
        for e in reference_suite(publication("c1"))["expectations"]
        if e["meta"]["rule"] == "value"
    )
    assert value["kwargs"]["regex"] == r"^(?:-?\d+(?:\.\d+)?|c|u|x|z|low|k)?$"
