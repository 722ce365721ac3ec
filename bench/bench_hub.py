"""Benchmark: a hub's month, every LA at once, through one ``csc-pipeline ingest``.

    .venv/bin/python bench/bench_hub.py [--las 1,10,40,153] [--month 2025-03] [--json OUT]

Writes one month of sample data for the first N LAs of DfE's statistical
neighbour model (``csc-pipeline sample-data --la ...``: each LA sized from its
published figures; untimed), then for each N: a new PostgreSQL database,
``csc-pipeline init`` (untimed), and side by side

- one ``csc-pipeline ingest`` of the 3 × N files (read, validate, load,
  measures), its wall and CPU time and the peak RSS of its process tree;
- one ``psql`` session that ``\\copy``s the same files into bare tables (the
  files' columns and the contract's types; no keys, no indexes).

Target (issue 13), at N = 153 (about 460 files): at most 2 minutes wall and at
most 25 times the copy.  The load average is printed with the figures (the
machine is shared); nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from scale_common import (
    CLI,
    Run,
    bare_tables,
    environment,
    load_average,
    psql_copy,
    run,
    sample,
    scratch,
    warehouse,
)

from etl.filenames import parse_name
from etl.sample.sizes import all_la_codes

TARGET_WALL, TARGET_RATIO = 120.0, 25.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--las", default="153", help="numbers of LAs, comma-separated")
    parser.add_argument("--month", default="2025-03")
    parser.add_argument("--json", type=Path, help="write the figures here (for the plot)")
    args = parser.parse_args()
    counts = sorted({int(n) for n in args.las.split(",")})
    codes = all_la_codes()
    if not counts or counts[0] < 1 or counts[-1] > len(codes):
        raise SystemExit(f"--las: numbers of LAs from 1 to {len(codes)}")
    points: list[dict[str, float]] = []
    with scratch("bench-hub-") as tmp:
        root = Path(tmp)
        base_env = environment(root / "var-sample", "sqlite://")
        wanted = codes[: counts[-1]]
        print(f"Generating {args.month} for {len(wanted)} LAs ... ", end="", flush=True)
        files = sample(root / "sample", ",".join(wanted), args.month, 1, base_env)
        print(
            f"{len(files)} files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB", flush=True
        )
        for n in counts:
            chosen = set(codes[:n])
            subset = [f for f in files if parse_name(f).la_code in chosen]
            rows = sum(f.read_bytes().count(b"\n") - 1 for f in subset)
            print(f"\n{n} LAs: {len(subset)} files, {rows:,} rows; {load_average()}", flush=True)
            ingest, copy = _one(root / f"n{n}", subset)
            print(f"  csc-pipeline ingest   {ingest.show()}", flush=True)
            print(f"  psql \\copy (1 session){copy.show()}", flush=True)
            ratio = ingest.wall / copy.wall
            print(
                f"  ratio ingest / copy, wall: {ratio:.1f}x (target <= {TARGET_RATIO:g}x); "
                f"ingest wall {ingest.wall:.1f} s (target <= {TARGET_WALL:g} s at 153 LAs); "
                f"per file {ingest.wall / len(subset):.2f} s"
            )
            print(f"  after: {load_average()}", flush=True)
            points.append(
                {
                    "las": n,
                    "files": len(subset),
                    "rows": rows,
                    "ingest_wall": ingest.wall,
                    "ingest_cpu": ingest.cpu,
                    "ingest_peak_rss": ingest.peak_rss,
                    "copy_wall": copy.wall,
                    "ratio": ratio,
                    "load": os.getloadavg()[0],
                }
            )
    if args.json:
        args.json.write_text(json.dumps(points, indent=2) + "\n", encoding="utf-8")


def _one(work: Path, files: list[Path]) -> tuple[Run, Run]:
    work.mkdir()
    with warehouse() as url:
        env = environment(work / "var", url)
        run([CLI, "init"], env, work)
        landing = Path(env["CSC_LANDING_DIR"])
        landed = [Path(shutil.copy2(f, landing / f.name)) for f in files]
        ingest = run([CLI, "ingest", *map(str, landed)], env, work)
        bare_tables(url, "bare")
        copy = psql_copy(url, "bare", files, work)
    return ingest, copy


if __name__ == "__main__":
    main()
