"""Every measure of KPIS.md on small hand-made data, answers worked out by hand.

Each test loads a few files, then reads the stored measures with kpis_for.
The comments carry the arithmetic; the edges are here on purpose: the leap
day, bank holidays in the 45 working days, a referral exactly a year after
the last, zero denominators and missing months.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.errors import CscError
from etl.months import Month, month_range
from etl.warehouse.db import upgrade
from etl.warehouse.measures import KPI_IDS, KpiValue, kpis_for, months_affected
from etl.warehouse.measures_sql import days_between, year_before
from etl.warehouse.schema import working_days
from etl.workdays import working_days_after
from tests.warehouse.extracts import closure, leaver, load, referral, vacancy, worker

M = Month.parse


def measures(engine: Engine, month: str, la_code: str = "330") -> dict[str, KpiValue]:
    values = kpis_for(engine, la_code, M(month))
    assert [v.kpi_id for v in values] == KPI_IDS
    return {v.kpi_id: v for v in values}


def check(
    value: KpiValue, expected: float | None, num: float | None = None, den: float | None = None
) -> None:
    """A measure's value (and, for rates, numerator and denominator)."""
    assert value.value == pytest.approx(expected), value
    if num is not None or den is not None:
        assert (value.numerator, value.denominator) == (pytest.approx(num), pytest.approx(den))


def blank(value: KpiValue, reason: str) -> None:
    assert value.value is None, value
    assert value.reason == reason


# --- the SQL date constructs and the calendar -----------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 2, 29), date(2023, 2, 28)),  # leap day -> 28 February
        (date(2024, 2, 28), date(2023, 2, 28)),
        (date(2024, 3, 1), date(2023, 3, 1)),
        (date(2025, 2, 28), date(2024, 2, 28)),
        (date(2025, 3, 1), date(2024, 3, 1)),
        (date(2021, 1, 1), date(2020, 1, 1)),
        (date(2020, 12, 31), date(2019, 12, 31)),
    ],
)
def test_year_before(db: Engine, day: date, expected: date) -> None:
    with db.connect() as connection:
        got = connection.scalar(sa.select(year_before(sa.literal(day, sa.Date))))
    assert str(got) == expected.isoformat()


def test_days_between(db: Engine) -> None:
    pairs = [(date(2024, 2, 28), date(2024, 3, 1), 2), (date(2023, 3, 1), date(2024, 3, 1), 366)]
    with db.connect() as connection:
        for first, second, days in pairs:
            query = sa.select(days_between(sa.literal(first, sa.Date), sa.literal(second, sa.Date)))
            assert connection.scalar(query) == days


def test_calendar_counts_as_etl_workdays(db: Engine) -> None:
    """Counting calendar rows in SQL agrees with etl.workdays, holidays and all."""
    rng = random.Random(4)
    pairs = [(date(2023, 12, 1), date(2024, 2, 7)), (date(2024, 3, 28), date(2024, 4, 2))]
    for _ in range(40):
        start = date(2019, 1, 1) + timedelta(days=rng.randrange(3000))
        pairs.append((start, start + timedelta(days=rng.randrange(120))))
    wd = working_days
    with db.connect() as connection:
        for start, end in pairs:
            query = sa.select(sa.func.count()).where(wd.c.day > start, wd.c.day <= end)
            assert connection.scalar(query) == working_days_after(start, end), (start, end)


# --- workforce ---------------------------------------------------------------------------


def _load_workforce_year(db: Engine, skip: Month | None = None) -> None:
    """Workforce files 2023-03..2024-03: one permanent worker, and leavers.

    Permanent leavers: 1.0 FTE in 2023-03, 0.5 in 2023-04, 0.6 in 2024-01 and
    0.4 in 2024-03; an agency leaver (1.0) in 2023-09 never counts.
    """
    leavers = {
        M("2023-03"): [leaver("L0", fte=1.0, month=M("2023-03"))],
        M("2023-04"): [leaver("L1", fte=0.5, month=M("2023-04"))],
        M("2023-09"): [leaver("L2", fte=1.0, agency=True, month=M("2023-09"))],
        M("2024-01"): [leaver("L3", fte=0.6, month=M("2024-01"))],
    }
    for month in month_range(M("2023-03"), 12):
        if month != skip:
            rows = [worker("P1", fte=1.0, month=month), *leavers.get(month, [])]
            load(db, "workforce", month, rows)
    march = M("2024-03")
    load(
        db,
        "workforce",
        march,
        [
            worker("P1", fte=1.0, caseload=22, days_lost=2.0, month=march),
            worker("P2", fte=0.5, caseload=0, month=march),  # caseload 0: not in the average
            worker("P3", fte=1.0, agency=True, caseload=18, days_lost=5.0, month=march),
            worker("P4", fte=0.8, days_lost=1.5, month=march),  # a manager: no caseload
            worker("P5", fte=0.5, agency=True, caseload=20, month=march),  # 20 is not over 20
            vacancy("P3", fte=1.0, covered=True, month=march),
            vacancy("V2", fte=0.5, covered=False, month=march),
            leaver("L4", fte=0.4, month=march),
        ],
    )


