"""KPIS.md's benchmarks on small DfE files, every answer worked out by hand.

LA 330's ten neighbours are 801-810.  LA 900's nearest neighbour is 942
(Cumberland, which DfE publishes only from 2023).  Kingston upon Thames and
Richmond upon Thames (314, 318) report jointly as "314 / 318"; 318 is also an
LA of the model.  Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from etl.months import Month
from etl.reference.benchmarks import Benchmark, benchmarks, benchmarks_csv, neighbours, series
from etl.reference.load import load_release
from tests.reference.conftest import empty_reference
from tests.reference.dfe_files import row, write_figures, write_neighbours

NEAR = [str(code) for code in range(801, 811)]
LA = "Local authority"


def _la(year: int, code: str, **values: str) -> dict[str, str]:
    return row(year, LA, code, values)


def _workforce_2024() -> list[dict[str, str]]:
    """Vacancy: 330 20.0, neighbours 10-19 (median 14.5), joint 9.0, 942 19.0.

    Agency: 330 u; neighbours c, x, then 5-12 (8 with a figure, median 8.5).
    Turnover: neighbour 801 c, 802-810 are 1-9 (9 with a figure, median 5).
    Caseload (ties): 330 15.0, 801 15.0, 802 and 803 14.0, 804-810 16-22, joint 13.0.
    """
    agency = ["c", "x", *(str(v) for v in range(5, 13))]
    rows = [
        row(
            2024,
            "National",
            values={
                "vacancy_rate_fte": "17.3",
                "agency_rate_fte": "16.2",
                "turnover_rate_fte": "13.9",
                "caseload_fte": "15.4",
            },
        ),
        row(
            2024,
            "Regional",
            "E12000005",
            values={
                "vacancy_rate_fte": "16",
                "agency_rate_fte": "14",
                "turnover_rate_fte": "12",
                "caseload_fte": "16.2",
            },
        ),
        _la(
            2024,
            "330",
            vacancy_rate_fte="20.0",
            agency_rate_fte="u",
            turnover_rate_fte="7",
            caseload_fte="15.0",
        ),
        _la(2024, "314 / 318", vacancy_rate_fte="9.0", caseload_fte="13.0"),
        _la(2024, "942", vacancy_rate_fte="19.0"),
    ]
    for i, code in enumerate(NEAR):
        caseload = {0: "15.0", 1: "14.0", 2: "14.0"}.get(i, str(16 + i - 3))
        rows.append(
            _la(
                2024,
                code,
                vacancy_rate_fte=str(10 + i),
                agency_rate_fte=agency[i],
                turnover_rate_fte="c" if i == 0 else str(i),
                caseload_fte=caseload,
            )
        )
    return rows


def _workforce_2022_2023() -> list[dict[str, str]]:
    """2023: 330 25.0, neighbours all 20, 942 30; 2022: the same without 942."""
    rows = [row(2023, "National", values={"vacancy_rate_fte": "18.9"})]
    rows.append(row(2022, "National", values={"vacancy_rate_fte": "20.0"}))
    for year in (2022, 2023):
        rows.append(_la(year, "330", vacancy_rate_fte="25.0"))
        rows += [_la(year, code, vacancy_rate_fte="20") for code in NEAR]
    rows.append(_la(2023, "942", vacancy_rate_fte="30"))
    return rows


def _children_in_need() -> list[dict[str, str]]:
    """Re-referrals: 2024 330 20.0, neighbours 10-19; 2025 330 21.5, neighbours 11-20."""
    rows = []
    for year, own, low in ((2024, "20.0", 10), (2025, "21.5", 11)):
        rows.append(
            row(
                year,
                "National",
                values={
                    "rereferral_percent": "22.6",
                    "no_further_action_percent": "6.5",
                    "referral_count": "632830",
                },
            )
        )
        rows.append(_la(year, "330", rereferral_percent=own, no_further_action_percent="2.4"))
        rows += [
            _la(year, code, rereferral_percent=str(low + i), no_further_action_percent="5")
            for i, code in enumerate(NEAR)
        ]
    return rows


@pytest.fixture(scope="module")
def loaded(engine: Engine, tmp_path_factory: pytest.TempPathFactory, gx_dir: Path) -> Engine:
    """The files below loaded once per backend (the tests only read)."""
    empty_reference(engine)
    files = tmp_path_factory.mktemp("dfe")
    model = {
        "330": NEAR,
        "900": ["942", *NEAR[:9]],
        "318": ["314", *NEAR[:9]],
    }
    paths = [
        write_figures(files / "csww.csv", "csww", [*_workforce_2022_2023(), *_workforce_2024()]),
        write_figures(files / "c1.csv", "c1", _children_in_need()),
        write_neighbours(files / "sn.csv", model),
    ]
    for path in paths:
        result = load_release(engine, path, loaded_by="test", gx_dir=gx_dir)
        assert result.status == "loaded", [p.describe() for p in result.problems]
    return engine


def _by_key(rows: list[Benchmark]) -> dict[str, Benchmark]:
    return {b.key: b for b in rows}


def test_median_of_ten_neighbours_region_england_and_rank(loaded: Engine) -> None:
    vacancy = _by_key(benchmarks(loaded, "330", Month(2024, 9)))["vacancy_rate"]
    assert vacancy.csv_row() == [
        "330", "vacancy_rate", "2024-09-30", "0.2", "0.145", "10", "0.16", "0.173", "13", "13",
    ]  # fmt: skip


def test_a_suppressed_neighbour_is_left_out_of_the_median(loaded: Engine) -> None:
    rows = _by_key(benchmarks(loaded, "330", Month(2024, 9)))
    # Even count left: 8 of 10 (c and x left out), median of 5..12 = (8 + 9) / 2.
    assert (rows["agency_rate"].neighbours_median, rows["agency_rate"].neighbours_n) == (0.085, 8)
    # Odd count left: 9 of 10 (801 is c), median of 1..9 = 5.
    assert (rows["turnover_rate"].neighbours_median, rows["turnover_rate"].neighbours_n) == (
        0.05,
        9,
    )


def test_the_las_own_value_unreliable_blanks_rank_but_not_neighbours(loaded: Engine) -> None:
    agency = _by_key(benchmarks(loaded, "330", Month(2024, 9)))["agency_rate"]
    assert agency.csv_row() == [
        "330", "agency_rate", "2024-09-30", "", "0.085", "8", "0.14", "0.162", "", "",
    ]  # fmt: skip
    assert agency.la_symbol == "u"


def test_rank_with_ties_counts_only_strictly_lower_and_a_joint_row_once(loaded: Engine) -> None:
    caseload = _by_key(benchmarks(loaded, "330", Month(2024, 9)))["average_caseload"]
    # Lower than 15.0: 802 (14.0), 803 (14.0), the joint 314 / 318 row (13.0): rank 4.
    # With a figure: 330, 801-810 and the joint row once = 12.
    assert (caseload.la_value, caseload.rank, caseload.of) == (15.0, 4, 12)
    # The median of 14, 14, 15, 16, 17 | 18, 19, 20, 21, 22 -> (17 + 18) / 2.
    assert caseload.neighbours_median == 17.5


def test_a_joint_row_stands_for_each_of_its_las(loaded: Engine) -> None:
    """318 takes the "314 / 318" row as its own; its neighbour 314 takes it too."""
    vacancy = _by_key(benchmarks(loaded, "318", Month(2024, 9)))["vacancy_rate"]
    # Own 9.0; neighbours 314 (9.0) and 801-809 (10-18): median of 10 = (13 + 14) / 2.
    # Lower than 9.0: none -> rank 1; of: 330, 801-810, joint, 942 = 13.
    assert (vacancy.la_value, vacancy.neighbours_median, vacancy.neighbours_n) == (0.09, 0.135, 10)
    assert (vacancy.rank, vacancy.of) == (1, 13)


def test_a_neighbour_that_did_not_exist_yet_is_not_counted(loaded: Engine) -> None:
    """942 (Cumberland) is published from 2023: in 2022 LA 900 has 9 neighbours with a value."""
    in_2022 = _by_key(benchmarks(loaded, "900", Month(2023, 3)))["vacancy_rate"]
    in_2023 = _by_key(benchmarks(loaded, "900", Month(2023, 9)))["vacancy_rate"]
    assert (in_2022.period, in_2022.neighbours_n, in_2022.neighbours_median) == (
        Month(2022, 9).end,
        9,
        0.2,
    )
    # 2023: 942's 30 joins nine 20s: the median is still 20.
    assert (in_2023.neighbours_n, in_2023.neighbours_median) == (10, 0.2)
    # 900 itself publishes nothing: no rank, no region.
    assert (in_2023.la_value, in_2023.rank, in_2023.of, in_2023.region_value) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("month", "workforce", "children_in_need"),
    [
        (Month(2024, 9), "2024-09-30", "2024-03-31"),
        (Month(2024, 8), "2023-09-30", "2024-03-31"),
        (Month(2025, 3), "2024-09-30", "2025-03-31"),
        (Month(2025, 2), "2024-09-30", "2024-03-31"),
        (Month(2022, 8), "", ""),
    ],
)
def test_the_period_is_the_latest_dated_on_or_before_the_months_end(
    loaded: Engine, month: Month, workforce: str, children_in_need: str
) -> None:
    rows = _by_key(benchmarks(loaded, "330", month))
    assert rows["vacancy_rate"].csv_row()[2] == workforce
    assert rows["re_referral_rate"].csv_row()[2] == children_in_need


def test_before_any_publication_every_figure_is_blank(loaded: Engine) -> None:
    row = _by_key(benchmarks(loaded, "330", Month(2022, 8)))["vacancy_rate"]
    assert row.csv_row() == ["330", "vacancy_rate", "", "", "", "0", "", "", "", ""]


def test_no_fallback_to_an_earlier_year_when_the_las_value_is_missing(loaded: Engine) -> None:
    """900 publishes no NFA figure for 2025: blank, not 2024's, neighbours still there."""
    nfa = _by_key(benchmarks(loaded, "900", Month(2025, 3)))["nfa_rate"]
    assert (nfa.period, nfa.la_value, nfa.neighbours_n) == (Month(2025, 3).end, None, 9)


