"""One registry of measures (``etl/kpis.yml``): the SQL must compute exactly it.

A measure added to the registry without its SQL, SQL left without its entry,
or a rate whose SQL has no numerator, stops the measures with an error naming
it, instead of a figure that is silently blank.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine

from etl.errors import ConfigError
from etl.kpis import read_registry, registry
from etl.months import Month
from etl.warehouse.measures import KPI_IDS, KPIS, compute_measures
from etl.warehouse.measures_sql import MeasureWithoutSql, check_registry

SHIPPED = Path(__file__).parents[2] / "etl" / "kpis.yml"
FEBRUARY = Month(2024, 2)


def _edited(tmp_path: Path, edit: dict[str, dict[str, object] | None]) -> Path:
    """The shipped registry with entries replaced, added, or (None) removed."""
    entries = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    for kpi_id, entry in edit.items():
        if entry is None:
            del entries[kpi_id]
        else:
            entries[kpi_id] = {**entries.get(kpi_id, {}), **entry}
    path = tmp_path / "kpis.yml"
    path.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return path


def _compute(engine: Engine, path: Path) -> None:
    kpis = tuple(read_registry(path))
    with engine.connect() as connection:
        compute_measures(connection, "330", [FEBRUARY], kpis=kpis)


def test_the_shipped_registry_is_what_the_warehouse_computes() -> None:
    check_registry(KPIS)  # raises on any disagreement
    assert registry().ids == KPI_IDS
    assert [k.kpi_id for k in KPIS] == list(registry().root)


def test_a_measure_with_no_sql_raises(db: Engine, tmp_path: Path) -> None:
    extra = {
        "dataset": "closures",
        "label": "Closed: reason 10",
        "unit": "count",
        "suppress_by": "value",
        "definition": "Closures with reason RC10.",
    }
    path = _edited(tmp_path, {"closures_rc10": extra})
    with pytest.raises(MeasureWithoutSql) as raised:
        _compute(db, path)
    assert str(raised.value) == "closures measures with no SQL: ['closures_rc10']"


def test_sql_with_no_measure_raises(db: Engine, tmp_path: Path) -> None:
    path = _edited(tmp_path, {"closures_rc9": None})
    with pytest.raises(MeasureWithoutSql) as raised:
        _compute(db, path)
    assert str(raised.value) == "closures SQL for measures not in the registry: ['closures_rc9']"


def test_a_rate_flag_the_sql_does_not_have_raises(db: Engine, tmp_path: Path) -> None:
    path = _edited(tmp_path, {"referrals": {"rate": True, "unit": "ratio"}})
    with pytest.raises(MeasureWithoutSql) as raised:
        _compute(db, path)
    assert str(raised.value) == (
        "referrals measures whose rate flag and SQL disagree: ['referrals']"
    )


def test_a_broken_registry_is_one_sentence(tmp_path: Path) -> None:
    path = _edited(tmp_path, {"nfa_rate": {"colour": "red"}})
    with pytest.raises(ConfigError) as raised:
        read_registry(path)
    message = str(raised.value)
    assert message.startswith(f"{path} is not a valid file of its kind: ")
    assert "nfa_rate.colour: unknown key" in message
    assert "\n" not in message


def test_a_percent_must_be_a_rate(tmp_path: Path) -> None:
    path = _edited(tmp_path, {"referrals": {"unit": "percent"}})
    with pytest.raises(ConfigError, match=r"a percent measure must be a rate \(rate: true\)"):
        read_registry(path)
