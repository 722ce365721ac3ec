"""Benchmark: read and validate a large referrals file; print time and peak memory.

    .venv/bin/python bench/bench_validate.py [ROWS]   (default 2,000,000)

Target (issue 3): a 2-million-row referrals file validates with peak RSS
under 1.5 GB.  Figures are printed, never asserted: a benchmark informs, a
test decides.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RSS_GB = 1.5


def _peak_rss_kib() -> int:
    """This process's peak RSS (VmHWM).

    Not ``getrusage``: Linux carries ``ru_maxrss`` over fork and exec, so a
    child would report the parent's peak (here, the file generator's).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(path: Path) -> dict[str, float]:
    """Run read + check in this process; return seconds and peak RSS."""
    from etl.reader import read_extract
    from etl.validation import check

    started = time.perf_counter()
    extract = read_extract(path)
    read_s = time.perf_counter() - started
    checked = check(extract)
    total_s = time.perf_counter() - started
    peak_gb = _peak_rss_kib() / 1024**2
    return {
        "rows": len(checked.frame),
        "errors": sum(p.count for p in checked.problems if p.is_error),
        "read_s": round(read_s, 1),
        "total_s": round(total_s, 1),
        "peak_rss_gb": round(peak_gb, 2),
    }


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    from big_referrals import write_big_referrals

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = write_big_referrals(Path(tmp), rows)
        made = time.perf_counter() - started
        size_mb = path.stat().st_size / 1024**2
        print(f"wrote {rows:,} rows ({size_mb:,.0f} MB) in {made:.1f} s")
        # A fresh process, so the peak RSS is this measurement's alone.
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
    print(
        f"read: {figures['read_s']} s; read + validate: {figures['total_s']} s; "
        f"{figures['rows'] / figures['total_s']:,.0f} rows/s"
    )
    print(
        f"peak RSS: {figures['peak_rss_gb']} GB (target < {TARGET_RSS_GB} GB: "
        f"ratio {figures['peak_rss_gb'] / TARGET_RSS_GB:.2f})"
    )
    print(f"errors found: {figures['errors']} (expected 0)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]))))
    else:
        main()
