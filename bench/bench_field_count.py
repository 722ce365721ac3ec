"""Benchmark: what the reader's field-count pass costs on a large referrals file.

    .venv/bin/python bench/bench_field_count.py [ROWS]   (default 1,000,000)

The pass (``etl.reader._misshapen_lines``) refuses a CSV whose rows have
another number of fields than the header.  It is timed alone, and
``read_extract`` is timed with it and with it switched off, side by side in
one run, on two copies of one file: as written (no quotes: the numpy count)
and with every field quoted (the csv-module count).  Figures are printed,
never asserted.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from etl import reader


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _read_without_pass(path: Path) -> reader.Extract:
    original = reader._refuse_misshapen
    reader._refuse_misshapen = lambda path, encoding: None  # type: ignore[assignment]
    try:
        return reader.read_extract(path)
    finally:
        reader._refuse_misshapen = original  # type: ignore[assignment]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    from big_referrals import write_big_referrals

    with tempfile.TemporaryDirectory() as tmp:
        plain = write_big_referrals(Path(tmp), rows)
        quoted_dir = Path(tmp) / "quoted"
        quoted_dir.mkdir()
        quoted = quoted_dir / plain.name
        frame = pd.read_csv(plain, dtype="str", keep_default_na=False)
        frame.to_csv(quoted, index=False, quoting=csv.QUOTE_ALL)
        del frame
        for label, path in (("no quotes", plain), ("all quoted", quoted)):
            _measure(label, path, rows)


def _measure(label: str, path: Path, rows: int) -> None:
    size = path.stat().st_size / 1024**2
    count = _seconds(lambda: reader._misshapen_lines(path, "utf-8-sig"))
    # Alternated, so load on the shared machine falls on both alike.
    without = _seconds(lambda: _read_without_pass(path))
    with_pass = _seconds(lambda: reader.read_extract(path))
    without = min(without, _seconds(lambda: _read_without_pass(path)))
    with_pass = min(with_pass, _seconds(lambda: reader.read_extract(path)))
    print(
        f"{label}: {rows:,} rows, {size:,.0f} MB; field-count pass {count:.2f} s; "
        f"read_extract without it {without:.2f} s, with it {with_pass:.2f} s "
        f"(ratio {with_pass / without:.3f}; pass / read {count / without:.3f})"
    )


if __name__ == "__main__":
    main()
