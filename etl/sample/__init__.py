"""Realistic synthetic monthly extracts: a council in intervention, improving over three years.

:func:`write_sample` writes the three files of EXTRACTS.md for every month.
The figures follow :mod:`etl.sample.story`; the same arguments always give
byte-identical files.  With ``mess`` the files take the shapes councils really
send (see :mod:`etl.sample.mess`) while meaning exactly the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from etl.contracts import DATASETS
from etl.filenames import extract_filename, is_la_code
from etl.months import Month
from etl.sample import mess as _mess
from etl.sample import story
from etl.sample.closures import close_for_capacity, closures_table
from etl.sample.days import WorkCalendar
from etl.sample.mess import MESS_VARIANTS
from etl.sample.referrals import referrals_table, simulate_referrals
from etl.sample.workforce import simulate_workforce
from etl.sample.writer import Rendering, Table

__all__ = ["MESS_VARIANTS", "write_sample"]

# Independent random streams, so a change to one part leaves the others' data alone.
_WORKFORCE, _REFERRALS, _CAPACITY, _MESS = 1, 2, 3, 4
DEFAULT_START = Month(2022, 4)
#: Episodes can close years after their referral; the calendar must reach that far.
_CALENDAR_YEARS_AFTER = 6


def write_sample(
    out_dir: Path,
    *,
    la_code: str = "330",
    start: Month = DEFAULT_START,
    months: int = 36,
    seed: int = 1,
    mess: bool = False,
    progress: Callable[[Month], None] | None = None,
    mess_variants: Sequence[str] | None = None,
    profile: story.Profile = story.STORY,
) -> list[Path]:
    """Write every month's workforce, referrals and closures extract; return the paths, sorted.

    ``mess`` gives each file a rotating combination of mess variants;
    ``mess_variants`` forces the named ones on every file instead (unknown
    names raise ValueError).  ``progress`` is called once per month written.
    ``profile`` sizes the council (:func:`etl.sample.sizes.profile_of` for an
    LA's own); the default is the story's council.
    """
    if not is_la_code(la_code):
        raise ValueError(f"{la_code!r} is not a 3-digit DfE LA code")
    if months < 1:
        raise ValueError("months must be at least 1")
    forced = None if mess_variants is None else _mess.check_variants(mess_variants)
    story.check_codes()
    out_dir.mkdir(parents=True, exist_ok=True)

    # The story keeps the streams it always had (its files do not change); a
    # sized LA mixes its code in, so two LAs of one hub never share a stream.
    key = (seed,) if profile is story.STORY else (seed, int(la_code))
    calendar = WorkCalendar(
        start - story.WARM_UP_MONTHS, start + (months + 12 * _CALENDAR_YEARS_AFTER)
    )
    episodes, children = simulate_referrals(_rng(key, _REFERRALS), calendar, start, months, profile)
    close_for_capacity(_rng(key, _CAPACITY), calendar, episodes, start, profile)
    workforce = simulate_workforce(_rng(key, _WORKFORCE), calendar, la_code, start, months, profile)

    paths: list[Path] = []
    for t, (month, workforce_table) in enumerate(workforce):
        tables = {
            "workforce": workforce_table,
            "referrals": referrals_table(episodes, children, la_code, month, t),
            "closures": closures_table(episodes, children, la_code, month, t),
        }
        for index, dataset in enumerate(DATASETS):
            variants = forced if forced is not None else _mess.rotation(index, t) if mess else ()
            rng = _rng(key, _MESS, index, t)
            paths.append(_write(out_dir, tables[dataset], la_code, month, variants, rng))
        if progress is not None:
            progress(month)
    return sorted(paths)


def _rng(key: tuple[int, ...], *stream: int) -> np.random.Generator:
    return np.random.default_rng([*key, *stream])


def _write(
    out_dir: Path,
    table: Table,
    la_code: str,
    month: Month,
    variants: Sequence[str],
    rng: np.random.Generator,
) -> Path:
    rendering = Rendering.of(table)
    _mess.apply(rendering, variants, rng)
    path = out_dir / extract_filename(table.dataset, la_code, month, rendering.suffix)
    # Nothing is deleted, not even an earlier sample of the other kind (.csv
    # or .xlsx): the folder may be a real landing folder.
    path.write_bytes(rendering.to_bytes())
    return path