def test_benchmarks_csv_has_kpis_md_header_and_one_row_per_indicator(loaded: Engine) -> None:
    text = benchmarks_csv(benchmarks(loaded, "330", Month(2025, 3))).decode()
    lines = text.splitlines()
    assert lines[0] == (
        "la_code,indicator,period,la_value,neighbours_median,neighbours_n,"
        "region_value,england_value,rank,of"
    )
    assert [line.split(",")[1] for line in lines[1:]] == [
        "vacancy_rate",
        "agency_rate",
        "turnover_rate",
        "average_caseload",
        "re_referral_rate",
        "nfa_rate",
    ]
    # Re-referrals, year to 31 March 2025: own 21.5; neighbours 11..20, median 15.5;
    # lower than 21.5: all ten -> rank 11 of 11.
    assert lines[5] == "330,re_referral_rate,2025-03-31,0.215,0.155,10,,0.226,11,11"


def test_neighbours_are_listed_nearest_first(loaded: Engine) -> None:
    listed = neighbours(loaded, "900")
    assert [n.la_code for n in listed] == ["942", *NEAR[:9]]
    assert [n.position for n in listed] == list(range(1, 11))
    assert listed[0].closeness == "Very close"
    assert listed[5].closeness == "Close"  # published as "Close " (trailing space)
    assert neighbours(loaded, "999") == []


def test_a_chart_series_covers_every_year_up_to_the_month(loaded: Engine) -> None:
    years = series(loaded, "330", "vacancy_rate", Month(2024, 3))
    assert [(b.time_period, b.la_value, b.neighbours_median, b.england_value) for b in years] == [
        (2022, 0.25, 0.2, 0.2),
        (2023, 0.25, 0.2, 0.189),
    ]
