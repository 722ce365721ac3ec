"""Each LA's sample profile, sized from its own published figures.

A hub's sample files should look like its councils': Kent's workforce file
as long as Kent's workforce, the City of London's referrals as few as the City
of London's.  The figures are DfE's shipped releases (``etl/reference/data/``,
described in ``etl/reference/publications/``): from the children's social work
workforce census, FTE in post, agency FTE, vacancy FTE and turnover; from
children in need table C1, referrals and re-referrals a year.  Each LA takes
its latest year with a number (DfE suppresses some cells).

A sized LA is a steady council, not the story's council in intervention: its
rates stay at its published level for every month.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from etl.errors import CscError
from etl.reference import neighbour_model, publication, shipped_file
from etl.reference.model import LA_LEVEL, Figures
from etl.sample import story

#: Expected FTE of a post by role: roles 3 and up may be part-time (story).
_PART_TIME_LOSS = story.PART_TIME_SHARE * (
    1 - sum(fte * share for fte, share in story.PART_TIME_FTE.items())
)
#: Rates are capped below 1: a council whose every post is vacant (the Isles of
#: Scilly publish 100%) still needs one held post for the agency target to mean anything.
_MAX_RATE = 0.9
_MEAN_SEASON = sum(story.SEASON.values()) / 12


@dataclass(frozen=True)
class Published:
    """The figures an LA's profile is sized from (the latest year each has a number)."""

    la_code: str
    la_name: str
    inpost_fte: float
    agency_fte: float
    vacancy_fte: float
    turnover_rate: float
    referrals: float
    rereferral_rate: float


def all_la_codes() -> list[str]:
    """Every LA of DfE's statistical neighbour model, in code order."""
    return sorted(_names())


def parse_la_list(text: str) -> list[str]:
    """``330``, ``330,886`` or ``all`` as LA codes; an unknown code is a CscError."""
    if text.strip().lower() == "all":
        return all_la_codes()
    codes = [part.strip() for part in text.split(",") if part.strip()]
    if not codes:
        raise CscError("--la names no LA code; give a code such as 330, a list or all")
    known = _names()
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise CscError(
            f"--la {', '.join(unknown)}: not an LA of DfE's statistical neighbour model "
            f"({len(known)} LAs, {min(known)} to {max(known)}; `--la all` takes every one)"
        )
    if len(set(codes)) != len(codes):
        raise CscError(f"--la {text}: an LA code is given twice")
    return codes


def published(la_code: str) -> Published:
    """The LA's published figures; an LA with none of a figure is a CscError."""
    c1 = _latest("c1", la_code)
    csww = _workforce(la_code, c1)
    needed = {
        "inpost_fte": csww,
        "agency_fte": csww,
        "vacancy_fte": csww,
        "turnover_rate_fte": csww,
        "referral_count": c1,
        "rereferral_percent": c1,
    }
    missing = [column for column, figures in needed.items() if column not in figures]
    if missing:
        raise CscError(
            f"LA {la_code} has no published {', '.join(missing)} in the shipped releases"
        )
    return Published(
        la_code=la_code,
        la_name=_names()[la_code],
        inpost_fte=csww["inpost_fte"],
        agency_fte=csww["agency_fte"],
        vacancy_fte=csww["vacancy_fte"],
        turnover_rate=csww["turnover_rate_fte"] / 100,
        referrals=c1["referral_count"],
        rereferral_rate=c1["rereferral_percent"] / 100,
    )


def profile_of(la_code: str) -> story.Profile:
    """A steady council with the LA's establishment, rates and referral volume."""
    figures = published(la_code)
    establishment = figures.inpost_fte + figures.vacancy_fte
    vacancy = _rate(figures.vacancy_fte, establishment)
    agency = _rate(figures.agency_fte, figures.agency_fte + figures.inpost_fte)
    scale = figures.referrals / (12 * story.REFERRALS_PER_MONTH)
    end = story.PLAN_MONTHS - 1
    return story.Profile(
        teams=_teams(establishment),
        new_posts=(),
        new_post_plan=(),
        vacancy_rate=_flat(vacancy),
        agency_rate=_flat(agency),
        turnover=_flat(min(figures.turnover_rate, _MAX_RATE)),
        referrals_per_month=figures.referrals / 12 / _MEAN_SEASON,
        re_referral=_flat(figures.rereferral_rate),
        unallocated=_flat(story.UNALLOCATED.at(end)),
        capacity_closures=_flat(story.CAPACITY_CLOSURES.at(end) * scale),
    )