def test_workforce_measures(db: Engine) -> None:
    _load_workforce_year(db)
    got = measures(db, "2024-03")
    check(got["permanent_fte"], 2.3)  # P1 1.0 + P2 0.5 + P4 0.8
    check(got["agency_fte"], 1.5)  # P3 1.0 + P5 0.5
    check(got["vacancy_fte"], 1.5)
    check(got["uncovered_vacancy_fte"], 0.5)
    check(got["vacancy_rate"], 1.5 / 3.8, 1.5, 3.8)  # 1.5 / (1.5 + 2.3)
    check(got["agency_rate"], 1.5 / 3.8, 1.5, 3.8)  # 1.5 / (1.5 + 2.3)
    # Permanent leavers of 2023-04..2024-03: 0.5 + 0.6 + 0.4 (not 2023-03's,
    # not the agency leaver) over the permanent FTE at March.
    check(got["turnover_rate_12m"], 1.5 / 2.3, 1.5, 2.3)
    # Workers with caseload >= 1: P1 22, P3 18, P5 20 over 1.0 + 1.0 + 0.5 FTE.
    check(got["average_caseload"], 60 / 2.5, 60, 2.5)
    check(got["caseload_over_20"], 1)  # P1 only
    # Permanent days lost: P1 2.0 + P2 blank (0) + P4 1.5; P3 is agency.
    check(got["days_lost_per_fte"], 3.5 / 2.3, 3.5, 2.3)
    for kpi_id in ("permanent_fte", "caseload_over_20"):
        assert (got[kpi_id].numerator, got[kpi_id].denominator) == (None, None)

    # February's window is 2023-03..2024-02: 1.0 + 0.5 + 0.6 over P1's 1.0.
    check(measures(db, "2024-02")["turnover_rate_12m"], 2.1, 2.1, 1.0)
    # 2023-03 has no file for 2022-04..2023-02.
    blank(
        measures(db, "2023-03")["turnover_rate_12m"],
        "workforce files for 2022-04..2023-02 not loaded",
    )


def test_turnover_blank_when_a_month_of_the_window_is_missing(db: Engine) -> None:
    _load_workforce_year(db, skip=M("2023-08"))
    got = measures(db, "2024-03")
    blank(got["turnover_rate_12m"], "workforce file for 2023-08 not loaded")
    check(got["permanent_fte"], 2.3)  # the month itself is still there


def test_workforce_zero_denominators(db: Engine) -> None:
    """Only agency workers: permanent FTE 0, so the permanent rates are blank."""
    month = M("2024-05")
    load(db, "workforce", month, [worker("A1", fte=1.0, agency=True, month=month)])
    got = measures(db, "2024-05")
    check(got["permanent_fte"], 0)
    check(got["vacancy_fte"], 0)
    blank(got["vacancy_rate"], "no vacancy or permanent FTE")
    assert (got["vacancy_rate"].numerator, got["vacancy_rate"].denominator) == (0, 0)
    check(got["agency_rate"], 1.0, 1.0, 1.0)
    blank(got["days_lost_per_fte"], "no permanent FTE in the month")
    blank(got["average_caseload"], "no workers with a caseload")
    check(got["caseload_over_20"], 0)


def test_header_only_workforce_file(db: Engine) -> None:
    load(db, "workforce", "2024-05", [])
    got = measures(db, "2024-05")
    for kpi_id in ("permanent_fte", "agency_fte", "vacancy_fte", "caseload_over_20"):
        check(got[kpi_id], 0)
    blank(got["agency_rate"], "no agency or permanent FTE")


# --- referrals and assessments -------------------------------------------------------------

D = date


