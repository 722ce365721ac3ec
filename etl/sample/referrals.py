"""Referrals, their assessments and how their episodes end, for every simulated month.

One vectorised pass per month: the month's referrals get dates, children (new
ones, or children referred before whose last episode has closed), codes,
allocation, an assessment and a planned end to the episode.  The result is one
array per field over all referrals (:class:`Episodes`); the monthly files are
cut from it by :func:`referrals_table` as each month's end would have seen it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from etl.months import Month
from etl.sample import story
from etl.sample.days import Days, WorkCalendar, as_day, month_days, weights
from etl.sample.writer import Table, code_cells, date_cells

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

NAT = np.datetime64("NaT", "D")
TEAM_NAMES = tuple(team for team, _ in story.TEAMS)
SOURCES = tuple(story.REFERRAL_SOURCE)
NEEDS = tuple(story.PRIMARY_NEED)
SEXES = tuple(story.SEX)
ETHNICITIES = tuple(story.ETHNICITY)
REASONS = tuple(story.CLOSURE_REASON)
_DAYS_A_YEAR = 365.25


def team(name: str) -> int:
    return TEAM_NAMES.index(name)


def area_teams(prefix: str) -> Ints:
    """The team index of ``prefix – area`` for each area, in story.AREAS order."""
    return np.array([team(f"{prefix} – {area}") for area in story.AREAS], dtype=np.int64)


@dataclass
class Children:
    """Every child referred so far; a child is its index into these arrays."""

    child_id: list[str]
    dob: Days
    sex: Ints
    ethnicity: Ints
    area: Ints
    #: Month index of the child's latest referral.
    last_month: Ints
    #: The day the child's latest episode closes (or the NFA referral's date).
    open_until: Days

    def extend(self, other: Children) -> None:
        for spec in fields(self):
            mine, theirs = getattr(self, spec.name), getattr(other, spec.name)
            joined = mine + theirs if isinstance(mine, list) else np.concatenate([mine, theirs])
            setattr(self, spec.name, joined)


@dataclass
class Episodes:
    """Every referral simulated, warm-up included, ordered by month then date."""

    month: Ints
    referral_id: list[str]
    date: Days
    child: Ints
    source: Ints
    nfa: Bools
    #: Index into NEEDS; -1 when the referral led to no further action.
    need: Ints
    team: Ints
    #: Allocated to a named worker at the end of the referral's month.
    allocated: Bools
    start: Days
    authorised: Days
    closed: Days
    #: Index into REASONS; -1 while the episode has not been given an end.
    reason: Ints
    capacity: Bools
    closing_team: Ints

    @classmethod
    def join(cls, parts: list[Episodes]) -> Episodes:
        joined: dict[str, object] = {}
        for spec in fields(cls):
            pieces = [getattr(part, spec.name) for part in parts]
            if spec.name == "referral_id":
                joined[spec.name] = [value for piece in pieces for value in piece]
            else:
                joined[spec.name] = np.concatenate(pieces)
        return cls(**joined)  # type: ignore[arg-type]


class ReferralModel:
    """Generates each month's referrals, carrying the children from month to month."""

    def __init__(
        self,
        rng: np.random.Generator,
        calendar: WorkCalendar,
        start: Month,
        profile: story.Profile = story.STORY,
    ) -> None:
        self.rng = rng
        self.profile = profile
        self.calendar = calendar
        self.start = start
        empty_days = np.array([], dtype="datetime64[D]")
        empty = np.array([], dtype=np.int64)
        self.children = Children([], empty_days, empty, empty, empty, empty, empty_days)
        # Case-management systems number people and referrals in sequence.
        self._next_child = 1_204_000 + int(rng.integers(0, 5000))
        self._next_referral = 31_500_000 + int(rng.integers(0, 50_000))

    def month(self, t: int) -> Episodes:
        rng = self.rng
        month = self.start + t
        count = round(
            self.profile.referrals_per_month
            * story.SEASON[month.month]
            * (1 + rng.normal(0, 0.015))
        )
        dates = self._dates(month, count)
        child = self._children(month, t, dates)
        nfa = rng.random(count) < story.NFA.at(t)
        need = np.where(nfa, -1, rng.choice(len(NEEDS), count, p=weights(story.PRIMARY_NEED)))
        area = self.children.area[child]
        teams = np.where(nfa, team("Front Door (MASH)"), area_teams("Assessment")[area])
        disabled = (need == NEEDS.index("N2")) & (rng.random(count) < 0.7)
        teams = np.where(disabled, team("Disabled Children"), teams)
        allocated = ~nfa & (rng.random(count) >= self.profile.unallocated.at(t))
        start, authorised = self._assessments(t, dates, nfa)
        reason, closed, closing = self._endings(t, nfa, authorised, area, teams)
        self._remember(child, t, np.where(nfa, dates, closed))
        numbers = self._next_referral + np.cumsum(rng.integers(1, 4, count))
        self._next_referral = int(numbers[-1])
        return Episodes(
            month=np.full(count, t, dtype=np.int64),
            referral_id=[f"R{number:08d}" for number in numbers.tolist()],
            date=dates,
            child=child,
            source=rng.choice(len(SOURCES), count, p=weights(story.REFERRAL_SOURCE)),
            nfa=nfa,
            need=need,
            team=teams,
            allocated=allocated,
            start=start,
            authorised=authorised,
            closed=closed,
            reason=reason,
            capacity=np.zeros(count, dtype=np.bool_),
            closing_team=closing,
        )

    def _dates(self, month: Month, count: int) -> Days:
        """Referral days, sorted: weekends and bank holidays are quieter, not silent."""
        days = month_days(month)
        load = np.where(self.calendar.is_working(days), 1.0, 0.3)
        return np.sort(self.rng.choice(days, count, p=load / load.sum()))

    def _children(self, month: Month, t: int, dates: Days) -> Ints:
        """Who each referral is for: re-referrals, children returning after a year, new ones."""
        rng = self.rng
        count = len(dates)
        kids = self.children
        # Only children whose last episode has closed, and who will still be under 18.
        free = (kids.open_until < as_day(month.start)) & (
            kids.dob > as_day(month.end) - np.timedelta64(round(17.5 * _DAYS_A_YEAR), "D")
        )
        # A referral in any of the 11 months before this one is always within the
        # year before the new referral's date, so it counts as a re-referral.
        recent = np.flatnonzero(free & (kids.last_month >= t - 11) & (kids.last_month < t))
        older = np.flatnonzero(free & (kids.last_month < t - 11))
        again = rng.choice(
            recent,
            min(len(recent), rng.binomial(count, self.profile.re_referral.at(t))),
            replace=False,
        )
        back = rng.choice(
            older, min(len(older), rng.binomial(count, story.RETURNING)), replace=False
        )
        known = np.concatenate([again, back]).astype(np.int64)
        new = count - len(known)
        first_new = len(kids.child_id)
        # Known children land on random referrals; new ones are numbered in date order.
        slots = rng.permutation(count)
        child = np.empty(count, dtype=np.int64)
        child[slots[: len(known)]] = known
        fresh = np.sort(slots[len(known) :])
        child[fresh] = first_new + np.arange(new)
        self._new_children(dates[fresh])
        return child

    def _new_children(self, dates: Days) -> None:
        rng = self.rng
        count = len(dates)
        age_years = rng.choice(len(story.AGE), count, p=np.array(story.AGE) / sum(story.AGE))
        age_days = (age_years * _DAYS_A_YEAR + rng.uniform(0, 365, count)).astype(np.int64)
        numbers = self._next_child + np.cumsum(rng.integers(1, 7, count))
        if count:
            self._next_child = int(numbers[-1])
        self.children.extend(
            Children(
                child_id=[str(number) for number in numbers.tolist()],
                dob=dates - age_days.astype("timedelta64[D]"),
                sex=rng.choice(len(SEXES), count, p=weights(story.SEX)),
                ethnicity=rng.choice(len(ETHNICITIES), count, p=weights(story.ETHNICITY)),
                area=rng.choice(len(story.AREAS), count, p=np.array(story.AREA_WEIGHTS)),
                last_month=np.full(count, -(10**6), dtype=np.int64),
                open_until=np.full(count, np.datetime64("1900-01-01", "D")),
            )
        )

    def _assessments(self, t: int, dates: Days, nfa: Bools) -> tuple[Days, Days]:
        """Start within a few working days; authorised 12–45 working days later, or late."""
        rng = self.rng
        count = len(dates)
        delay = rng.choice(len(story.START_DELAY), count, p=np.array(story.START_DELAY))
        start = np.busday_offset(dates, delay, roll="forward", busdaycal=self.calendar.calendar)
        timely = rng.random(count) < story.TIMELY.at(t)
        on_time = np.minimum(np.floor(rng.triangular(12, 38, 46, count)), 45)
        late = np.minimum(46 + np.floor(rng.exponential(14, count)), 130)
        took = np.where(timely, on_time, late).astype(np.int64)
        authorised = self.calendar.add(start, took)
        return np.where(nfa, NAT, start), np.where(nfa, NAT, authorised)

    def _endings(
        self, t: int, nfa: Bools, authorised: Days, area: Ints, teams: Ints
    ) -> tuple[Ints, Days, Ints]:
        """How and when each assessed referral's episode ends, and which team closes it."""
        rng = self.rng
        count = len(nfa)
        table = dict(story.CLOSURE_REASON)
        # Capacity closures are RC7s picked later; keep RC7's total share steady.
        expected = self.profile.referrals_per_month * (1 - story.NFA.at(t))
        table["RC7"] -= self.profile.capacity_closures.at(t) / expected
        reason = rng.choice(len(REASONS), count, p=weights(table))
        code = np.array(REASONS)[reason]
        after_assessment = np.isin(code, ["RC8", "RC9"])
        orders = np.isin(code, ["RC1", "RC3", "RC4"])
        short = rng.random(count) < 0.6
        lag = np.select(
            [after_assessment, code == "RC7", orders],
            [
                np.where(rng.random(count) < 0.5, 0, rng.integers(1, 15, count)),
                np.where(short, rng.integers(0, 15, count), rng.lognormal(np.log(60), 0.7, count)),
                rng.lognormal(np.log(240), 0.45, count),
            ],
            default=rng.lognormal(np.log(80), 0.7, count),
        ).astype(np.int64)
        closed = self.calendar.on_or_after(authorised + np.minimum(lag, 1500))
        # Episodes that run on are held by a Children in Need or Child Protection team.
        plan = np.where(
            rng.random(count) < 0.55,
            area_teams("Children in Need")[area],
            area_teams("Child Protection")[area],
        )
        closing = np.select(
            [after_assessment, teams == team("Disabled Children"), orders, code == "RC7"],
            [teams, teams, np.full(count, team("Children in Care")), plan],
            default=area_teams("Children in Need")[area],
        )
        return np.where(nfa, -1, reason), np.where(nfa, NAT, closed), closing

    def _remember(self, child: Ints, t: int, until: Days) -> None:
        kids = self.children
        kids.last_month[child] = t
        open_until = kids.open_until.astype(np.int64)
        np.maximum.at(open_until, child, until.astype(np.int64))
        kids.open_until = open_until.astype("datetime64[D]")


