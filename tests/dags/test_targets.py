"""Which month a run is for: the Param, else the month before the run, in UK time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from croniter import croniter

from etl.errors import ConfigError
from etl.months import Month
from etl.orchestration.ingest_dag import DEFAULT_SCHEDULE
from etl.orchestration.targets import batches, reporting_month, run_targets, targets_from_events


def test_the_param_wins_over_the_run_date() -> None:
    when = datetime(2025, 6, 2, 6, tzinfo=UTC)
    assert reporting_month("2024-11", when, when) == Month(2024, 11)


def test_without_a_param_the_month_before_the_logical_date() -> None:
    assert reporting_month(None, datetime(2025, 4, 2, 6, tzinfo=UTC), None) == Month(2025, 3)
    assert reporting_month(None, datetime(2025, 1, 2, 6, tzinfo=UTC), None) == Month(2024, 12)


def test_a_manual_run_with_no_logical_date_uses_run_after() -> None:
    run_after = datetime(2025, 8, 15, 12, tzinfo=UTC)
    assert reporting_month(None, None, run_after) == Month(2025, 7)


def test_months_are_uk_months() -> None:
    # 23:30 UTC on 31 March 2025 is 00:30 BST on 1 April: March is the month before.
    assert reporting_month(None, datetime(2025, 3, 31, 23, 30, tzinfo=UTC), None) == Month(2025, 3)
    # 23:30 UTC on 31 January is 23:30 GMT, still January: December before it.
    assert reporting_month(None, datetime(2025, 1, 31, 23, 30, tzinfo=UTC), None) == Month(2024, 12)


def test_a_bad_param_or_no_date_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="2025-13"):
        reporting_month("2025-13", None, datetime.now(UTC))
    with pytest.raises(ConfigError):
        reporting_month(None, None, None)


def test_backfill_runs_of_the_schedule_cover_each_month_once() -> None:
    """Three years of scheduled (or backfilled) runs load 36 distinct months in order."""
    ticks = croniter(DEFAULT_SCHEDULE, datetime(2022, 5, 1, tzinfo=UTC))
    months = [reporting_month(None, ticks.get_next(datetime), None) for _ in range(36)]
    assert months == [Month(2022, 4) + i for i in range(36)]


def test_one_target_per_configured_la_unless_the_param_names_one() -> None:
    when = datetime(2025, 4, 2, tzinfo=UTC)
    both = run_targets(
        month_param=None, la_param=None, la_codes=("330", "331"), logical_date=when, run_after=None
    )
    assert both == [{"la_code": "330", "month": "2025-03"}, {"la_code": "331", "month": "2025-03"}]
    one = run_targets(
        month_param=None, la_param="331", la_codes=("330", "331"), logical_date=when, run_after=None
    )
    assert one == [{"la_code": "331", "month": "2025-03"}]


@dataclass
class Event:
    """The shape of Airflow's asset event as the report DAG reads it."""

    extra: dict[str, Any] = field(default_factory=dict)


def test_report_targets_from_asset_events_once_each_in_month_order() -> None:
    events = {
        "csc_workforce_loaded": [Event({"la_code": "330", "month": "2025-03", "status": "loaded"})],
        "csc_referrals_loaded": [
            Event({"la_code": "330", "month": "2025-03"}),
            Event({"la_code": "330", "month": "2025-02"}),
        ],
        "csc_closures_loaded": [Event({}), Event({"la_code": "331", "month": "2025-03"})],
    }
    assert targets_from_events(events) == [
        {"la_code": "330", "month": "2025-02"},
        {"la_code": "330", "month": "2025-03"},
        {"la_code": "331", "month": "2025-03"},
    ]


def test_a_batch_event_names_every_load() -> None:
    loads = [{"la_code": "331", "month": "2025-03"}, {"la_code": "330", "month": "2025-03"}]
    events = {"csc_referrals_loaded": [Event({**loads[0], "loads": loads})]}
    assert targets_from_events(events) == [
        {"la_code": "330", "month": "2025-03"},
        {"la_code": "331", "month": "2025-03"},
    ]


def test_through_makes_a_backfill_of_every_month_oldest_first() -> None:
    got = run_targets(
        month_param="2024-11",
        la_param=None,
        la_codes=("330", "331"),
        logical_date=None,
        run_after=None,
        through_param="2025-01",
    )
    assert [(t["month"], t["la_code"]) for t in got] == [
        ("2024-11", "330"),
        ("2024-11", "331"),
        ("2024-12", "330"),
        ("2024-12", "331"),
        ("2025-01", "330"),
        ("2025-01", "331"),
    ]
    with pytest.raises(ConfigError, match="the through Param 2024-10 is before the month 2024-11"):
        run_targets(
            month_param="2024-11",
            la_param=None,
            la_codes=("330",),
            logical_date=None,
            run_after=None,
            through_param="2024-10",
        )


def test_batches_keep_an_las_months_together_and_take_las_per_batch_at_a_time() -> None:
    targets = [
        {"la_code": la, "month": month}
        for month in ("2025-01", "2025-02")
        for la in ("330", "331", "332")
    ]
    assert batches(targets, "1") == [
        [{"la_code": "330", "month": "2025-01"}, {"la_code": "330", "month": "2025-02"}],
        [{"la_code": "331", "month": "2025-01"}, {"la_code": "331", "month": "2025-02"}],
        [{"la_code": "332", "month": "2025-01"}, {"la_code": "332", "month": "2025-02"}],
    ]
    two = batches(targets, "2")
    assert [sorted({t["la_code"] for t in batch}) for batch in two] == [["330", "331"], ["332"]]
    assert sum(len(batch) for batch in two) == len(targets)
    for bad in ("0", "-1", "eight", ""):
        with pytest.raises(ConfigError, match="las_per_batch"):
            batches(targets, bad)
