"""Small DfE files of the published shape, written from a few hand-picked figures.

Each file has exactly the header of the shipped release (the description's
columns, in order); every cell not given is blank, which DfE's files use for
"not applicable to this level".  The figures in a test are the inputs of a
hand-worked answer, never an output of the code under test.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from etl.reference import publication
from etl.reference.model import Figures, Neighbours

ENGLAND = "E92000001"
#: Region of every LA in these files (the West Midlands' ONS code).
REGION = "E12000005"


def row(
    year: int,
    level: str,
    code: str = "",
    values: Mapping[str, str] | None = None,
    *,
    name: str = "",
    region: str = REGION,
) -> dict[str, str]:
    """One row of a figures file: National, Regional or Local authority."""
    cells = {
        "time_period": str(year),
        "time_identifier": "Reporting year",
        "geographic_level": level,
        "country_code": ENGLAND,
        "country_name": "England",
    }
    if level in ("Regional", "Local authority"):
        cells |= {"region_code": region, "region_name": "West Midlands"}
    if level == "Local authority":
        cells |= {"old_la_code": code, "new_la_code": f"E0{code}", "la_name": name or f"LA {code}"}
    return cells | dict(values or {})


def write_figures(path: Path, name: str, rows: Sequence[Mapping[str, str]]) -> Path:
    described = publication(name)
    if not isinstance(described, Figures):
        raise TypeError(name)
    return _write(path, described.columns, rows)


def write_neighbours(path: Path, model: Mapping[str, Sequence[str]]) -> Path:
    """A neighbour model: ``{la_code: [its neighbours, nearest first]}`` (10 each)."""
    described = publication("sn_model")
    if not isinstance(described, Neighbours):
        raise TypeError("sn_model")
    rows = []
    for la, near in model.items():
        cells = {
            "old_la_code": la,
            "la_name": f"LA {la}",
            "region_ind": "8",
            "region_name": "West Midlands",
        }
        for n, neighbour in enumerate(near, start=1):
            cells[described.code(n)] = neighbour
            cells[described.closeness_of(n)] = "Close " if n > 3 else "Very close"
        rows.append(cells)
    return _write(path, described.columns, rows, bom=True)


def _write(
    path: Path, header: Sequence[str], rows: Sequence[Mapping[str, str]], *, bom: bool = False
) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), restval="")
        writer.writeheader()
        for cells in rows:
            writer.writerow(dict(cells))
    return path
