"""Atomic month loads: no-op reruns, resubmissions with history, lineage, refusals."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import etl.warehouse.load as load_module
from etl.months import Month
from etl.warehouse.load import LoadError, load_month
from etl.warehouse.measures import kpis_for
from etl.warehouse.measures_sql import current_referrals
from etl.warehouse.schema import closures, loads, referral_versions, workforce
from tests.warehouse.checksums import load_history, warehouse_checksums
from tests.warehouse.extracts import closure, frame, load, pseudo, referral, worker

MARCH = Month(2024, 3)
D = date


def _workforce(n: int, fte: float = 1.0) -> list[dict[str, Any]]:
    return [worker(f"P{i}", fte=fte, month=MARCH) for i in range(n)]


def _rows(engine: Engine, table: sa.Table) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table).order_by(*table.primary_key.columns)))


def test_same_file_twice_is_a_recorded_no_op(db: Engine) -> None:
    first = load(db, "workforce", MARCH, _workforce(3), sha="a" * 64)
    before = warehouse_checksums(db)
    again = load(db, "workforce", MARCH, _workforce(3), sha="a" * 64)
    assert (again.status, again.rows_loaded, again.months_recomputed) == ("unchanged", 0, [])
    assert warehouse_checksums(db) == before
    history = load_history(db)
    assert [(h.status, h.duplicate_of, h.superseded_by) for h in history] == [
        ("loaded", None, None),
        ("unchanged", first.load_id, None),
    ]


def test_resubmission_replaces_the_month_and_keeps_history(db: Engine) -> None:
    first = load(db, "workforce", MARCH, _workforce(3), sha="a" * 64)
    second = load(db, "workforce", MARCH, _workforce(2, fte=0.5), sha="b" * 64)
    assert second.status == "loaded" and second.superseded == first.load_id
    rows = _rows(db, workforce)
    assert len(rows) == 2 and {r.load_id for r in rows} == {second.load_id}
    permanent = next(v for v in kpis_for(db, "330", MARCH) if v.kpi_id == "permanent_fte")
    assert permanent.value == 1.0
    history = {h.load_id: h for h in load_history(db)}
    assert history[first.load_id].superseded_by == second.load_id
    assert history[first.load_id].rows_loaded == 3  # what it loaded, kept
    assert history[second.load_id].superseded_by is None
    # Going back to the first file is a new load, not a no-op.
    third = load(db, "workforce", MARCH, _workforce(3), sha="a" * 64)
    assert third.status == "loaded" and third.superseded == second.load_id


def test_load_history_records_the_file(db: Engine) -> None:
    typed = frame("closures", [closure("R1", D(2024, 3, 1), D(2024, 3, 2))])
    summary = {"errors": 0, "warnings": 2, "problems": [{"rule": "closure_referral_known"}]}
    result = load_month(
        db,
        dataset="closures",
        la_code="330",
        month=MARCH,
        frame=typed,
        file_name="closures_330_2024-03.csv",
        file_sha256="c" * 64,
        rows_read=3,
        warnings=2,
        validation_summary=summary,
        loaded_by="airflow",
    )
    (record,) = load_history(db)
    assert record.load_id == result.load_id
    assert (record.dataset, record.la_code, record.month) == ("closures", "330", MARCH.start)
    assert (record.file_name, record.file_sha256) == ("closures_330_2024-03.csv", "c" * 64)
    assert (record.rows_read, record.rows_loaded) == (3, 1)
    assert (record.warnings, record.validation_summary) == (2, summary)
    assert record.loaded_by == "airflow" and record.loaded_at is not None
    (row,) = _rows(db, closures)
    assert (row.load_id, row.source_row, row.month, row.la_code) == (
        result.load_id,
        2,
        MARCH.start,
        "330",
    )


def test_force_reloads_the_same_file(db: Engine) -> None:
    first = load(db, "workforce", MARCH, _workforce(3), sha="a" * 64)
    before = warehouse_checksums(db, exclude=["load_id"])
    again = load(db, "workforce", MARCH, _workforce(3), sha="a" * 64, force=True)
    assert again.status == "loaded" and again.superseded == first.load_id
    assert warehouse_checksums(db, exclude=["load_id"]) == before


def test_referral_versions_and_current_state(db: Engine) -> None:
    """Reloading an earlier month replaces only its versions; the later one stays current."""
    load(db, "referrals", "2024-02", [referral("R1", "A", D(2024, 2, 5))])
    update = referral("R1", "A", D(2024, 2, 5), start=D(2024, 2, 6), authorised=D(2024, 3, 1))
    load(db, "referrals", "2024-03", [update])
    load(db, "referrals", "2024-02", [referral("R1", "A", D(2024, 2, 5), nfa=True)])
    versions = _rows(db, referral_versions)
    assert [(v.month, v.nfa) for v in versions] == [(D(2024, 2, 1), True), (D(2024, 3, 1), False)]
    with db.connect() as connection:
        (current,) = connection.execute(current_referrals("330")).all()
    assert (current.month, current.assessment_authorised_date) == (D(2024, 3, 1), D(2024, 3, 1))


def test_refusals_leave_the_warehouse_as_it_was(db: Engine) -> None:
    load(db, "workforce", MARCH, _workforce(2))
    before = warehouse_checksums(db)

    raw = frame("workforce", _workforce(1))
    raw["worker_id"] = "AB1234567890"  # a raw Social Work England number
    with pytest.raises(LoadError, match="not pseudonyms"):
        _load_frame(db, "workforce", raw)

    with pytest.raises(LoadError, match="another LA"):
        _load_frame(db, "workforce", frame("workforce", _workforce(1), la_code="331"))

    with pytest.raises(LoadError, match="lacks columns: caseload"):
        _load_frame(db, "workforce", frame("workforce", _workforce(1)).drop(columns="caseload"))

    assert warehouse_checksums(db) == before
    assert [h.status for h in load_history(db)] == ["loaded"]


def _load_frame(engine: Engine, dataset: str, typed: pd.DataFrame, **kwargs: Any) -> Any:
    return load_month(
        engine,
        dataset=dataset,
        la_code="330",
        month=MARCH,
        frame=typed,
        file_name=f"{dataset}_330_{MARCH}.csv",
        file_sha256="d" * 64,  # refused before the file's digest matters
        rows_read=len(typed),
        validation_summary={},
        loaded_by="test",
        **kwargs,
    )


def test_a_failure_before_commit_leaves_the_previous_month(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault after the delete and insert (in the recompute) rolls everything back."""
    load(db, "workforce", MARCH, _workforce(3))
    before = warehouse_checksums(db)
    history = load_history(db)

    def fail(*_args: Any, **_kwargs: Any) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(load_module, "recompute_measures_of", fail)
    with pytest.raises(RuntimeError, match="boom"):
        load(db, "workforce", MARCH, _workforce(5))
    assert warehouse_checksums(db) == before
    assert load_history(db) == history
    monkeypatch.undo()
    assert load(db, "workforce", MARCH, _workforce(5)).rows_loaded == 5


