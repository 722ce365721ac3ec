"""DfE's published statistics: described once, read, validated, loaded, compared.

* :mod:`etl.reference.model` and ``publications/*.yml`` - one description per
  publication (the workforce indicators, children in need tables C1 and B1,
  the statistical neighbour model);
* :mod:`etl.reference.reader` - a release file read into long rows, with its
  problems as records;
* :mod:`etl.reference.suites` - the Great Expectations suite of each
  publication, generated from its description;
* :mod:`etl.reference.load` - a release loaded into the warehouse, superseding
  the years it repeats (``csc-pipeline reference load``; ``init`` loads the
  copies shipped in ``data/``);
* :mod:`etl.reference.benchmarks` - KPIS.md's benchmarks in SQL: the LA beside
  its statistical neighbours, its region and England.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import TypeAdapter

from etl.reference.model import Figures, Neighbours, Publication

#: Every publication, in the order they are loaded and shown.
PUBLICATIONS: tuple[str, ...] = ("csww", "c1", "b1", "sn_model")
#: The attribution the Open Government Licence asks for, shown with the data.
ATTRIBUTION = "Contains public sector information licensed under the Open Government Licence v3.0."


@cache
def publication(name: str) -> Figures | Neighbours:
    """The description of one publication; an unknown name is a programming error."""
    if name not in PUBLICATIONS:
        raise KeyError(f"unknown publication {name!r}; expected one of {', '.join(PUBLICATIONS)}")
    folder = resources.files(__package__).joinpath("publications")
    text = folder.joinpath(f"{name}.yml").read_text(encoding="utf-8")
    result: Figures | Neighbours = TypeAdapter(Publication).validate_python(yaml.safe_load(text))
    return result


def figures_publications() -> list[Figures]:
    return [p for name in PUBLICATIONS if isinstance(p := publication(name), Figures)]


def neighbour_model() -> Neighbours:
    model = publication("sn_model")
    if not isinstance(model, Neighbours):
        raise TypeError("sn_model is not described as a neighbour model")
    return model


def shipped_file(name: str) -> Path:
    """The release of ``name`` shipped with the package."""
    data = resources.files(__package__).joinpath("data")
    return Path(str(data.joinpath(publication(name).shipped)))