def _load_referrals(db: Engine) -> None:
    """Referral files 2023-02..2024-03 (most of them header-only)."""
    files: dict[Month, list[dict[str, object]]] = {m: [] for m in month_range(M("2023-02"), 14)}
    files[M("2023-02")] = [
        referral("A0", "A", D(2023, 2, 28)),
        referral("B0", "B", D(2023, 2, 27)),
        referral("C0", "C", D(2023, 2, 10)),
        referral("D0", "D", D(2023, 2, 9)),
    ]
    # Two assessments starting 2023-12-01 and authorised in February.
    files[M("2023-11")] = [
        referral("S1", "H", D(2023, 11, 30)),
        referral("S2", "I", D(2023, 11, 30)),
    ]
    files[M("2023-12")] = [
        referral("S1", "H", D(2023, 11, 30), start=D(2023, 12, 1)),
        referral("S2", "I", D(2023, 11, 30), start=D(2023, 12, 1)),
    ]
    files[M("2024-02")] = [
        # 29 Feb: a year earlier is 28 Feb 2023, when A was referred.
        referral("R1", "A", D(2024, 2, 29), start=D(2024, 2, 29), authorised=D(2024, 2, 29)),
        referral("R2", "B", D(2024, 2, 29), nfa=True, allocated=False),  # B0 is a day too early
        referral("R3", "C", D(2024, 2, 10)),  # C0 exactly 12 months before: in the window
        referral("R4", "D", D(2024, 2, 10), nfa=True),  # D0 a year and a day before
        referral("R5", "E", D(2024, 2, 15), allocated=False),
        referral("R6", "E", D(2024, 2, 15), allocated=None),  # same day as R5: neither counts
        referral("R7", "F", D(2024, 2, 20), start=D(2024, 2, 21)),
        referral("R8", "F", D(2024, 2, 19)),  # the day before R7
        # Working days after 1 Dec 2023 (Christmas, Boxing Day and New Year's Day
        # are bank holidays): 18 in December, 22 in January, then 1, 2, 5, 6, 7
        # February make 45 -> in time; 8 February is the 46th -> late.  Without
        # the bank holidays 7 February would be the 48th.
        referral("S1", "H", D(2023, 11, 30), start=D(2023, 12, 1), authorised=D(2024, 2, 7)),
        referral("S2", "I", D(2023, 11, 30), start=D(2023, 12, 1), authorised=D(2024, 2, 8)),
    ]
    files[M("2024-03")] = [
        # March's version of R7 is its current state: unallocated, authorised.
        referral(
            "R7",
            "F",
            D(2024, 2, 20),
            allocated=False,
            start=D(2024, 2, 21),
            authorised=D(2024, 3, 28),
        ),
        referral("R11", "A", D(2024, 3, 1)),  # A's R1 was the day before
    ]
    for month, rows in files.items():
        load(db, "referrals", month, rows)


def test_referral_measures(db: Engine) -> None:
    _load_referrals(db)
    got = measures(db, "2024-02")
    check(got["referrals"], 8)  # R1..R8; S1 and S2 are November's
    check(got["re_referral_rate"], 3 / 8, 3, 8)  # R1 (leap day), R3 (a year), R7 (a day)
    check(got["nfa_rate"], 2 / 8, 2, 8)  # R2, R4
    check(got["assessments_completed"], 3)  # R1, S1, S2
    check(got["assessment_timeliness"], 2 / 3, 2, 3)  # R1 (0 days), S1 (45); S2 took 46
    # nfa false and allocated false: R5, and R7 as its March version says;
    # R6's allocation is blank, R2 led to no further action.
    check(got["unallocated_referrals"], 2)

    march = measures(db, "2024-03")
    check(march["referrals"], 1)
    check(march["re_referral_rate"], 1.0, 1, 1)
    # R7: 21 Feb to 28 Mar is 26 working days.
    check(march["assessments_completed"], 1)
    check(march["assessment_timeliness"], 1.0, 1, 1)

    november = measures(db, "2023-11")
    check(november["referrals"], 2)
    blank(november["re_referral_rate"], "referrals files for 2022-11..2023-01 not loaded")
    check(november["nfa_rate"], 0.0, 0, 2)
    check(november["assessments_completed"], 0)
    blank(november["assessment_timeliness"], "no assessments authorised in the month")

    may = measures(db, "2023-05")  # a header-only file
    check(may["referrals"], 0)
    check(may["unallocated_referrals"], 0)
    blank(may["nfa_rate"], "no referrals in the month")
    blank(may["re_referral_rate"], "referrals files for 2022-05..2023-01 not loaded")


def test_resubmitted_earlier_month_keeps_later_versions(db: Engine) -> None:
    """February resubmitted without R8: R7 stays as March has it."""
    _load_referrals(db)
    february = [
        referral("R1", "A", D(2024, 2, 29), start=D(2024, 2, 29), authorised=D(2024, 2, 29)),
        referral("R7", "F", D(2024, 2, 20), start=D(2024, 2, 21)),
    ]
    result = load(db, "referrals", "2024-02", february)
    assert result.status == "loaded" and result.superseded is not None
    got = measures(db, "2024-02")
    check(got["referrals"], 2)
    check(got["re_referral_rate"], 1 / 2, 1, 2)  # R1 only: R8 is gone
    check(got["unallocated_referrals"], 1)  # R7, from March's version
    check(got["assessments_completed"], 1)  # S1 and S2's authorised versions are gone
    # November's referrals are now current as December's versions.
    check(measures(db, "2023-11")["referrals"], 2)
    # March's re-referral (A on 1 March, R1 on 29 February) still counts.
    check(measures(db, "2024-03")["re_referral_rate"], 1.0, 1, 1)


