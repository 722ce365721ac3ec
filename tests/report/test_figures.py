"""How one figure reads: formats for people, suppression of exactly 1 to 5, blanks with reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from etl.kpis import registry
from etl.months import Month
from etl.report.figures import amount, count, moment, number_text, share, shown
from etl.warehouse.measures import KpiValue

M = Month(2024, 3)


def value(
    kpi_id: str,
    v: float | None,
    num: float | None = None,
    den: float | None = None,
    reason: str | None = None,
) -> KpiValue:
    return KpiValue("330", M, kpi_id, v, num, den, reason)


def show(v: KpiValue, suppress: bool = True, **others: KpiValue) -> str:
    return shown(v, registry()[v.kpi_id], suppress=suppress, month_values=others).text


@pytest.mark.parametrize(("n", "text"), [(0, "0"), (1, "c"), (5, "c"), (6, "6"), (1234, "1,234")])
def test_counts_from_one_to_five_are_suppressed(n: int, text: str) -> None:
    assert show(value("referrals", n)) == text
    assert count(n, suppress=True).text == text
    assert show(value("referrals", n), suppress=False) == f"{n:,}"


@pytest.mark.parametrize(("numerator", "text"), [(0, "0.0%"), (1, "c"), (5, "c"), (6, "60.0%")])
def test_rates_on_a_numerator_of_one_to_five_are_suppressed(numerator: int, text: str) -> None:
    rate = value("nfa_rate", numerator / 10, numerator, 10)
    assert show(rate) == text
    assert share(numerator, 10, suppress=True).text == text
    assert show(rate, suppress=False) == f"{numerator * 10:.1f}%"


def test_small_denominators_alone_do_not_suppress_a_rate() -> None:
    """KPIS.md suppresses on the numerator: 6 of 6 shows (the count of 6 shows too)."""
    assert show(value("nfa_rate", 1.0, 6, 6)) == "100.0%"


@pytest.mark.parametrize(("fte", "text"), [(0.0, "0.0"), (0.5, "c"), (5.0, "c"), (5.5, "5.5")])
def test_fte_sums_are_suppressed_like_counts(fte: float, text: str) -> None:
    assert show(value("vacancy_fte", fte)) == text
    assert amount(fte, "fte", suppress=True).text == text


def test_float_noise_does_not_make_five_look_bigger() -> None:
    assert show(value("vacancy_fte", 5.000000000001)) == "c"


@pytest.mark.parametrize(("closures", "text"), [(1, "c"), (5, "c"), (6, "12")])
def test_median_of_few_closures_is_suppressed(closures: int, text: str) -> None:
    median = value("median_episode_days", 12.0)
    assert show(median, closures=value("closures", closures)) == text


def test_blank_reads_not_available_with_its_reason_never_zero() -> None:
    blank = value("turnover_rate_12m", None, reason="workforce file for 2024-02 not loaded")
    figure = shown(blank, registry()["turnover_rate_12m"], suppress=True, month_values={})
    assert figure.text == "not available"
    assert figure.long == "not available — workforce file for 2024-02 not loaded"
    assert share(0, 0, suppress=False).long == "not available — nothing to divide by"


@pytest.mark.parametrize(
    ("number", "unit", "text"),
    [
        (0.26449, "percent", "26.4%"),
        (0.375, "percent", "37.5%"),
        (1.0, "percent", "100.0%"),
        (432.500000000001, "fte", "432.5"),
        (16.2122816304923, "ratio", "16.2"),
        (1305.0, "count", "1,305"),
        (62.0, "days", "62"),
        (30.5, "days", "30.5"),
    ],
)
def test_numbers_read_as_people_expect(number: float, unit: str, text: str) -> None:
    assert number_text(number, unit) == text  # type: ignore[arg-type]


def test_times_are_uk_time() -> None:
    assert moment(datetime(2024, 7, 1, 8, 5, tzinfo=UTC)) == "1 Jul 2024 09:05"  # BST
    assert moment(datetime(2024, 1, 1, 8, 5)) == "1 Jan 2024 08:05"  # naive: UTC, GMT
