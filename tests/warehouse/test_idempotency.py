"""Reruns and resubmissions give the same warehouse, whatever the order.

Three years of files are loaded month by month; then files are reloaded
(no-ops), force-reloaded (same rows again) and, in a second run, everything
is loaded in a random order with some months first sent wrong and then
resubmitted.  Data tables and measures must come out identical, and the
stored measures must equal a fresh computation of every month (so the loads
recomputed exactly the months they affect).
"""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.warehouse.measures import compute_measures, known_months
from etl.warehouse.schema import measures
from tests.warehouse.checksums import load_history, orphan_rows, warehouse_checksums
from tests.warehouse.conftest import empty
from tests.warehouse.extracts import load
from tests.warehouse.history import DATASETS, MONTHS, altered, history

FILES = history()
ORDER = [(dataset, month) for month in MONTHS for dataset in DATASETS]


def _stored_equal_fresh(engine: Engine) -> None:
    with engine.begin() as connection:
        months = known_months(connection, "330")
        fresh = {
            (v.month.start, v.kpi_id): (v.value, v.numerator, v.denominator, v.reason)
            for v in compute_measures(connection, "330", months)
        }
        stored = {
            (r.month, r.kpi_id): (r.value, r.numerator, r.denominator, r.reason)
            for r in connection.execute(sa.select(measures))
        }
    assert stored == fresh


@pytest.mark.slow
def test_reruns_and_resubmissions_give_the_same_warehouse(db: Engine) -> None:
    for dataset, month in ORDER:
        load(db, dataset, month, FILES[dataset, month])
    full = warehouse_checksums(db)
    content = warehouse_checksums(db, exclude=["load_id"])
    _stored_equal_fresh(db)
    with db.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(measures)) == 36 * 29

    rng = random.Random(11)
    for dataset, month in rng.sample(ORDER, 10):
        assert load(db, dataset, month, FILES[dataset, month]).status == "unchanged"
    assert warehouse_checksums(db) == full

    for dataset, month in rng.sample(ORDER, 10):
        result = load(db, dataset, month, FILES[dataset, month], force=True)
        assert result.status == "loaded"
    assert warehouse_checksums(db, exclude=["load_id"]) == content
    assert sum(h.status == "unchanged" for h in load_history(db)) == 10
    assert orphan_rows(db) == 0

    # A second run: every file in a random order, ten of them first sent
    # wrong (somewhere before the right one) and resubmitted.
    empty(db)
    queue = [(key, FILES[key]) for key in rng.sample(ORDER, len(ORDER))]
    for n, key in enumerate(rng.sample(ORDER, 10)):
        right = next(i for i, (k, _) in enumerate(queue) if k == key)
        queue.insert(rng.randint(0, right), (key, altered(FILES[key], seed=n)))
    for (dataset, month), rows in queue:
        load(db, dataset, month, rows)
    superseded = [h for h in load_history(db) if h.superseded_by is not None]
    assert len(superseded) == 10
    assert warehouse_checksums(db, exclude=["load_id"]) == content
    assert orphan_rows(db) == 0
    _stored_equal_fresh(db)