def test_referral_twelve_months_after_the_last_is_a_re_referral(db: Engine) -> None:
    for month in month_range(M("2023-06"), 13):
        rows = []
        if month == M("2023-06"):
            rows = [referral("X1", "K", D(2023, 6, 15))]
        if month == M("2024-06"):
            rows = [referral("X2", "K", D(2024, 6, 15)), referral("X3", "L", D(2024, 6, 16))]
        load(db, "referrals", month, rows)
    check(measures(db, "2024-06")["re_referral_rate"], 1 / 2, 1, 2)


# --- closures ------------------------------------------------------------------------------------


def _load_closures(db: Engine) -> None:
    load(
        db,
        "closures",
        "2024-01",
        [
            closure("J1", D(2023, 12, 1), D(2024, 1, 11)),  # 41 days
            closure("J2", D(2024, 1, 1), D(2024, 1, 21), capacity=True),  # 20 days
        ],
    )
    load(db, "closures", "2024-02", [])
    load(
        db,
        "closures",
        "2024-03",
        [
            closure("C1", D(2024, 2, 28), D(2024, 3, 1), reason="RC1"),  # 2 days (29 Feb)
            closure("C2", D(2023, 3, 1), D(2024, 3, 1), capacity=True),  # 366 days
            closure("C3", D(2024, 3, 10), D(2024, 3, 10)),  # 0 days
            closure("C4", D(2024, 1, 1), D(2024, 3, 15), reason="RC8"),  # 31 + 29 + 14 = 74
            closure("C5", D(2023, 12, 25), D(2024, 3, 20), reason="RC9"),  # 6 + 31 + 29 + 20 = 86
        ],
    )


def test_closure_measures(db: Engine) -> None:
    _load_closures(db)
    got = measures(db, "2024-03")
    check(got["closures"], 5)
    expected = {"rc1": 1, "rc7": 2, "rc8": 1, "rc9": 1}
    for n in range(1, 10):
        check(got[f"closures_rc{n}"], expected.get(f"rc{n}", 0))
    check(got["capacity_closures"], 1)
    check(got["capacity_closures_3m"], 2)  # January's J2 and March's C2
    check(got["median_episode_days"], 74)  # of 0, 2, 74, 86, 366
    assert got["capacity_closures_3m"].numerator is None

    january = measures(db, "2024-01")
    check(january["median_episode_days"], 30.5)  # (20 + 41) / 2
    blank(january["capacity_closures_3m"], "closures files for 2023-11..2023-12 not loaded")

    february = measures(db, "2024-02")
    check(february["closures"], 0)
    check(february["capacity_closures"], 0)
    blank(february["median_episode_days"], "no closures in the month")
    blank(february["capacity_closures_3m"], "closures file for 2023-12 not loaded")


def test_missing_months_are_blank(db: Engine) -> None:
    _load_closures(db)
    load(db, "closures", "2024-05", [closure("Z1", D(2024, 5, 1), D(2024, 5, 2))])
    may = measures(db, "2024-05")
    check(may["closures"], 1)
    blank(may["capacity_closures_3m"], "closures file for 2024-04 not loaded")
    # Other datasets' files for March are not loaded: blank, not zero.
    march = measures(db, "2024-03")
    blank(march["permanent_fte"], "workforce file for 2024-03 not loaded")
    blank(march["referrals"], "referrals file for 2024-03 not loaded")
    # No file of any dataset for April: every measure is blank.
    april = measures(db, "2024-04")
    assert all(
        v.value is None and v.reason == "no files loaded for 2024-04" for v in april.values()
    )


def test_las_are_kept_apart(db: Engine) -> None:
    _load_closures(db)
    load(db, "closures", "2024-03", [closure("Q1", D(2024, 3, 1), D(2024, 3, 2))], la_code="331")
    check(measures(db, "2024-03")["closures"], 5)
    other = measures(db, "2024-03", la_code="331")
    check(other["closures"], 1)
    blank(other["capacity_closures_3m"], "closures files for 2024-01..2024-02 not loaded")


def test_months_affected() -> None:
    march = M("2024-03")
    assert months_affected("workforce", march) == month_range(march, 12)
    assert months_affected("referrals", march) == month_range(M("2023-03"), 25)
    assert months_affected("closures", march) == month_range(march, 3)


def test_an_empty_calendar_is_refused(db: Engine) -> None:
    """Without the working-day calendar every assessment would look timely."""
    with db.begin() as connection:
        connection.execute(sa.delete(working_days))
    try:
        with pytest.raises(CscError, match="calendar is empty"):
            load(db, "referrals", "2024-02", [referral("R1", "A", D(2024, 2, 1))])
    finally:
        upgrade(db)  # refills the calendar for the module's other tests
