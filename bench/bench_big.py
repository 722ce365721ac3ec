"""Benchmark: one very large referrals file through ``csc-pipeline ingest`` into PostgreSQL.

    .venv/bin/python bench/bench_big.py [--rows 2000000]

Writes ``--rows`` valid referrals of one LA's month in one CSV
(``bench/big_referrals.py``, untimed), then in a new PostgreSQL database
(``csc-pipeline init`` untimed), side by side:

- ``csc-pipeline ingest`` of the file (read, validate, pseudonymise, load,
  measures): wall and CPU time, and the peak RSS of its process tree;
- one ``psql`` session that ``\\copy``s the same file into a bare table (the
  file's columns and the contract's types; no keys, no indexes).

Target (issue 13) at 2,000,000 rows: at most 5 times the copy, peak RSS under
1 GB.  The load average is printed with the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from big_referrals import write_big_referrals
from scale_common import (
    CLI,
    bare_tables,
    environment,
    load_average,
    psql_copy,
    run,
    scratch,
    warehouse,
)

TARGET_RATIO, TARGET_RSS = 5.0, 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    with scratch("bench-big-") as tmp:
        root = Path(tmp)
        (root / "file").mkdir()
        path = write_big_referrals(root / "file", args.rows)
        print(f"{path.name}: {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB", flush=True)
        print(f"before: {load_average()}", flush=True)
        with warehouse() as url:
            env = environment(root / "var", url)
            run([CLI, "init"], env, root)
            landed = Path(shutil.copy2(path, Path(env["CSC_LANDING_DIR"]) / path.name))
            ingest = run([CLI, "ingest", str(landed)], env, root)
            print(f"  csc-pipeline ingest    {ingest.show()}", flush=True)
            # The load's own account of its steps (etl.warehouse.load logs it).
            for line in ingest.log.splitlines():
                if " rows; staged in " in line:
                    print(f"    load: {line.split(' rows; ', 1)[1]}", flush=True)
            print(f"  after ingest: {load_average()}", flush=True)
            bare_tables(url, "bare")
            copy = psql_copy(url, "bare", [path], root)
            print(f"  psql \\copy (bare)      {copy.show()}", flush=True)
        print(
            f"ratio ingest / copy, wall: {ingest.wall / copy.wall:.1f}x "
            f"(target <= {TARGET_RATIO:g}x); peak RSS {ingest.peak_rss / 2**30:.2f} GiB "
            f"(target < {TARGET_RSS / 2**30:g} GiB)"
        )
        print(f"after: {load_average()}", flush=True)


if __name__ == "__main__":
    main()