def simulate_referrals(
    rng: np.random.Generator,
    calendar: WorkCalendar,
    start: Month,
    months: int,
    profile: story.Profile = story.STORY,
) -> tuple[Episodes, Children]:
    """Every referral from the warm-up to the last month, and the children they are for."""
    model = ReferralModel(rng, calendar, start, profile)
    parts = [model.month(t) for t in range(-story.WARM_UP_MONTHS, months)]
    return Episodes.join(parts), model.children


def referrals_table(
    episodes: Episodes, children: Children, la_code: str, month: Month, t: int
) -> Table:
    """Month ``t``'s referrals file: its new referrals as at month end, then updates.

    An update is a referral from the 12 months before whose assessment was
    authorised this month; by then it has a worker.
    """
    end = as_day(month.end)
    first, last = as_day(month.start), end
    received = episodes.month == t
    updated = (
        (episodes.month < t)
        & (episodes.month >= t - 12)
        & (episodes.authorised >= first)
        & (episodes.authorised <= last)
    )
    rows = np.concatenate([np.flatnonzero(received), np.flatnonzero(updated)])
    start = episodes.start[rows]
    authorised = episodes.authorised[rows]
    allocated = np.where(updated[rows], True, episodes.allocated[rows])
    child = episodes.child[rows]
    return Table.from_columns(
        "referrals",
        {
            "la_code": [la_code] * len(rows),
            "referral_id": [episodes.referral_id[i] for i in rows.tolist()],
            "child_id": [children.child_id[i] for i in child.tolist()],
            "referral_date": date_cells(episodes.date[rows]),
            "referral_source": code_cells(SOURCES, episodes.source[rows]),
            "primary_need": code_cells(NEEDS, episodes.need[rows]),
            "nfa": episodes.nfa[rows].tolist(),
            "date_of_birth": date_cells(children.dob[child]),
            "sex": code_cells(SEXES, children.sex[child]),
            "ethnicity": code_cells(ETHNICITIES, children.ethnicity[child]),
            # What the month's end could see: later dates are still blank.
            "assessment_start_date": date_cells(np.where(start <= end, start, NAT)),
            "assessment_authorised_date": date_cells(np.where(authorised <= end, authorised, NAT)),
            "team": [TEAM_NAMES[i] for i in episodes.team[rows].tolist()],
            "allocated": allocated.tolist(),
        },
    )
