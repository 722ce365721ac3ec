"""The SQL of the measures: current referral state and per-month aggregates.

Every query is built with SQLAlchemy expressions and runs unchanged on
PostgreSQL and SQLite; the two date operations the backends spell
differently (a year back, days between dates) are small compiled constructs.
Each query covers all the requested months at once: the months come in as a
``periods`` CTE (one row per month with its window bounds, computed in Python
from :class:`Month` and passed as bind parameters), and the data is joined to
it and grouped by month.  A query is built once per number of months.

Each aggregate query returns, per month, one labelled column per measure
(``<kpi_id>``) and, for rates, ``<kpi_id>__num`` and ``<kpi_id>__den``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from etl.contracts import load_contract
from etl.kpis import Kpi
from etl.months import Month
from etl.warehouse.schema import LA_CODE, closures, referral_versions, workforce, working_days

#: Assessment timeliness: authorised within this many working days (KPIS.md).
ASSESSMENT_WORKING_DAYS = 45
#: caseload_over_20 counts workers with a caseload above this.
CASELOAD_LIMIT = 20

NUM = "__num"
DEN = "__den"

# --- date arithmetic the two backends spell differently ---------------------------


class year_before(FunctionElement[date]):  # lower case: reads as a SQL function
    """The same date one calendar year earlier; 29 February maps to 28 February."""

    type = sa.Date()
    name = "year_before"
    inherit_cache = True


@compiles(year_before)
def _year_before_other(element: year_before, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError("year_before is written for PostgreSQL and SQLite only")


@compiles(year_before, "postgresql")
def _year_before_pg(element: year_before, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL clamps to the month's last day: 2024-02-29 - 1 year = 2023-02-28.
    (day,) = element.clauses
    return f"CAST({compiler.process(day, **kw)} - INTERVAL '1 year' AS DATE)"


@compiles(year_before, "sqlite")
def _year_before_sqlite(element: year_before, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite rolls 2023-02-29 over to 2023-03-01; step back a day for 29 Feb.
    (day,) = element.clauses
    d = compiler.process(day, **kw)
    return (
        f"CASE WHEN strftime('%m-%d', {d}) = '02-29' "
        f"THEN date({d}, '-1 year', '-1 day') ELSE date({d}, '-1 year') END"
    )


class days_between(FunctionElement[int]):  # lower case: reads as a SQL function
    """Whole days from the first date to the second (second - first)."""

    type = sa.Integer()
    name = "days_between"
    inherit_cache = True


@compiles(days_between)
def _days_between_other(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError("days_between is written for PostgreSQL and SQLite only")


@compiles(days_between, "postgresql")
def _days_between_pg(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    first, second = element.clauses
    return f"({compiler.process(second, **kw)} - {compiler.process(first, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    first, second = element.clauses
    a, b = compiler.process(first, **kw), compiler.process(second, **kw)
    return f"CAST(julianday({b}) - julianday({a}) AS INTEGER)"


class month_start(FunctionElement[date]):  # lower case: reads as a SQL function
    """The first day of a date's month."""

    type = sa.Date()
    name = "month_start"
    inherit_cache = True