def _teams(establishment_fte: float) -> tuple[tuple[str, dict[int, int]], ...]:
    """The story's teams, every role scaled to the establishment (largest remainders)."""
    cells = [(team, role, count) for team, roles in story.TEAMS for role, count in roles.items()]
    fte = sum(count * (1.0 if role < 3 else 1 - _PART_TIME_LOSS) for _, role, count in cells)
    factor = establishment_fte / fte
    exact = [count * factor for _, _, count in cells]
    posts = [int(x) for x in exact]
    wanted = max(1, round(sum(exact)))
    # The largest fractions take the posts rounding down lost; ties by position.
    order = sorted(range(len(cells)), key=lambda i: (-(exact[i] - posts[i]), i))
    for i in order[: max(0, wanted - sum(posts))]:
        posts[i] += 1
    teams: dict[str, dict[int, int]] = {team: {} for team, _ in story.TEAMS}
    for (team, role, _), count in zip(cells, posts, strict=True):
        if count:
            teams[team][role] = count
    return tuple(teams.items())


def _rate(part: float, whole: float) -> float:
    return min(part / whole, _MAX_RATE) if whole > 0 else 0.0


def _flat(value: float) -> story.Trajectory:
    return story.Trajectory(value, value)


@cache
def _names() -> dict[str, str]:
    model = neighbour_model()
    with shipped_file(model.name).open(encoding="utf-8-sig", newline="") as handle:
        return {row[model.la_column]: row[model.name_column] for row in csv.DictReader(handle)}


@cache
def _figures(name: str) -> dict[str, dict[str, tuple[int, float]]]:
    """Per LA, per value column: the latest year with a number, and that number."""
    described = publication(name)
    if not isinstance(described, Figures):
        raise TypeError(f"{name} is not described as a publication of figures")
    latest: dict[str, dict[str, tuple[int, float]]] = {}
    with shipped_file(name).open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["geographic_level"] != LA_LEVEL:
                continue
            year = int(row[described.period.column])
            columns = latest.setdefault(row["old_la_code"], {})
            for column in described.values:
                value = _number(row[column])
                if value is not None and year > columns.get(column, (0, 0.0))[0]:
                    columns[column] = (year, value)
    return latest


def _workforce(la_code: str, c1: dict[str, float]) -> dict[str, float]:
    """The LA's workforce figures; an LA DfE publishes jointly with others takes its share.

    Kingston and Richmond (``314 / 318``), and North and West Northamptonshire
    (``940 / 941``), run one children's service and are published as one row:
    each LA takes the joint FTEs in proportion to its referrals, and the joint rates.
    """
    own = _latest("csww", la_code)
    if own:
        return own
    for joint in _figures("csww"):
        members = [code.strip() for code in joint.split("/")]
        if la_code not in members or len(members) < 2:
            continue
        referrals = [_latest("c1", code).get("referral_count") for code in members]
        known = [r for r in referrals if r is not None]
        share = (
            c1["referral_count"] / sum(known)
            if "referral_count" in c1 and len(known) == len(members) and sum(known) > 0
            else 1 / len(members)
        )
        return {
            column: value * share if column.endswith("_fte") and "rate" not in column else value
            for column, value in _latest("csww", joint).items()
        }
    return {}


def _latest(name: str, la_code: str) -> dict[str, float]:
    return {column: value for column, (_, value) in _figures(name).get(la_code, {}).items()}


def _number(text: str) -> float | None:
    # Anything else is one of the publication's symbols (suppressed, not available...).
    try:
        return float(text)
    except ValueError:
        return None
