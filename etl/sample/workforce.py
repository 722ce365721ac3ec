"""The workforce: posts, the people in them, and the month-end file.

A small agent model.  Every post keeps its ``post_id``; it is held by a
permanent worker, or vacant (and perhaps covered by an agency worker).  Each
month some permanent workers leave, recruitment fills vacancies down to the
story's vacancy rate, and agency cover is taken on or let go towards the
story's agency rate.  People keep their ``worker_id`` for as long as they stay.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from etl.months import Month
from etl.sample import story
from etl.sample.days import WorkCalendar, weights
from etl.sample.writer import Cell, Table

_CASE_HOLDERS = (4, 5)


@dataclass(frozen=True)
class Post:
    post_id: str
    team: str
    team_order: int
    org_role: int
    fte: float
    #: Month index the post joined the establishment.
    opened: int


@dataclass(frozen=True)
class Person:
    worker_id: str
    agency: bool
    start: date
    #: Where this worker's caseload sits against the mean, in standard deviations.
    offset: float


@dataclass(frozen=True)
class Leaver:
    post: Post
    person: Person
    end: date
    reason: int


class WorkforceModel:
    """The establishment month by month; :meth:`step` moves it on one month."""

    def __init__(
        self,
        rng: np.random.Generator,
        calendar: WorkCalendar,
        la_code: str,
        profile: story.Profile = story.STORY,
    ) -> None:
        self.rng = rng
        self.profile = profile
        self.calendar = calendar
        self.la_code = la_code
        self.posts: list[Post] = []
        self.holder: dict[str, Person] = {}
        self.cover: dict[str, Person] = {}
        self._used_ids: set[str] = set()
        self._funded = 0
        self._leaving_carry = 0.5
        self._plan = [team for team, count in self.profile.new_post_plan for _ in range(count)]
        self._team_order = {team: i for i, (team, _) in enumerate(self.profile.teams)}

    # --- people and posts --------------------------------------------------------

    def _worker_id(self) -> str:
        # Social Work England numbers: two letters and ten digits.
        while True:
            worker_id = f"SW{int(self.rng.integers(10**9, 10**10)):010d}"
            if worker_id not in self._used_ids:
                self._used_ids.add(worker_id)
                return worker_id

    def _person(self, agency: bool, start: date) -> Person:
        return Person(self._worker_id(), agency, start, float(self.rng.normal()))

    def _open_post(self, team: str, role: int, t: int) -> Post:
        fte = 1.0
        if role >= 3 and self.rng.random() < story.PART_TIME_SHARE:
            sizes = story.PART_TIME_FTE
            fte = float(self.rng.choice(list(sizes), p=np.array(list(sizes.values()))))
        post = Post(f"CSC{10001 + len(self.posts):05d}", team, self._team_order[team], role, fte, t)
        self.posts.append(post)
        return post

    def _day_in(self, month: Month) -> date:
        """A working day of the month: people start and leave on working days."""
        days = self.calendar.working_days_of(month)
        picked: date = days[int(self.rng.integers(len(days)))].astype(object)
        return picked

    # --- the model -----------------------------------------------------------------

    def establish(self, month: Month, t: int) -> None:
        """The establishment as it stood before the first simulated month."""
        for team, roles in self.profile.teams:
            for role, count in roles.items():
                for _ in range(count):
                    self._open_post(team, role, t)
        vacant = set(
            self.rng.choice(
                len(self.posts),
                round(self.profile.vacancy_rate.at(0) * len(self.posts)),
                replace=False,
            ).tolist()
        )
        for i, post in enumerate(self.posts):
            if i not in vacant:
                # Long-serving staff: years in post, most of them a few.
                tenure = 30 + int(self.rng.exponential(5.5 * 365))
                self.holder[post.post_id] = self._person(False, month.start - timedelta(tenure))
        for post in self._order(self._uncovered(), case_holders_first=True):
            if self._agency_fte() >= self._agency_target(0):
                break
            start = month.start - timedelta(int(self.rng.integers(20, 400)))
            self.cover[post.post_id] = self._person(True, start)

    def step(self, month: Month, t: int) -> list[Leaver]:
        """Move on one month: new posts, leavers, recruitment, agency cover."""
        self._fund_posts(t)
        leavers = self._permanent_leavers(month, t)
        leavers += self._agency_churn(month)
        vacated = {leaver.post.post_id for leaver in leavers if not leaver.person.agency}
        leavers += self._recruit(month, t, vacated)
        leavers += self._adjust_agency(month, t)
        return leavers

    def _fund_posts(self, t: int) -> None:
        funded = self.profile.new_posts[t] if 0 <= t < len(self.profile.new_posts) else 0
        for _ in range(min(funded, len(self._plan))):
            # Mostly case holders, with a senior practitioner and a manager in turn.
            k = self._funded
            self._funded += 1
            role = 3 if k % 8 == 7 else 4 if k % 4 == 1 else 5
            self._open_post(self._plan.pop(0), role, t)

    def _permanent_leavers(self, month: Month, t: int) -> list[Leaver]:
        held = [post for post in self.posts if post.post_id in self.holder]
        # The story's number of leavers (carrying the fraction to next month), at
        # random: coin flips per person would let a year's turnover drift by 2-3 points.
        expected = self.profile.turnover.at(t) / 12 * len(held) + self._leaving_carry
        count = int(expected)
        self._leaving_carry = expected - count
        leaving = self.rng.choice(len(held), count, replace=False)
        leavers = []
        for post in (held[i] for i in np.sort(leaving)):
            person = self.holder.pop(post.post_id)
            reason = _pick(self.rng, story.REASON_LEAVE_PERMANENT)
            leavers.append(Leaver(post, person, self._day_in(month), reason))
        return leavers

    def _agency_churn(self, month: Month) -> list[Leaver]:
        covered = [post for post in self.posts if post.post_id in self.cover]
        ending = self.rng.random(len(covered)) < story.AGENCY_CHURN
        leavers = []
        for post in (post for post, gone in zip(covered, ending, strict=True) if gone):
            person = self.cover.pop(post.post_id)
            reason = _pick(self.rng, story.REASON_LEAVE_AGENCY)
            leavers.append(Leaver(post, person, self._day_in(month), reason))
        return leavers

    def _recruit(self, month: Month, t: int, vacated: set[str]) -> list[Leaver]:
        """Fill vacancies down to the story's vacancy rate; agency cover in them ends."""
        establishment = sum(post.fte for post in self.posts)
        vacant_fte = sum(post.fte for post in self.posts if post.post_id not in self.holder)
        target = self.profile.vacancy_rate.at(t) * establishment * (1 + self.rng.normal(0, 0.012))
        # Posts vacated or funded this month are not filled the same month.
        open_posts = [
            post
            for post in self.posts
            if post.post_id not in self.holder and post.post_id not in vacated and post.opened < t
        ]
        leavers = []
        for post in self._order(open_posts):
            if vacant_fte - post.fte / 2 <= target:
                break
            start = self._day_in(month)
            agency = self.cover.pop(post.post_id, None)
            if agency is not None:
                end = max(month.start, start - timedelta(1))
                leavers.append(Leaver(post, agency, end, 8))
            self.holder[post.post_id] = self._person(False, start)
            vacant_fte -= post.fte
        return leavers

    def _adjust_agency(self, month: Month, t: int) -> list[Leaver]:
        """Take on or let go agency workers towards the story's agency rate."""
        target = self._agency_target(t) * (1 + self.rng.normal(0, 0.015))
        current = self._agency_fte()
        if current < target - 0.5:
            for post in self._order(self._uncovered(), case_holders_first=True):
                if current >= target - 0.5:
                    break
                self.cover[post.post_id] = self._person(True, self._day_in(month))
                current += post.fte
            return []
        leavers = []
        if current > target + 1:
            covered = [post for post in self.posts if post.post_id in self.cover]
            for post in self._order(covered):
                if current <= target + 0.5:
                    break
                person = self.cover.pop(post.post_id)
                leavers.append(Leaver(post, person, self._day_in(month), 8))
                current -= post.fte
        return leavers

    def _agency_target(self, t: int) -> float:
        rate = self.profile.agency_rate.at(t)
        permanent = sum(post.fte for post in self.posts if post.post_id in self.holder)
        return rate / (1 - rate) * permanent

    def _agency_fte(self) -> float:
        return sum(post.fte for post in self.posts if post.post_id in self.cover)

    def _uncovered(self) -> list[Post]:
        return [
            post
            for post in self.posts
            if post.post_id not in self.holder and post.post_id not in self.cover
        ]

    def _order(self, posts: list[Post], *, case_holders_first: bool = False) -> list[Post]:
        """A random order; agencies mostly supply case holders, so those come first."""
        keys = self.rng.random(len(posts))
        if case_holders_first:
            keys += np.array([post.org_role not in _CASE_HOLDERS for post in posts], dtype=float)
        return [posts[i] for i in np.argsort(keys, kind="stable")]

    # --- the month-end file ----------------------------------------------------------

    def table(self, month: Month, t: int, leavers: list[Leaver]) -> Table:
        """The month's workforce extract: workers, vacancies (and their cover), leavers."""
        end = month.end
        rows: list[tuple[int, str, int, dict[str, Cell]]] = []
        for post in self.posts:
            person = self.holder.get(post.post_id)
            if person is not None:
                rows.append((post.team_order, post.post_id, 0, self._worker(post, person, end, t)))
                continue
            agency = self.cover.get(post.post_id)
            rows.append((post.team_order, post.post_id, 1, self._vacancy(post, end, agency)))
            if agency is not None:
                rows.append((post.team_order, post.post_id, 2, self._worker(post, agency, end, t)))
        for leaver in leavers:
            post = leaver.post
            rows.append((post.team_order, post.post_id, 3, self._leaver(leaver, end)))
        rows.sort(key=lambda row: row[:3])
        return Table.from_records("workforce", [row[3] for row in rows])

    def _base(self, post: Post, end: date, record_type: str) -> dict[str, Cell]:
        return {
            "la_code": self.la_code,
            "snapshot_date": end,
            "record_type": record_type,
            "post_id": post.post_id,
            "team": post.team,
            "org_role": post.org_role,
            "fte": post.fte,
            "worker_id": None,
            "agency_worker": None,
            "covered_by_agency": None,
            "start_date": None,
            "end_date": None,
            "reason_leave": None,
            "caseload": None,
            "working_days_lost": None,
        }

    def _worker(self, post: Post, person: Person, end: date, t: int) -> dict[str, Cell]:
        row = self._base(post, end, "worker")
        row["worker_id"] = person.worker_id
        row["agency_worker"] = person.agency
        row["start_date"] = person.start
        if post.org_role in _CASE_HOLDERS:
            row["caseload"] = self._caseload(post, person, end, t)
        row["working_days_lost"] = self._days_lost(post)
        return row

    def _vacancy(self, post: Post, end: date, agency: Person | None) -> dict[str, Cell]:
        row = self._base(post, end, "vacancy")
        row["covered_by_agency"] = agency is not None
        return row

    def _leaver(self, leaver: Leaver, end: date) -> dict[str, Cell]:
        row = self._base(leaver.post, end, "leaver")
        row["worker_id"] = leaver.person.worker_id
        row["agency_worker"] = leaver.person.agency
        row["start_date"] = leaver.person.start
        row["end_date"] = leaver.end
        row["reason_leave"] = leaver.reason
        return row

    def _caseload(self, post: Post, person: Person, end: date, t: int) -> int:
        level = story.CASELOAD_MEAN.at(t) + person.offset * story.CASELOAD_SD.at(t)
        level += self.rng.normal(0, 1.2)
        days_in_post = (end - person.start).days
        if not person.agency and days_in_post < 31:
            # A new starter is given a few cases in the first weeks.
            level *= self.rng.uniform(0.05, 0.4)
        elif not person.agency and days_in_post < 183:
            level *= 0.8  # protected caseloads while newly qualified
        if post.org_role == 4:
            level *= 0.9  # senior practitioners hold fewer, more complex cases
        return max(0, round(level * post.fte))

    def _days_lost(self, post: Post) -> float | None:
        draw = self.rng.random()
        if draw < 0.06:
            return None  # not recorded this month
        if draw < 0.72:
            return 0.0
        if draw < 0.965:
            return float(self.rng.integers(1, 11)) / 2  # a few days off sick
        # Long-term sickness: most of the month.
        return round(float(self.rng.uniform(8, 20)) * post.fte * 2) / 2


def _pick(rng: np.random.Generator, table: dict[int, float]) -> int:
    return int(rng.choice(list(table), p=weights(table)))


def simulate_workforce(
    rng: np.random.Generator,
    calendar: WorkCalendar,
    la_code: str,
    start: Month,
    months: int,
    profile: story.Profile = story.STORY,
) -> Iterator[tuple[Month, Table]]:
    """The workforce file of every written month, after the warm-up months."""
    model = WorkforceModel(rng, calendar, la_code, profile)
    model.establish(start - story.WARM_UP_MONTHS, -story.WARM_UP_MONTHS)
    for t in range(-story.WARM_UP_MONTHS, months):
        month = start + t
        leavers = model.step(month, t)
        if t >= 0:
            yield month, model.table(month, t, leavers)
