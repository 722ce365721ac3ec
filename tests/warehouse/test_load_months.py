"""Many LAs' files of one month in one transaction: what file-by-file loads give.

:func:`etl.warehouse.load.load_months` stages, checks, swaps and records a
hub's month set-based.  Its warehouse must be the one :func:`load_month`
leaves file after file (data, measures and load history), a no-op rerun and
a resubmission must be recorded as they are one by one, and a file that
cannot load must leave the warehouse as it was, for every LA of the batch.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.ingest import Accepted, Folders, load_accepted_many
from etl.months import Month
from etl.warehouse.load import LaFile, LoadError, batchable, load_month, load_months
from etl.warehouse.schema import loads
from tests.warehouse.checksums import load_history, warehouse_checksums
from tests.warehouse.conftest import BACKENDS, drop, new_engine
from tests.warehouse.extracts import Landed, land, referral, worker

MARCH = Month(2024, 3)
LAS = ("201", "330", "857")
D = date


def _referrals(la: str, n: int, day: int = 1) -> list[dict[str, Any]]:
    return [referral(f"R{la}{i}", f"C{la}{i}", D(2024, 3, day + i % 20)) for i in range(n)]


def _landed(dataset: str, sizes: dict[str, int], day: int = 1) -> dict[str, Landed]:
    rows = {
        "referrals": lambda la, n: _referrals(la, n, day),
        "workforce": lambda la, n: [
            worker(f"P{la}{i}", fte=day / 10, month=MARCH) for i in range(n)
        ],
    }[dataset]
    return {la: land(dataset, rows(la, n), month=MARCH, la_code=la) for la, n in sizes.items()}


def _file(la: str, landed: Landed) -> LaFile:
    return LaFile(
        la_code=la,
        frame=landed.frame,
        file_name=landed.file_name,
        file_sha256=landed.sha256,
        rows_read=landed.rows_read,
        warnings=landed.warnings,
        validation_summary=landed.checked.summary(),
    )


def _one_by_one(engine: Engine, dataset: str, files: dict[str, Landed]) -> None:
    for la, landed in files.items():
        file = _file(la, landed)
        # LaFile's fields are load_month's arguments of the same names.
        arguments = {f.name: getattr(file, f.name) for f in fields(LaFile)}
        load_month(engine, dataset=dataset, month=MARCH, loaded_by="test", **arguments)


def _together(engine: Engine, dataset: str, files: dict[str, Landed]) -> list[Any]:
    return load_months(
        engine,
        dataset=dataset,
        month=MARCH,
        files=[_file(la, landed) for la, landed in files.items()],
        loaded_by="test",
    )


def _accepted(
    dataset: str, files: dict[str, Landed], landing: Path
) -> list[tuple[Accepted, pd.DataFrame]]:
    """Each file landed in ``landing`` (its text does not matter: it is only filed)
    with its validated frame, as ingestion hands them to load_accepted_many."""
    landing.mkdir()
    accepted = []
    for la, landed in files.items():
        path = landing / landed.file_name
        path.write_text("landed\n", encoding="utf-8")
        record = Accepted(path, dataset, la, MARCH, landed.sha256, landed.rows_read, 0, 0, {})
        accepted.append((record, landed.frame))
    return accepted


def _history(engine: Engine) -> list[tuple[Any, ...]]:
    """The load history without its ids and times: each LA's dataset's loads in order."""
    seen: dict[tuple[str, str], int] = {}
    history = []
    for h in load_history(engine):  # by time: one load of an LA's dataset per call
        turn = seen[h.dataset, h.la_code] = seen.get((h.dataset, h.la_code), -1) + 1
        history.append(
            (
                h.dataset,
                h.la_code,
                turn,
                h.status,
                h.rows_read,
                h.rows_loaded,
                h.file_name,
                h.file_sha256,
                h.measured_at is not None,
                h.superseded_by is not None,
                h.duplicate_of is not None,
            )
        )
    return sorted(history)


@pytest.fixture(params=BACKENDS)
def two(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    from etl.warehouse.db import upgrade

    made = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        made.append(new_engine(request.param, tmp_path / name))
    for engine, _schema in made:
        upgrade(engine)
    yield [engine for engine, _schema in made]
    for engine, schema in made:
        drop(engine, schema)


def test_a_month_of_many_las_loads_what_file_by_file_loads(two: list[Engine]) -> None:
    alone, together = two
    # Referrals, then workforce: the second batch's months already have measures.
    first = _landed("referrals", {"201": 3, "330": 5, "857": 4})
    workers = _landed("workforce", {"201": 2, "330": 4, "857": 1})
    # A resubmission of two LAs (one changed, one the same file) and a new LA.
    again = {**_landed("referrals", {"201": 2, "420": 3}, day=5), "330": first["330"]}
    for dataset, files in (("referrals", first), ("workforce", workers), ("referrals", again)):
        _one_by_one(alone, dataset, files)
        results = _together(together, dataset, files)
        assert [r.status for r in results] == [
            "unchanged" if files is again and la == "330" else "loaded" for la in files
        ]
    assert warehouse_checksums(together, exclude=("load_id",)) == warehouse_checksums(
        alone, exclude=("load_id",)
    )
    assert _history(together) == _history(alone)


def test_the_results_say_what_load_month_says(two: list[Engine]) -> None:
    _alone, together = two
    files = _landed("referrals", {"201": 3, "330": 2})
    _together(together, "referrals", files)
    changed = {"330": _landed("referrals", {"330": 4}, day=2)["330"], "201": files["201"]}
    results = {r.load_id: r for r in _together(together, "referrals", changed)}
    history = {h.load_id: h for h in load_history(together)}
    by_la = {history[i].la_code: r for i, r in results.items()}
    assert by_la["201"].status == "unchanged" and by_la["201"].rows_loaded == 0
    assert history[by_la["201"].load_id].duplicate_of is not None
    reloaded = by_la["330"]
    assert (reloaded.status, reloaded.rows_loaded) == ("loaded", 4)
    assert history[reloaded.superseded or ""].superseded_by == reloaded.load_id
    assert reloaded.earliest == MARCH and MARCH in reloaded.months_recomputed


def test_a_file_that_cannot_load_leaves_every_la_as_it_was(two: list[Engine]) -> None:
    _alone, engine = two
    _together(engine, "referrals", _landed("referrals", {"201": 2, "330": 2}))
    before = warehouse_checksums(engine), len(load_history(engine))
    files = _landed("referrals", {"201": 3, "857": 2}, day=3)
    twice = land(
        "referrals",
        [referral("R9", "A", D(2024, 3, 1)), referral("R9", "B", D(2024, 3, 2))],
        la_code="330",
    )
    with pytest.raises(LoadError, match=r"share a key \(la_code, referral_id, month\)") as caught:
        _together(engine, "referrals", {**files, "330": twice})
    assert "R9" not in str(caught.value)
    assert (warehouse_checksums(engine), len(load_history(engine))) == before


def test_only_one_file_per_la_and_a_small_month_go_together() -> None:
    landed = _landed("workforce", {"201": 1})["201"]
    one = _file("201", landed)
    assert batchable([one, _file("330", landed)])
    assert not batchable([one, one])
    with pytest.raises(ValueError, match="one file per LA"):
        load_months(sa.create_engine("sqlite://"), dataset="workforce", month=MARCH,
                    files=[one, one], loaded_by="test")  # fmt: skip


def test_a_batch_that_fails_is_loaded_file_by_file(two: list[Engine], tmp_path: Path) -> None:
    """load_accepted_many: the one bad file fails as alone it would; those before it load."""
    _alone, engine = two
    files = _landed("referrals", {"201": 2, "330": 2, "857": 2})
    files["330"] = land(
        "referrals",
        [referral("R9", "A", D(2024, 3, 1)), referral("R9", "B", D(2024, 3, 2))],
        la_code="330",
    )
    landing = tmp_path / "landing"
    accepted = _accepted("referrals", files, landing)
    folders = Folders(tmp_path / "archive", tmp_path / "quarantine")
    committed: list[str] = []
    with pytest.raises(LoadError, match="share a key"):
        load_accepted_many(
            accepted,
            engine=engine,
            folders=folders,
            loaded_by="test",
            committed=lambda result: committed.append(result.file),
        )
    # Told of the one load that committed before the failure (the DAG then discards its stage).
    assert committed == [files["201"].file_name]
    with engine.connect() as connection:
        loaded = connection.execute(sa.select(loads.c.la_code, loads.c.status)).all()
    assert loaded == [("201", "loaded")]
    # The loaded file is archived; the failed one and the one after it wait in landing.
    assert sorted(p.name for p in landing.iterdir()) == sorted(
        files[la].file_name for la in ("330", "857")
    )
    archived = [p.name for p in (tmp_path / "archive").rglob("*.csv")]
    assert len(archived) == 1 and archived[0].endswith(files["201"].file_name)


def test_a_batch_says_each_file_committed(two: list[Engine], tmp_path: Path) -> None:
    _alone, engine = two
    files = _landed("workforce", {"201": 2, "330": 1})
    landing = tmp_path / "landing"
    accepted = _accepted("workforce", files, landing)
    committed: list[str] = []
    results = load_accepted_many(
        accepted,
        engine=engine,
        folders=Folders(tmp_path / "archive", tmp_path / "quarantine"),
        loaded_by="test",
        recompute=False,
        committed=lambda result: committed.append(result.file),
    )
    assert committed == [r.file for r in results] == [f.file_name for f in files.values()]
    assert not list(landing.iterdir())
    with engine.connect() as connection:
        measured = connection.execute(sa.select(loads.c.measured_at)).scalars().all()
    assert measured == [None, None]  # recompute=False: the measures are the caller's
