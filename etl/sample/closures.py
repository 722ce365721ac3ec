"""Closures: capacity closures picked month by month, and each month's closures file."""

from __future__ import annotations

import numpy as np

from etl.months import Month
from etl.sample import story
from etl.sample.days import WorkCalendar, as_day
from etl.sample.referrals import NAT, REASONS, TEAM_NAMES, Children, Episodes
from etl.sample.writer import Table, code_cells, date_cells

#: A capacity closure comes at least this many days after the referral.
_WAITED = np.timedelta64(7, "D")
#: ... and is of a referral received in this month or the three before.
_LOOK_BACK = 3


def close_for_capacity(
    rng: np.random.Generator,
    calendar: WorkCalendar,
    episodes: Episodes,
    start: Month,
    profile: story.Profile = story.STORY,
) -> None:
    """Close, each month, the story's number of unallocated referrals for want of a worker.

    A capacity closure replaces the episode's planned end: the assessment is
    never authorised (nor started, if it had not started by then).  Referrals
    in the written months are preferred, so closures refer to referrals the
    warehouse has seen.
    """
    rc7 = REASONS.index("RC7")
    for t in range(int(episodes.month.min()), int(episodes.month.max()) + 1):
        month = start + t
        wanted = max(0, round(profile.capacity_closures.at(t) + rng.normal(0, 1.5)))
        first, last = as_day(month.start), as_day(month.end)
        earliest = np.maximum(first, episodes.date + _WAITED)
        latest = np.minimum(last, episodes.authorised - np.timedelta64(1, "D"))
        waiting = np.flatnonzero(
            (episodes.month >= t - _LOOK_BACK)
            & (episodes.month <= t)
            & ~episodes.nfa
            & ~episodes.allocated
            & ~episodes.capacity
            & (earliest <= latest)
        )
        unwritten = (episodes.month[waiting] < 0).astype(np.float64)
        waiting = waiting[np.argsort(rng.random(len(waiting)) + unwritten, kind="stable")]
        picked = np.sort(waiting[:wanted])
        span = (latest[picked] - earliest[picked]).astype(np.int64) + 1
        day = earliest[picked] + np.floor(rng.random(len(picked)) * span).astype("timedelta64[D]")
        # Closed on a working day where the window has one.
        working = np.busday_offset(day, 0, roll="backward", busdaycal=calendar.calendar)
        day = np.where(working >= earliest[picked], working, day)
        episodes.capacity[picked] = True
        episodes.reason[picked] = rc7
        episodes.closed[picked] = day
        episodes.authorised[picked] = NAT
        started = episodes.start[picked]
        episodes.start[picked] = np.where(started <= day, started, NAT)
        episodes.closing_team[picked] = episodes.team[picked]


def closures_table(
    episodes: Episodes, children: Children, la_code: str, month: Month, t: int
) -> Table:
    """Month ``t``'s closures file: every episode whose closure date falls in the month."""
    first, last = as_day(month.start), as_day(month.end)
    closing = np.flatnonzero((episodes.closed >= first) & (episodes.closed <= last))
    rows = closing[np.lexsort((closing, episodes.closed[closing]))]
    return Table.from_columns(
        "closures",
        {
            "la_code": [la_code] * len(rows),
            "referral_id": [episodes.referral_id[i] for i in rows.tolist()],
            "child_id": [children.child_id[i] for i in episodes.child[rows].tolist()],
            "referral_date": date_cells(episodes.date[rows]),
            "closure_date": date_cells(episodes.closed[rows]),
            "closure_reason": code_cells(REASONS, episodes.reason[rows]),
            "capacity_closure": episodes.capacity[rows].tolist(),
            "team": [TEAM_NAMES[i] for i in episodes.closing_team[rows].tolist()],
        },
    )
