"""The warehouse the pack tests read, loaded through the real path, and its figures by hand.

Each file is written as a CSV, read by the reader and pseudonymised by the
pseudonymiser (:mod:`tests.warehouse.extracts`); March's closures are also
validated by the GX suite, whose genuine warning (5 capacity closures with
reason RC9, rule ``capacity_closure_not_rc7``, rows 8-12) is what the data
quality appendix lists.

LA 330, pack month 2024-03 (month 24 of the embedded plan, which starts
2022-04).  Workforce and referrals are loaded for March only, so the windowed
turnover and re-referral rates are blank; closures for January to March.

Workforce, March (one team is named like an attack, to prove it arrives as text)::

    Assessment North   P1 permanent 1.0 FTE, 22 cases, 2.0 days lost
                       P2 permanent 0.5 FTE, 10 cases
                       P3 agency    1.0 FTE, 18 cases
                       V1 vacancy   1.0 FTE, covered by agency
    <script>…          P4 permanent 1.0 FTE, 25 cases
                       V2 vacancy   0.5 FTE, not covered

    permanent 2.5, agency 1.0, vacancy 1.5 (0.5 uncovered)
    vacancy rate 1.5 / 4.0 = 37.5%; agency rate 1.0 / 3.5 = 28.6%
    average caseload 75 / 3.5 = 21.4; over 20 cases: P1, P4 = 2
    days lost per FTE 2.0 / 2.5 = 0.8

Referrals, March: R1 (police, N1, assessed in 11 working days), R2 (schools,
no further action), R3 (health, N4, unallocated), R4 (police, N1)::

    referrals 4; NFA 1/4 = 25.0%; assessments 1, in time 1/1 = 100.0%;
    unallocated 1

Closures: January one capacity closure; February's file resubmitted empty;
March 12 closures - 1 RC7 (10 days), 5 RC8 (20 days), 6 RC9 (30 days), 5 of
the RC9s capacity closures::

    closures 12; rc1 0, rc7 1, rc8 5, rc9 6; capacity 5; 3 months 1 + 0 + 5 = 6
    median episode (20 + 30) / 2 = 25 days
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from etl.months import Month
from etl.warehouse.load import LoadResult
from tests.warehouse.extracts import closure, load, referral, vacancy, worker

LA = "330"
MONTH = Month(2024, 3)
SCRIPT_TEAM = "<script>alert(1)</script>"
#: Identifiers that go into the warehouse (as pseudonyms); none may reach a pack.
CHILDREN = ("child-alpha", "child-bravo", "child-charlie", "child-delta")
REFERRAL_IDS = ("REFX0001", "REFX0002", "REFX0003", "REFX0004")

#: Figures as the commissioner's copy prints them, by measure label.
EXPECTED = {
    "Permanent social workers (FTE)": "2.5",
    "Agency social workers (FTE)": "1.0",
    "Vacancies (FTE)": "1.5",
    "Vacancies not covered by agency staff (FTE)": "0.5",
    "Vacancy rate": "37.5%",
    "Agency rate": "28.6%",
    "Average caseload": "21.4",
    "Workers with more than 20 cases": "2",
    "Absence (days lost per FTE)": "0.8",
    "Referrals": "4",
    "Referrals leading to no further action": "25.0%",
    "Assessments completed": "1",
    "Assessments within 45 working days": "100.0%",
    "Unallocated referrals": "1",
    "Cases closed": "12",
    "Closed: adopted": "0",
    "Closed: services ceased for any other reason": "1",
    "Closed after assessment: no further action": "5",
    "Closed after assessment: referred to early help": "6",
    "Median length of closed episodes": "25",
}
#: The same rows in the partnership copy: counts 1-5 and rates on them are c.
EXPECTED_SUPPRESSED = {
    **EXPECTED,
    "Permanent social workers (FTE)": "c",
    "Agency social workers (FTE)": "c",
    "Vacancies (FTE)": "c",
    "Vacancies not covered by agency staff (FTE)": "c",
    "Vacancy rate": "c",
    "Agency rate": "c",
    "Workers with more than 20 cases": "c",
    "Absence (days lost per FTE)": "c",
    "Referrals": "c",
    "Referrals leading to no further action": "c",
    "Assessments completed": "c",
    "Assessments within 45 working days": "c",
    "Unallocated referrals": "c",
    "Closed: services ceased for any other reason": "c",
    "Closed after assessment: no further action": "c",
}
#: kpis.csv rows (value, numerator, denominator) worked out above.
EXPECTED_CSV = {
    "permanent_fte": ("2.5", "", ""),
    "agency_fte": ("1", "", ""),
    "vacancy_fte": ("1.5", "", ""),
    "uncovered_vacancy_fte": ("0.5", "", ""),
    "vacancy_rate": ("0.375", "1.5", "4"),
    "agency_rate": (repr(1 / 3.5), "1", "3.5"),
    "turnover_rate_12m": ("", "", ""),
    "average_caseload": (repr(75 / 3.5), "75", "3.5"),
    "caseload_over_20": ("2", "", ""),
    "days_lost_per_fte": ("0.8", "2", "2.5"),
    "referrals": ("4", "", ""),
    "re_referral_rate": ("", "", ""),
    "nfa_rate": ("0.25", "1", "4"),
    "assessments_completed": ("1", "", ""),
    "assessment_timeliness": ("1", "1", "1"),
    "unallocated_referrals": ("1", "", ""),
    "closures": ("12", "", ""),
    "closures_rc1": ("0", "", ""),
    "closures_rc7": ("1", "", ""),
    "closures_rc8": ("5", "", ""),
    "closures_rc9": ("6", "", ""),
    "capacity_closures": ("5", "", ""),
    "capacity_closures_3m": ("6", "", ""),
    "median_episode_days": ("25", "", ""),
}


def load_file(
    engine: Engine,
    dataset: str,
    month: Month,
    rows: Sequence[Mapping[str, Any]],
    *,
    checked: bool = False,
    la_code: str = LA,
) -> LoadResult:
    """Load ``rows`` as the month's file; ``checked``: validated, its warnings kept."""
    return load(engine, dataset, month, rows, la_code=la_code, checked=checked)


