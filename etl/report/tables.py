"""The pack's breakdown tables: workforce by team, referrals by source and by need.

Each cell is a :class:`~etl.report.figures.Shown`, suppressed like every other
count for an audience that suppresses small numbers.  Team names arrive as
text from the workforce files and are printed as text: the templates escape
them (autoescape), nothing here marks them safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl.kpis import registry
from etl.report.content import PackData, code_labels
from etl.report.figures import Shown, count, month_name, share, shown
from etl.warehouse.measures_sql import TEAM_KPIS

#: The CIN referral source groups: the first character of the code, except 10.
SOURCE_GROUPS: dict[str, str] = {
    "1": "Individual",
    "2": "Schools and education",
    "3": "Health services",
    "4": "Housing",
    "5": "LA services",
    "6": "Police",
    "7": "Other legal agency",
    "8": "Other",
    "9": "Anonymous",
    "10": "Unknown",
}


@dataclass(frozen=True)
class Table:
    """A titled table of shown cells; when ``unavailable`` is set it is printed instead."""

    title: str
    headers: tuple[str, ...]
    #: Per column: right-aligned figures (True) or text (False).
    numeric: tuple[bool, ...]
    rows: tuple[tuple[Shown, ...], ...]
    note: str = ""
    unavailable: str = ""


def teams_table(data: PackData, *, suppress: bool) -> Table:
    """The month's workforce by team: the measures of ``TEAM_KPIS`` per team, shown
    and suppressed as the pack shows them for the whole LA."""
    kpis = registry()
    headers = ("Team", *(kpis[kpi_id].label for kpi_id in TEAM_KPIS))
    numeric = (False, *[True] * len(TEAM_KPIS))
    title = "Workforce by team"
    if data.kpis["permanent_fte"].value is None:
        return Table(title, headers, numeric, (), unavailable=_not_loaded(data, "permanent_fte"))
    rows = tuple(
        (
            Shown(team.team),
            *(
                shown(
                    team.figures[kpi_id],
                    kpis[kpi_id],
                    suppress=suppress,
                    month_values=team.figures,
                )
                for kpi_id in TEAM_KPIS
            ),
        )
        for team in data.teams
    )
    note = " ".join(f"{kpis[k].label}: {kpis[k].definition}" for k in _TEAM_NOTES)
    return Table(title, headers, numeric, rows, note)


#: The team columns whose definition the table's note repeats (the rest are plain sums).
_TEAM_NOTES = ("vacancy_rate", "average_caseload", "caseload_over_20")


def sources_table(data: PackData, *, suppress: bool) -> Table:
    grouped: dict[str, int] = dict.fromkeys(SOURCE_GROUPS, 0)
    for item in data.sources:
        group = item.code if item.code == "10" else item.code[:1]
        grouped[group] = grouped.get(group, 0) + item.count
    return _code_table(
        data,
        "Referrals by source",
        "Source",
        [(SOURCE_GROUPS.get(code, code), n) for code, n in grouped.items()],
        suppress=suppress,
        note="Sources grouped as in the Children in Need census.",
    )


def needs_table(data: PackData, *, suppress: bool) -> Table:
    labels = code_labels("referrals", "primary_need")
    counts = {item.code: item.count for item in data.needs}
    rows = [(f"{code} {label}", counts.get(code, 0)) for code, label in labels.items()]
    unknown = sum(n for code, n in counts.items() if code not in labels)
    if unknown:
        rows.append(("Not recorded", unknown))
    return _code_table(
        data,
        "Primary need of referrals going further than no further action",
        "Primary need",
        rows,
        suppress=suppress,
    )


def _code_table(
    data: PackData,
    title: str,
    heading: str,
    rows: list[tuple[str, int]],
    *,
    suppress: bool,
    note: str = "",
) -> Table:
    headers = (heading, "Referrals", "Share")
    numeric = (False, True, True)
    if data.kpis["referrals"].value is None:
        return Table(title, headers, numeric, (), unavailable=_not_loaded(data, "referrals"))
    total = sum(n for _label, n in rows)
    shown_rows = tuple(
        (Shown(label), count(n, suppress=suppress), share(n, total, suppress=suppress))
        for label, n in rows
    )
    total_row = (Shown("All"), count(total, suppress=suppress), Shown(""))
    return Table(title, headers, numeric, (*shown_rows, total_row), note)


def _not_loaded(data: PackData, kpi_id: str) -> str:
    reason = data.kpis[kpi_id].reason or f"no file for {month_name(data.month)}"
    return f"not available — {reason}"
