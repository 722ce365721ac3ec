"""Three years of small, deterministic monthly files for the rerun tests.

Not realistic volumes (see etl.sample for that): enough rows that every
measure moves, with referral files carrying updated versions of the 12
months before (assessments started and authorised later) as EXTRACTS.md
describes, re-referrals of the same children, and a leap February.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from etl.months import Month, month_range
from tests.warehouse.extracts import closure, leaver, referral, vacancy, worker

FIRST = Month(2022, 4)
MONTHS = month_range(FIRST, 36)
DATASETS = ("workforce", "referrals", "closures")

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class _Referral:
    referral_id: str
    child: str
    day: date
    nfa: bool
    allocated: bool | None
    start: date | None
    authorised: date | None

    def as_of(self, month: Month) -> dict[str, Any]:
        """The row as month ``month``'s file has it (what was known at its end)."""
        end = month.end
        start = self.start if self.start and self.start <= end else None
        authorised = (
            self.authorised if start and self.authorised and self.authorised <= end else None
        )
        return referral(
            self.referral_id,
            self.child,
            self.day,
            nfa=self.nfa,
            allocated=self.allocated,
            start=start,
            authorised=authorised,
        )


def _day_in(rng: random.Random, month: Month) -> date:
    return month.start + timedelta(days=rng.randrange((month.end - month.start).days + 1))


def history(seed: int = 7) -> dict[tuple[str, Month], Rows]:
    """Every file's rows, by (dataset, month)."""
    rng = random.Random(seed)
    files: dict[tuple[str, Month], Rows] = {}
    referrals: list[_Referral] = []
    for month in MONTHS:
        files["workforce", month] = _workforce(rng, month)
        for i in range(12):
            day = _day_in(rng, month)
            nfa = rng.random() < 0.2
            start = None if nfa else day + timedelta(days=rng.randrange(6))
            authorised = None if start is None else start + timedelta(days=rng.randrange(10, 80))
            allocated = rng.choice([True, True, False, None])
            child = f"C{rng.randrange(60)}"
            referrals.append(
                _Referral(f"R{month}-{i}", child, day, nfa, allocated, start, authorised)
            )
        files["referrals", month] = [r.as_of(month) for r in referrals if _in_file(r, month)]
        earlier = [r for r in referrals if r.day <= month.end]
        chosen = rng.sample(earlier, min(6, len(earlier)))
        files["closures", month] = [
            closure(
                r.referral_id,
                r.day,
                max(r.day, _day_in(rng, month)),
                reason=rng.choice([f"RC{n}" for n in range(1, 10)]),
                capacity=rng.random() < 0.15,
            )
            for r in chosen
        ]
    return files


def _in_file(r: _Referral, month: Month) -> bool:
    """Received in the month, or changed in it within the 12 months after."""
    if Month.of(r.day) == month:
        return True
    if not 0 < month.months_since(Month.of(r.day)) <= 12:
        return False
    return any(d is not None and Month.of(d) == month for d in (r.start, r.authorised))


def _workforce(rng: random.Random, month: Month) -> Rows:
    rows: Rows = []
    for post in range(20):
        fte = rng.choice([1.0, 0.8, 0.6, 0.5])
        kind = rng.random()
        if kind < 0.7:
            rows.append(
                worker(
                    f"P{post}",
                    fte=fte,
                    caseload=rng.choice([None, 0, 5, 12, 18, 20, 21, 25]),
                    days_lost=rng.choice([None, 0.0, 0.5, 1.0, 2.5]),
                    month=month,
                )
            )
        elif kind < 0.85:
            rows.append(worker(f"P{post}", fte=fte, agency=True, caseload=15, month=month))
        else:
            covered = rng.random() < 0.5
            rows.append(vacancy(f"P{post}", fte=fte, covered=covered, month=month))
            if covered:
                rows.append(worker(f"A{post}", fte=fte, agency=True, caseload=10, month=month))
    for n in range(rng.randrange(3)):
        rows.append(leaver(f"L{month}-{n}", fte=rng.choice([1.0, 0.5]), agency=n == 1, month=month))
    return rows


def altered(rows: Rows, seed: int) -> Rows:
    """A different version of a file (what a first, wrong submission might hold)."""
    rng = random.Random(seed)
    kept = [dict(r) for r in rows if rng.random() < 0.7]
    return kept[:-1] if len(kept) > 1 else kept


__all__ = ["DATASETS", "MONTHS", "altered", "history"]