@compiles(month_start)
def _month_start_other(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError("month_start is written for PostgreSQL and SQLite only")


@compiles(month_start, "postgresql")
def _month_start_pg(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    (day,) = element.clauses
    return f"CAST(date_trunc('month', CAST({compiler.process(day, **kw)} AS TIMESTAMP)) AS DATE)"


@compiles(month_start, "sqlite")
def _month_start_sqlite(element: month_start, compiler: SQLCompiler, **kw: Any) -> str:
    (day,) = element.clauses
    return f"date({compiler.process(day, **kw)}, 'start of month')"


# --- current state of referrals -----------------------------------------------------------


def is_current(version: sa.FromClause, name: str = "later") -> sa.ColumnElement[bool]:
    """``version`` (a referral_versions row) is its referral's current version.

    It is current when no version of the same referral (same LA) comes from a
    later extract month, so reloading an earlier month never hides a later one.
    """
    later = referral_versions.alias(name)
    newer = sa.select(later.c.month).where(
        later.c.la_code == version.c.la_code,
        later.c.referral_id == version.c.referral_id,
        later.c.month > version.c.month,
    )
    return ~newer.exists()


def is_latest(version: sa.FromClause, name: str) -> sa.ColumnElement[bool]:
    """:func:`is_current` as a look-up per row: ``version`` is from its referral's latest month.

    The same rows as ``is_current``, but no planner can answer it by hashing
    every version the LA ever sent (PostgreSQL does that for the NOT EXISTS
    of a window's referrals): it costs one primary-key probe per row, so a
    window of referrals costs the same however much history lies behind it.
    """
    later = referral_versions.alias(name)
    latest = (
        sa.select(sa.func.max(later.c.month))
        .where(
            later.c.la_code == version.c.la_code,
            later.c.referral_id == version.c.referral_id,
        )
        .scalar_subquery()
    )
    return version.c.month == latest


class binary_order(FunctionElement[str]):  # lower case: reads as a SQL function
    """A text compared byte by byte: pseudonyms are hex and want no locale's
    order, and a byte sort is several times faster than a collation's."""

    type = sa.String()
    name = "binary_order"
    inherit_cache = True


@compiles(binary_order)
def _binary_order_other(element: binary_order, compiler: SQLCompiler, **kw: Any) -> str:
    raise sa.exc.CompileError("binary_order is written for PostgreSQL and SQLite only")


@compiles(binary_order, "postgresql")
def _binary_order_pg(element: binary_order, compiler: SQLCompiler, **kw: Any) -> str:
    (text,) = element.clauses
    return f'({compiler.process(text, **kw)} COLLATE "C")'


@compiles(binary_order, "sqlite")
def _binary_order_sqlite(element: binary_order, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's default collation (BINARY) already compares bytes.
    (text,) = element.clauses
    return compiler.process(text, **kw)


def current_referrals(la_code: str | None = None) -> sa.Select[Any]:
    """Each referral's current version: its row from the latest extract month."""
    rv = referral_versions
    query = sa.select(rv).where(is_current(rv))
    if la_code is not None:
        query = query.where(rv.c.la_code == la_code)
    return query


# --- the months asked for, with their windows ----------------------------------------------


def periods(count: int) -> sa.CTE:
    """``count`` rows, one per LA and month: the LA, the month's first day, the
    next month's, and its windows' starts.

    The values are bind parameters (see :func:`query_parameters`): a query
    is built once per number of rows and reused for every LA and month.
    """
    if count < 1:
        raise ValueError("no months to compute")
    rows = [
        sa.select(
            sa.bindparam(f"la_code_{i}", type_=LA_CODE).label("la_code"),
            *(sa.bindparam(f"{name}_{i}", type_=sa.Date).label(name) for name in _PERIOD_COLUMNS),
        )
        for i in range(count)
    ]
    union = rows[0] if count == 1 else sa.union_all(*rows)
    return union.cte("periods")


#: The columns of ``periods``: month, next month, and the 12- and 3-month window starts.
_PERIOD_COLUMNS = ("month", "next_month", "from_12", "from_3")


def query_parameters(periods: Sequence[tuple[str, Month]]) -> dict[str, Any]:
    """The bind parameters of the aggregate queries for ``periods`` (LA, month).

    The spans read (first month to last, the LAs) are the union of the
    periods'; each period's figures join only its own LA's rows of its
    own windows, so an LA's measures are the same whatever it is computed
    with.
    """
    months = sorted({m for _la, m in periods})
    parameters: dict[str, Any] = {
        "la_codes": sorted({la for la, _m in periods}),
        "months": [m.start for m in months],
        "first_month": months[0].start,
        "after_months": (months[-1] + 1).start,
        # Re-referrals look a year back from the first month's referrals.
        "year_before_first": (months[0] - 12).start,
    }
    for i, (la_code, m) in enumerate(periods):
        bounds = (m.start, (m + 1).start, (m - 11).start, (m - 2).start)
        parameters[f"la_code_{i}"] = la_code
        parameters.update({f"{n}_{i}": d for n, d in zip(_PERIOD_COLUMNS, bounds, strict=True)})
    return parameters


def _la_code() -> sa.BindParameter[str]:
    """One LA's code (the team breakdown's)."""
    return sa.bindparam("la_code", type_=LA_CODE)


def _la_codes() -> sa.BindParameter[str]:
    """The codes of the LAs computed at once."""
    return sa.bindparam("la_codes", type_=LA_CODE, expanding=True)


# --- aggregates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One measure's SQL: a plain value, or a numerator and a denominator."""

    value: sa.ColumnElement[Any] | None = None
    numerator: sa.ColumnElement[Any] | None = None
    denominator: sa.ColumnElement[Any] | None = None

    def columns(self, kpi_id: str) -> list[sa.Label[Any]]:
        if self.numerator is not None and self.denominator is not None:
            return [
                ratio(self.numerator, self.denominator).label(kpi_id),
                self.numerator.label(kpi_id + NUM),
                self.denominator.label(kpi_id + DEN),
            ]
        if self.value is None:
            raise ValueError(f"{kpi_id}: a figure needs a value or a numerator and denominator")
        return [self.value.label(kpi_id)]


def ratio(numerator: sa.ColumnElement[Any], denominator: sa.ColumnElement[Any]) -> Any:
    """numerator / denominator as a float, NULL when the denominator is zero."""
    return sa.case(
        (
            denominator != 0,
            sa.cast(numerator, sa.Double) / sa.cast(denominator, sa.Double),
        ),
        else_=sa.null(),
    )


def _total(condition: sa.ColumnElement[bool], value: sa.ColumnElement[Any]) -> Any:
    """Sum of ``value`` over rows meeting ``condition``; 0 when there are none."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, value))), 0)


def _count(condition: sa.ColumnElement[bool]) -> Any:
    return sa.func.count(sa.case((condition, 1)))


def _select(p: sa.CTE, figures: dict[str, Figure]) -> list[sa.Label[Any]]:
    columns: list[sa.Label[Any]] = [p.c.la_code.label("la_code"), p.c.month.label("month")]
    for kpi_id, figure in figures.items():
        columns += figure.columns(kpi_id)
    return columns


def _workforce_figures(in_month: sa.ColumnElement[bool]) -> dict[str, Figure]:
    """The workforce measures over the rows joined: ``in_month`` picks month M's file.

    Leavers count over every row joined (the 12-month window); every other
    figure is M's.  The measures and the team breakdown both use these.
    """
    w = workforce
    worker = sa.and_(in_month, w.c.record_type == "worker")
    permanent = sa.and_(worker, w.c.agency_worker.is_(sa.false()))
    agency = sa.and_(worker, w.c.agency_worker.is_(sa.true()))
    vacancy = sa.and_(in_month, w.c.record_type == "vacancy")
    permanent_leaver = sa.and_(w.c.record_type == "leaver", w.c.agency_worker.is_(sa.false()))
    with_cases = sa.and_(worker, w.c.caseload >= 1)

    permanent_fte = _total(permanent, w.c.fte)
    agency_fte = _total(agency, w.c.fte)
    vacancy_fte = _total(vacancy, w.c.fte)
    return {
        "permanent_fte": Figure(permanent_fte),
        "agency_fte": Figure(agency_fte),
        "vacancy_fte": Figure(vacancy_fte),
        "uncovered_vacancy_fte": Figure(
            _total(sa.and_(vacancy, w.c.covered_by_agency.is_(sa.false())), w.c.fte)
        ),
        "vacancy_rate": Figure(numerator=vacancy_fte, denominator=vacancy_fte + permanent_fte),
        "agency_rate": Figure(numerator=agency_fte, denominator=agency_fte + permanent_fte),
        "turnover_rate_12m": Figure(
            numerator=_total(permanent_leaver, w.c.fte), denominator=permanent_fte
        ),
        "average_caseload": Figure(
            numerator=_total(with_cases, w.c.caseload), denominator=_total(with_cases, w.c.fte)
        ),
        "caseload_over_20": Figure(_count(sa.and_(worker, w.c.caseload > CASELOAD_LIMIT))),
        "days_lost_per_fte": Figure(
            numerator=_total(permanent, sa.func.coalesce(w.c.working_days_lost, 0)),
            denominator=permanent_fte,
        ),
    }


def workforce_query(count: int) -> sa.Select[Any]:
    """Workforce measures: month M's file, and leavers in the files of M-11..M."""
    p = periods(count)
    w = workforce
    figures = _workforce_figures(w.c.month == p.c.month)
    joined = p.outerjoin(
        w,
        sa.and_(w.c.la_code == p.c.la_code, w.c.month >= p.c.from_12, w.c.month <= p.c.month),
    )
    return sa.select(*_select(p, figures)).select_from(joined).group_by(p.c.la_code, p.c.month)


#: The workforce measures the pack breaks down by team: those of month M's
#: file alone (turnover needs twelve files, so it is not broken down).
TEAM_KPIS = (
    "permanent_fte",
    "agency_fte",
    "vacancy_fte",
    "vacancy_rate",
    "average_caseload",
    "caseload_over_20",
)


def teams_query() -> sa.Select[Any]:
    """One LA's month (``la_code``, ``month`` bound) per team: :data:`TEAM_KPIS`.

    The same figures as the measures, grouped by team, so a team's row and
    the LA's total can never be defined differently.
    """
    w = workforce
    figures = _workforce_figures(sa.true())
    columns = [column for kpi_id in TEAM_KPIS for column in figures[kpi_id].columns(kpi_id)]
    return (
        sa.select(w.c.team.label("team"), *columns)
        .where(w.c.la_code == _la_code(), w.c.month == sa.bindparam("month", type_=sa.Date))
        .group_by(w.c.team)
        .order_by(w.c.team)
    )


def _current_between(column: str, name: str, first: str = "first_month") -> sa.Subquery:
    """Current referrals whose date ``column`` falls from the bind parameter
    ``first`` to the end of the months.

    Found by the (la_code, ``column``) index, so only the span's versions are
    read, each checked current by a look-up of its own (:func:`is_latest`).
    A set-based test (an anti-join with the versions of later months) is 2.5
    times faster on 2 million referrals when the table's statistics are
    fresh, but with stale ones (a table grown since its last ANALYZE) the
    planner nests it as a scan per referral: minutes for 36,000 referrals.
    The look-up's cost never depends on the planner's estimates.
    """
    rv = referral_versions.alias(f"{name}_version")
    day = rv.c[column]
    query = sa.select(rv).where(
        rv.c.la_code.in_(_la_codes()),
        day >= sa.bindparam(first, type_=sa.Date),
        day < sa.bindparam("after_months", type_=sa.Date),
        is_latest(rv, f"{name}_later"),
    )
    return query.subquery(name)


def referrals_query(count: int) -> sa.Select[Any]:
    """Referral measures by referral month: counts, NFA, unallocated, re-referrals."""
    p = periods(count)
    # The months' referrals and the year before them: a re-referral is
    # another current referral of the same child from the same date a year
    # earlier (29 Feb -> 28 Feb) up to the day before.
    r = _current_between("referral_date", "r", "year_before_first")
    # Each referral's child's latest earlier referral date: the previous
    # group of equal dates, so a same-day referral is never "earlier".  One
    # sort of the span, however many referrals a child has (a look-up per
    # referral cost a random index read each: 70 s for 2 million).
    previous = sa.func.max(r.c.referral_date).over(
        partition_by=[r.c.la_code, binary_order(r.c.child_id)],
        order_by=r.c.referral_date,
        groups=(-1, -1),
    )
    dated = sa.select(
        r.c.la_code,
        r.c.referral_id,
        r.c.referral_date,
        r.c.nfa,
        r.c.allocated,
        previous.label("previous"),
    ).subquery("dated")
    d = dated.c
    earlier = sa.and_(d.previous.is_not(None), d.previous >= year_before(d.referral_date))
    # One flag per referral first, so the test runs once per referral
    # however many figures use it.
    flagged = (
        sa.select(
            d.la_code,
            d.referral_id,
            d.referral_date,
            d.nfa,
            d.allocated,
            sa.case((earlier, 1), else_=0).label("re_referred"),
            month_start(d.referral_date).label("referral_month"),
        )
        .where(d.referral_date >= sa.bindparam("first_month", type_=sa.Date))
        .subquery("flagged")
    )
    f = flagged.c
    referrals = sa.func.count(f.referral_id)
    figures = {
        "referrals": Figure(referrals),
        "re_referral_rate": Figure(
            numerator=sa.func.coalesce(sa.func.sum(f.re_referred), 0), denominator=referrals
        ),
        "nfa_rate": Figure(numerator=_count(f.nfa.is_(sa.true())), denominator=referrals),
        "unallocated_referrals": Figure(
            _count(sa.and_(f.nfa.is_(sa.false()), f.allocated.is_(sa.false())))
        ),
    }
    # By equality: the window is computed once, and each month takes its rows
    # by hash, not by a pass over the whole span per month.
    joined = p.outerjoin(flagged, sa.and_(f.la_code == p.c.la_code, f.referral_month == p.c.month))
    return sa.select(*_select(p, figures)).select_from(joined).group_by(p.c.la_code, p.c.month)


def assessments_query(count: int) -> sa.Select[Any]:
    """Assessment measures by the month the assessment was authorised."""
    p = periods(count)
    a = _current_between("assessment_authorised_date", "a")
    wd = working_days
    # Working days after the start, up to and including the authorised date.
    days_taken = (
        sa.select(sa.func.count())
        .where(wd.c.day > a.c.assessment_start_date, wd.c.day <= a.c.assessment_authorised_date)
        .scalar_subquery()
    )
    in_time = sa.and_(a.c.assessment_start_date.is_not(None), days_taken <= ASSESSMENT_WORKING_DAYS)
    flagged = sa.select(
        a.c.la_code,
        a.c.referral_id,
        a.c.assessment_authorised_date.label("authorised"),
        sa.case((in_time, 1), else_=0).label("in_time"),
        month_start(a.c.assessment_authorised_date).label("authorised_month"),
    ).subquery("assessed")
    f = flagged.c
    completed = sa.func.count(f.referral_id)
    figures = {
        "assessments_completed": Figure(completed),
        "assessment_timeliness": Figure(
            numerator=sa.func.coalesce(sa.func.sum(f.in_time), 0), denominator=completed
        ),
    }
    # By equality, as the referral measures: the span is read once.
    joined = p.outerjoin(
        flagged, sa.and_(f.la_code == p.c.la_code, f.authorised_month == p.c.month)
    )
    return sa.select(*_select(p, figures)).select_from(joined).group_by(p.c.la_code, p.c.month)


def closure_reasons() -> list[str]:
    """The closure reason codes, in contract order (RC1..RC9)."""
    return [str(code) for code in load_contract("closures").columns["closure_reason"].code_values]


def closures_query(count: int) -> sa.Select[Any]:
    """Closure counts of month M's file, and capacity closures over M-2..M."""
    p = periods(count)
    c = closures
    in_month = c.c.month == p.c.month
    capacity = c.c.capacity_closure.is_(sa.true())
    figures = {"closures": Figure(_count(in_month))}
    for code in closure_reasons():
        figures[f"closures_{code.lower()}"] = Figure(
            _count(sa.and_(in_month, c.c.closure_reason == code))
        )
    figures["capacity_closures"] = Figure(_count(sa.and_(in_month, capacity)))
    figures["capacity_closures_3m"] = Figure(_count(capacity))
    joined = p.outerjoin(
        c, sa.and_(c.c.la_code == p.c.la_code, c.c.month >= p.c.from_3, c.c.month <= p.c.month)
    )
    return sa.select(*_select(p, figures)).select_from(joined).group_by(p.c.la_code, p.c.month)


def median_episode_query(count: int) -> sa.Select[Any]:
    """Median of closure_date - referral_date (days) per LA and month; no row when none.

    Portable median: number each month's episodes in order, then average the
    middle one (odd count) or two (even count).  Every month asked for of
    every LA asked for (a row the caller did not ask for is ignored).
    """
    c = closures
    days = days_between(c.c.referral_date, c.c.closure_date)
    ranked = (
        sa.select(
            c.c.la_code,
            c.c.month,
            days.label("days"),
            sa.func.row_number()
            .over(partition_by=[c.c.la_code, c.c.month], order_by=days)
            .label("rank"),
            sa.func.count().over(partition_by=[c.c.la_code, c.c.month]).label("n"),
        )
        .where(
            c.c.la_code.in_(_la_codes()),
            c.c.month.in_(sa.bindparam("months", type_=sa.Date, expanding=True)),
        )
        .subquery("ranked")
    )
    middle = sa.or_(
        ranked.c.rank == (ranked.c.n + 1) // 2,
        ranked.c.rank == (ranked.c.n + 2) // 2,
    )
    median = sa.func.avg(sa.cast(ranked.c.days, sa.Double))
    return (
        sa.select(
            ranked.c.la_code.label("la_code"),
            ranked.c.month.label("month"),
            median.label("median_episode_days"),
        )
        .where(middle)
        .group_by(ranked.c.la_code, ranked.c.month)
    )


#: The queries of each dataset's measures.
QUERIES: dict[str, tuple[Callable[[int], sa.Select[Any]], ...]] = {
    "workforce": (workforce_query,),
    "referrals": (referrals_query, assessments_query),
    "closures": (closures_query, median_episode_query),
}


#: (LA, month) periods per query: the bind parameters stay far below
#: SQLite's and PostgreSQL's limits, and one query serves a hub's month.
PERIODS_PER_QUERY = 200


def aggregate_queries(
    periods: Iterable[tuple[str, Month]], datasets: Iterable[str]
) -> list[tuple[sa.Select[Any], dict[str, Any]]]:
    """The queries (and their parameters) for the measures of ``datasets`` in
    ``periods`` (LA, month): their rows are keyed by ``la_code`` and ``month``."""
    ordered = sorted(set(periods))
    chosen = list(datasets)
    queries = []
    for start in range(0, len(ordered), PERIODS_PER_QUERY):
        part = ordered[start : start + PERIODS_PER_QUERY]
        parameters = query_parameters(part)
        queries += [
            (query, parameters) for dataset in chosen for query in _built(dataset, len(part))
        ]
    return queries


@cache
def _built(dataset: str, count: int) -> tuple[sa.Select[Any], ...]:
    # Building these expressions costs more than running them on small data.
    return tuple(make(count) for make in QUERIES[dataset])


# --- the registry's measures against this SQL -------------------------------------------


#: The columns that say whose and which month a row's figures are.
_KEYS = {"la_code", "month"}


class MeasureWithoutSql(RuntimeError):
    """The registry (``etl/kpis.yml``) and the SQL here disagree: a code fault."""


def check_registry(kpis: Iterable[Kpi]) -> None:
    """Raise :class:`MeasureWithoutSql` unless the SQL computes exactly ``kpis``.

    Every measure must have a column in its dataset's queries (and a rate its
    numerator and denominator), and every column a measure, so a measure can
    never come out blank just because nobody wrote its SQL.
    """
    wanted = list(kpis)
    problems = []
    unknown = sorted({k.dataset for k in wanted} - set(QUERIES))
    if unknown:
        problems.append(f"no SQL for the datasets {unknown}")
    for dataset in QUERIES:
        labels = {str(c.key) for query in _built(dataset, 1) for c in query.selected_columns}
        values = {label for label in labels - _KEYS if not label.endswith((NUM, DEN))}
        ids = [k.kpi_id for k in wanted if k.dataset == dataset]
        if missing := [k for k in ids if k not in values]:
            problems.append(f"{dataset} measures with no SQL: {missing}")
        if extra := sorted(values - set(ids)):
            problems.append(f"{dataset} SQL for measures not in the registry: {extra}")
        mismatched = [
            k.kpi_id
            for k in wanted
            if k.dataset == dataset
            and k.kpi_id in values
            and ({k.kpi_id + NUM, k.kpi_id + DEN} <= labels) != k.rate
        ]
        if mismatched:
            problems.append(f"{dataset} measures whose rate flag and SQL disagree: {mismatched}")
    if problems:
        raise MeasureWithoutSql("; ".join(problems))
