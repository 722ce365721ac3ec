"""Benchmark: does a month cost more with more history behind it?

    .venv/bin/python bench/bench_history.py [--months 120] [--at 12,24,60,120] [--json OUT]

Writes ``--months`` months of one LA's sample data (untimed) and loads them in
order into a new PostgreSQL database through ``csc-pipeline ingest``.  The
months named by ``--at`` are each ingested by a process of their own and timed
(the CLI's ingest computes the measures of every month a load affects, so the
figure is ingest + measures); the months between are ingested untimed, a run
of months per process.  Beside each timed month, the same environment's
``python -c "import pandas, sqlalchemy, great_expectations"``, so a busier
moment on the shared machine shows in both.

Target (issue 13): month 120 at most 1.2 times month 12.  The load average is
printed with the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from scale_common import CLI, environment, load_average, run, sample, scratch, warehouse

from etl.filenames import parse_name
from etl.months import Month

TARGET_RATIO = 1.2
LA, START = "330", Month(2015, 4)
IMPORTS = "import pandas, sqlalchemy, great_expectations"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--at", default="12,24,60,120", help="months to time, 1-based")
    parser.add_argument("--json", type=Path, help="write the figures here (for the plot)")
    args = parser.parse_args()
    timed = sorted({int(m) for m in args.at.split(",")})
    if not timed or timed[0] < 1 or timed[-1] > args.months:
        raise SystemExit(f"--at: months from 1 to {args.months}")
    points: list[dict[str, float]] = []
    with scratch("bench-history-") as tmp, warehouse() as url:
        root = Path(tmp)
        env = environment(root / "var", url)
        files = sample(root / "sample", LA, str(START), args.months, env)
        by_month: dict[int, list[Path]] = {}
        for path in files:
            by_month.setdefault(parse_name(path).month.months_since(START) + 1, []).append(path)
        print(f"LA {LA}: {len(files)} files, {args.months} months from {START}", flush=True)
        run([CLI, "init"], env, root)
        landing = Path(env["CSC_LANDING_DIR"])
        done = 0
        for month in timed:
            between = [f for m in range(done + 1, month) for f in by_month[m]]
            if between:
                run([CLI, "ingest", *_land(between, landing)], env, root)
            ingest = run([CLI, "ingest", *_land(by_month[month], landing)], env, root)
            imports = run([sys.executable, "-c", IMPORTS], env, root)
            done = month
            print(
                f"month {month:4d} ({START + (month - 1)}): ingest {ingest.show()}\n"
                f"{'':22}imports{imports.show()}   {load_average()}"
            )
            points.append(
                {
                    "month": month,
                    "ingest_wall": ingest.wall,
                    "ingest_cpu": ingest.cpu,
                    "import_wall": imports.wall,
                    "import_cpu": imports.cpu,
                    "load": os.getloadavg()[0],
                }
            )
    first, last = points[0], points[-1]
    for kind in ("wall", "cpu"):
        ratio = last[f"ingest_{kind}"] / first[f"ingest_{kind}"]
        beyond = (last[f"ingest_{kind}"] - last[f"import_{kind}"]) / max(
            first[f"ingest_{kind}"] - first[f"import_{kind}"], 1e-9
        )
        print(
            f"ratio month {last['month']:.0f} / month {first['month']:.0f}, {kind}: {ratio:.2f} "
            f"(target <= {TARGET_RATIO:g}); beyond the imports: {beyond:.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(points, indent=2) + "\n", encoding="utf-8")


def _land(files: list[Path], landing: Path) -> list[str]:
    return [str(shutil.copy2(f, landing / f.name)) for f in files]


if __name__ == "__main__":
    main()