def test_awkward_values_survive_the_load(db: Engine) -> None:
    """Quotes, commas, newlines, backslashes, NULL look-alikes, precision, blanks."""
    teams = ['North, "East"', "line\nbreak", "back\\slash", "\\N", "  padded  ", "Ysgol Gymraeg ŵ"]
    rows = [
        {**worker(f"P{i}", fte=0.333333333, days_lost=None, month=MARCH), "team": team}
        for i, team in enumerate(teams)
    ]
    rows[0]["caseload"] = 7
    rows[1]["working_days_lost"] = 0.1
    load(db, "workforce", MARCH, rows)
    stored = _rows(db, workforce)
    # The reader trims the spaces around a cell; everything else arrives as sent.
    assert [r.team for r in stored] == [*teams[:4], "padded", teams[5]]
    assert [r.fte for r in stored] == [0.333333333] * len(teams)
    assert [r.caseload for r in stored][:2] == [7, None]
    assert [r.working_days_lost for r in stored][:3] == [None, 0.1, None]
    assert stored[0].worker_id == pseudo("SWP0")
    assert stored[0].snapshot_date == MARCH.end and stored[0].agency_worker is False
    assert stored[0].covered_by_agency is None


def test_header_only_file_loads_an_empty_month(db: Engine) -> None:
    result = load(db, "closures", MARCH, [])
    assert (result.status, result.rows_loaded) == ("loaded", 0)
    closures_kpi = next(v for v in kpis_for(db, "330", MARCH) if v.kpi_id == "closures")
    assert closures_kpi.value == 0


def test_concurrent_loads_of_one_month_serialise(db: Engine) -> None:
    """Two loads racing for the same month: one wins, the other is superseded."""
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            load(db, "workforce", MARCH, _workforce(n), sha=str(n) * 64)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = load_history(db)
    current = [h for h in history if h.superseded_by is None]
    assert len(history) == 2 and len(current) == 1
    assert len(_rows(db, workforce)) == current[0].rows_loaded
    with db.connect() as connection:
        statuses = connection.scalars(sa.select(loads.c.status)).all()
    assert statuses == ["loaded", "loaded"]


def test_duplicate_keys_are_refused_without_quoting_values(db: Engine) -> None:
    load(db, "referrals", MARCH, [referral("R1", "A", D(2024, 3, 1))])
    before = warehouse_checksums(db)
    twice = [referral("R7", "A", D(2024, 3, 1)), referral("R7", "B", D(2024, 3, 2))]
    with pytest.raises(LoadError, match=r"share a key \(la_code, referral_id, month\)") as caught:
        load(db, "referrals", MARCH, twice)
    assert "R7" not in str(caught.value)
    assert warehouse_checksums(db) == before


def test_staged_rows_that_are_not_the_files_are_caught(db: Engine) -> None:
    """The check before the swap: a row staged twice is refused, the file's rows pass."""
    typed = frame("workforce", _workforce(3))
    rows = load_module._prepare(typed, load_module.load_contract("workforce"), "330")
    with db.begin() as connection:
        stage = load_module._staging_table(connection, "workforce")
        stage.create(connection)
        load_module._stage_rows(connection, stage, rows)
        assert load_module._check_staged(connection, stage, rows, "w.csv") == 3
        load_module._stage_rows(connection, stage, rows.iloc[[1]])
        with pytest.raises(
            LoadError, match=r"^w\.csv: the staged rows are not the file's \(4 staged, 3 distinct"
        ):
            load_module._check_staged(connection, stage, rows, "w.csv")
        stage.drop(connection)