def workforce_rows(script_team: str = SCRIPT_TEAM) -> list[dict[str, Any]]:
    m = MONTH
    north = "Assessment North"
    rows = [
        {**worker("P1", fte=1.0, caseload=22, days_lost=2.0, month=m), "team": north},
        {**worker("P2", fte=0.5, caseload=10, month=m), "team": north},
        {**worker("P3", fte=1.0, agency=True, caseload=18, month=m), "team": north},
        {**vacancy("V1", fte=1.0, covered=True, month=m), "team": north},
        {**worker("P4", fte=1.0, caseload=25, month=m), "team": script_team},
        {**vacancy("V2", fte=0.5, covered=False, month=m), "team": script_team},
    ]
    return rows


def referral_rows() -> list[dict[str, Any]]:
    r1, r2, r3, r4 = REFERRAL_IDS
    a, b, c, d = CHILDREN
    return [
        referral(r1, a, date(2024, 3, 4), start=date(2024, 3, 5), authorised=date(2024, 3, 20)),
        {**referral(r2, b, date(2024, 3, 5), nfa=True, allocated=False), "referral_source": "2A"},
        {
            **referral(r3, c, date(2024, 3, 10), allocated=False),
            "referral_source": "3A",
            "primary_need": "N4",
        },
        referral(r4, d, date(2024, 3, 12)),
    ]


def march_closures(capacity: int = 5) -> list[dict[str, Any]]:
    end = date(2024, 3, 20)
    rows = [closure("C70", end - timedelta(days=10), end, reason="RC7")]
    rows += [closure(f"C8{i}", end - timedelta(days=20), end, reason="RC8") for i in range(5)]
    rows += [
        closure(f"C9{i}", end - timedelta(days=30), end, reason="RC9", capacity=i < capacity)
        for i in range(6)
    ]
    return rows


#: March's closures file: the rows of its 5 RC9 capacity closures (C90-C94).
CAPACITY_WARNING_ROWS = (8, 9, 10, 11, 12)


def load_small_warehouse(engine: Engine) -> None:
    january, february = Month(2024, 1), Month(2024, 2)
    load_file(
        engine,
        "closures",
        january,
        [closure("J1", date(2024, 1, 2), date(2024, 1, 12), capacity=True)],
    )
    # February: first a file with one closure, then its resubmission, empty.
    load_file(engine, "closures", february, [closure("F1", date(2024, 2, 1), date(2024, 2, 5))])
    load_file(engine, "closures", february, [])
    load_file(engine, "workforce", MONTH, workforce_rows())
    load_file(engine, "referrals", MONTH, referral_rows())
    load_file(engine, "closures", MONTH, march_closures(), checked=True)
