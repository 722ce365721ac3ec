"""Which LA and month a DAG run is for.

A cron run in Airflow 3 has a zero-width data interval and a manual run may
have no logical date at all, so the reporting month is never read from the
data interval: it is the ``month`` Param when given, else the month before
the run (extracts for March land in early April).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from etl.errors import ConfigError
from etl.months import Month, month_range

#: Council months are UK months: a run at 00:30 on 1 April BST is still 1 April.
UK = ZoneInfo("Europe/London")


def reporting_month(
    param: str | None, logical_date: datetime | None, run_after: datetime | None
) -> Month:
    """The month a run reports on: the Param, else the month before the run."""
    if param:
        try:
            return Month.parse(param)
        except ValueError as exc:
            raise ConfigError(f"the month Param {param!r} is not a YYYY-MM month") from exc
    when = logical_date or run_after
    if when is None:
        raise ConfigError("a run with neither a logical date nor a run-after time needs a month")
    if when.tzinfo is not None:
        when = when.astimezone(UK)
    return Month(when.year, when.month) - 1


def run_targets(
    *,
    month_param: str | None,
    la_param: str | None,
    la_codes: Sequence[str],
    logical_date: datetime | None,
    run_after: datetime | None,
    through_param: str | None = None,
) -> list[dict[str, Any]]:
    """One target per LA and month: ``{"la_code": "330", "month": "2025-03"}`` (XCom-sized).

    ``through_param`` makes the run a backfill: every month from the
    reporting month through that one, oldest first.
    """
    month = reporting_month(month_param, logical_date, run_after)
    last = month
    if through_param:
        last = reporting_month(through_param, None, None)
        if last < month:
            raise ConfigError(f"the through Param {through_param} is before the month {month}")
    codes = [la_param] if la_param else list(la_codes)
    months = month_range(month, last.months_since(month) + 1)
    return [{"la_code": code, "month": str(m)} for m in months for code in codes]


def batches(targets: Sequence[dict[str, Any]], las_per_batch: str) -> list[list[dict[str, Any]]]:
    """The targets each validate, load and measures task takes: an LA's months together,
    ``las_per_batch`` (a setting, as text) LAs at a time, in the targets' order.

    One task per batch, not per file: Airflow's own cost (~0.2 s a task) and
    GX's (~0.3 s a run) are paid per batch.  A batch waits for all its files,
    so a council whose extract is late holds up only the LAs of its batch.
    """
    size = int(las_per_batch) if las_per_batch.isdigit() else 0
    if size < 1:
        raise ConfigError(
            f"[csc_pipeline] las_per_batch (AIRFLOW__CSC_PIPELINE__LAS_PER_BATCH) is "
            f"{las_per_batch!r}: it must be a whole number of LAs, at least 1"
        )
    by_la: dict[str, list[dict[str, Any]]] = {}
    for target in targets:
        by_la.setdefault(target["la_code"], []).append(target)
    codes = list(by_la)
    return [
        [target for code in codes[i : i + size] for target in by_la[code]]
        for i in range(0, len(codes), size)
    ]


def targets_from_events(events: Any) -> list[dict[str, Any]]:
    """The (LA, month) pairs that asset events say were loaded, in order, once each.

    ``events`` is Airflow's ``triggering_asset_events``: asset -> events,
    each with the ``extra`` the ingest DAG's measures task set.
    """
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for asset_events in events.values():
        for event in asset_events:
            extra = dict(event.extra or {})
            # A batch's event names every load in "loads"; older events one, at the top.
            for load in extra.get("loads") or [extra]:
                if "la_code" in load and "month" in load:
                    key = (str(load["la_code"]), str(load["month"]))
                    seen.setdefault(key, {"la_code": key[0], "month": key[1]})
    return [seen[key] for key in sorted(seen, key=lambda k: (k[1], k[0]))]
