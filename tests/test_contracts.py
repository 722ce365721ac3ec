"""The dataset descriptions: strict, documented, and true to EXTRACTS.md."""

from __future__ import annotations

import os
import re

import pytest
import yaml
from pydantic import ValidationError

from etl.contracts import DATASETS, Contract, load_contract
from etl.contracts.docs import render_markdown
from tests.conftest import REPO, SPEC_DIR

EXTRACTS_MD = SPEC_DIR / "EXTRACTS.md"


def _spec_tables() -> dict[str, dict[str, dict[str, str]]]:
    """Each dataset's column table in EXTRACTS.md: column -> {type, required, rule}."""
    if not EXTRACTS_MD.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{EXTRACTS_MD} is missing: CI has shared/ beside the clone")
        pytest.skip("shared/spec is not beside this checkout")
    tables: dict[str, dict[str, dict[str, str]]] = {}
    dataset = None
    for line in EXTRACTS_MD.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (\w+) — ", line)
        if heading:
            dataset = heading.group(1)
            tables[dataset] = {}
        elif dataset and line.startswith("| ") and not line.startswith("| column"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            tables[dataset][cells[0]] = dict(
                zip(("type", "required", "rule"), cells[1:], strict=True)
            )
    return tables


def _codes_in_spec(cell_type: str, cell_rule: str) -> list[str] | None:
    ranged = re.search(r"(?:code |int )([A-Z]*)(\d+)–\1?(\d+)", cell_type)
    if ranged:
        prefix, low, high = ranged.group(1), int(ranged.group(2)), int(ranged.group(3))
        return [f"{prefix}{i}" for i in range(low, high + 1)]
    quoted = re.findall(r"`([^`]+)`", cell_type)
    if len(quoted) > 1:
        return quoted
    if cell_type == "code" and re.fullmatch(r"[A-Z0-9 ]+", cell_rule):
        return cell_rule.split()
    return None


@pytest.mark.parametrize("dataset", DATASETS)
def test_columns_match_extracts_md(dataset: str) -> None:
    spec = _spec_tables()[dataset]
    assert list(load_contract(dataset).columns) == list(spec)


@pytest.mark.parametrize("dataset", DATASETS)
def test_codes_match_extracts_md(dataset: str) -> None:
    checked = 0
    for name, cells in _spec_tables()[dataset].items():
        expected = _codes_in_spec(cells["type"], cells["rule"])
        column = load_contract(dataset).columns[name]
        if expected is None:
            assert not column.codes, f"{name} has codes the spec does not list"
            continue
        assert [str(c) for c in column.code_values] == expected, name
        checked += 1
    assert checked >= {"workforce": 3, "referrals": 4, "closures": 1}[dataset]


@pytest.mark.parametrize("dataset", DATASETS)
def test_required_matches_extracts_md(dataset: str) -> None:
    for name, cells in _spec_tables()[dataset].items():
        column = load_contract(dataset).columns[name]
        required = cells["required"]
        if required == "yes":
            assert column.required, name
        elif required == "no":
            assert not column.required and not column.required_when, name
        else:
            assert column.required_when, f"{name} is required when {required}"


def test_required_conditions_say_what_the_spec_says() -> None:
    workforce = load_contract("workforce").columns
    assert workforce["worker_id"].required_when == {"record_type": ["worker", "leaver"]}
    assert workforce["worker_id"].blank_when == {"record_type": ["vacancy"]}
    assert workforce["covered_by_agency"].required_when == {"record_type": ["vacancy"]}
    assert workforce["caseload"].required_when == {"record_type": ["worker"], "org_role": [4, 5]}
    assert load_contract("referrals").columns["primary_need"].required_when == {"nfa": [False]}


def test_only_child_and_worker_ids_are_identifiers() -> None:
    found = {(c.dataset, col) for c in map(load_contract, DATASETS) for col in c.identifier_columns}
    assert found == {
        ("workforce", "worker_id"),
        ("referrals", "child_id"),
        ("closures", "child_id"),
    }


def test_unknown_keys_in_a_description_are_refused() -> None:
    raw = yaml.safe_load((REPO / "etl/contracts/closures.yml").read_text())
    raw["columns"]["team"]["maxlength"] = 100
    with pytest.raises(ValidationError, match="maxlength"):
        Contract.model_validate(raw)


def test_a_rule_on_an_unknown_column_is_refused() -> None:
    raw = yaml.safe_load((REPO / "etl/contracts/closures.yml").read_text())
    raw["rules"][0]["column"] = "no_such_column"
    with pytest.raises(ValidationError, match="no_such_column"):
        Contract.model_validate(raw)


def test_docs_page_is_generated_from_the_descriptions() -> None:
    page = REPO / "docs" / "extracts.md"
    assert page.read_text(encoding="utf-8") == render_markdown(), (
        "docs/extracts.md is stale: run `csc-pipeline contract-docs --out docs/extracts.md`"
    )
