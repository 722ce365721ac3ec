"""The pack archive: ``{CSC_REPORTS_DIR}/{la_code}/{YYYY-MM}/`` (INTERFACE.md).

``commissioner-pack.html`` (self-contained: charts as data URIs, styles
inline, opens offline), ``kpis.csv`` (every measure of KPIS.md, exactly as
the warehouse holds it, never suppressed) and ``benchmarks.csv`` (DfE's
published figures beside the LA's, KPIS.md "Benchmarks") are the contract; a copy for an
audience that suppresses small numbers is archived beside them as
``{audience}-pack.html``.  Each HTML pack has its PDF copy beside it, under
the same name ending ``.pdf`` (:func:`pdf_file`).  Files are written atomically; a file that changes
(a corrected pack) first moves the earlier version to ``superseded/`` under
its own digest, so every version that may have been sent is kept.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import uuid
from collections.abc import Iterable
from pathlib import Path

from etl.months import Month
from etl.warehouse.measures import KPI_CSV_HEADER, KpiValue

PACK_FILE = "commissioner-pack.html"
CSV_FILE = "kpis.csv"
#: KPIS.md's "Benchmarks": DfE's published figures for the LA and month.
BENCHMARKS_FILE = "benchmarks.csv"
SUPERSEDED_DIR = "superseded"


def pack_dir(reports_dir: Path, la_code: str, month: Month) -> Path:
    return reports_dir / la_code / str(month)


def audience_file(audience: str) -> str:
    return f"{audience}-pack.html"


def pdf_file(html: Path) -> Path:
    """Where the PDF copy of the archived pack ``html`` is kept: beside it, as ``.pdf``."""
    return html.with_suffix(".pdf")


def kpis_csv(values: Iterable[KpiValue]) -> bytes:
    """kpis.csv exactly as KPIS.md defines it: header, then one row per kpi_id."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(KPI_CSV_HEADER)
    for value in values:
        writer.writerow(value.csv_row())
    return buffer.getvalue().encode("utf-8")


def archive(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path``, keeping a different earlier version aside."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        earlier = path.read_bytes()
        if earlier == content:
            return path
        digest = hashlib.sha256(earlier).hexdigest()[:12]
        aside = path.parent / SUPERSEDED_DIR / f"{path.stem}-{digest}{path.suffix}"
        aside.parent.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):  # another publisher moved it first
            path.replace(aside)
    # A name of its own: two publishers of the month never share a partial file.
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
    partial.write_bytes(content)
    partial.replace(path)
    return path
