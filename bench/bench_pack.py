"""Benchmark: one pack rendered from a warehouse holding a whole country's history.

    .venv/bin/python bench/bench_pack.py [--las 153] [--months 36]

Loads ``--months`` months of LA 330's sample data into a new PostgreSQL
database through ``csc-pipeline ingest`` (untimed), and times the pack of its
last month (``csc-pipeline report``, and ``publish_pack`` inside one process
after its imports).  Then the warehouse is filled to ``--las`` LAs: every data
row, load and measure of LA 330 copied under the codes of the first LAs of
DfE's statistical neighbour model, in SQL, then ANALYZE (a copy, not an
ingest: what the pack's queries meet is the tables' size, and ingesting 153 ×
36 months would take hours on this machine).  The same pack is timed again.

Target (issue 13): the pack from 153 LAs × 36 months in under 2 seconds.  The
load average is printed with the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from scale_common import CLI, environment, load_average, run, sample, scratch, warehouse

from etl.months import Month
from etl.sample.sizes import all_la_codes
from etl.warehouse.db import make_engine
from etl.warehouse.schema import DATA_TABLES, loads, measures

TARGET_SECONDS = 2.0
LA, START = "330", Month(2022, 4)
#: Times publish_pack after the imports, in a process of its own (cold caches).
IN_PROCESS = """
import json, sys, time
from etl.months import Month
from etl.report.publish import publish_pack
from etl.settings import load_settings
from etl.warehouse.db import open_warehouse
settings = load_settings()
engine = open_warehouse(settings.warehouse_url, must_exist=True)
started = time.perf_counter()
publish_pack(engine, settings, sys.argv[1], Month.parse(sys.argv[2]), send=False)
print(json.dumps(time.perf_counter() - started), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--las", type=int, default=153)
    parser.add_argument("--months", type=int, default=36)
    args = parser.parse_args()
    month = str(START + (args.months - 1))
    with scratch("bench-pack-") as tmp, warehouse() as url:
        root = Path(tmp)
        env = environment(root / "var", url)
        files = sample(root / "sample", LA, str(START), args.months, env)
        run([CLI, "init"], env, root)
        landing = Path(env["CSC_LANDING_DIR"])
        landed = [str(shutil.copy2(f, landing / f.name)) for f in files]
        print(
            f"Ingesting {len(files)} files of LA {LA} ({args.months} months) ...",
            flush=True,
        )
        run([CLI, "ingest", *landed], env, root)
        _time_pack("1 LA", root, env, month)
        copies = [code for code in all_la_codes() if code != LA][: args.las - 1]
        print(f"Copying LA {LA}'s rows under {len(copies)} other LA codes ...", flush=True)
        rows = _copy_la(url, LA, copies)
        print(f"  {rows:,} data rows in the warehouse", flush=True)
        _time_pack(f"{len(copies) + 1} LAs", root, env, month)


def _time_pack(label: str, root: Path, env: dict[str, str], month: str) -> None:
    print(f"{label} x {month}: {load_average()}", flush=True)
    cli = run([CLI, "report", "--la", LA, "--month", month], env, root)
    out = root / "in-process.txt"
    with out.open("w") as handle:
        done = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, LA, month], env=env, cwd=root, stdout=handle
        )
    if done.returncode != 0:
        raise SystemExit("publish_pack failed")
    inside = json.loads(out.read_text())
    print(f"  csc-pipeline report {cli.show()}", flush=True)
    print(f"  publish_pack in-process {inside:.2f} s (target < {TARGET_SECONDS:g} s)", flush=True)


def _copy_la(url: str, la_code: str, codes: list[str]) -> int:
    """Copy every row of ``la_code`` under each of ``codes``, in SQL (one statement a table)."""
    engine = make_engine(url)  # the warehouse's schema, as the CLI has it
    targets = sa.values(sa.column("code", sa.String), name="targets").data([(c,) for c in codes])
    code = targets.c.code

    def new_id(column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        # A load id per copy: the same UUID's md5 with the copy's code (32 hex).
        return sa.func.md5(column + code)

    def copied(table: sa.Table) -> sa.Select[Any]:
        columns: list[sa.ColumnElement[object]] = []
        for c in table.c:
            if c.name == "la_code":
                columns.append(code)
            elif c.name in ("load_id", "superseded_by", "duplicate_of"):
                columns.append(sa.case((c.is_(None), None), else_=new_id(c)))
            else:
                columns.append(c)
        joined = table.join(targets, sa.true())
        return sa.select(*columns).select_from(joined).where(table.c.la_code == la_code)

    with engine.begin() as connection:
        for table in [loads, *DATA_TABLES.values(), measures]:
            connection.execute(table.insert().from_select(list(table.c), copied(table)))
        connection.exec_driver_sql("ANALYZE")
        total = sum(
            connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in DATA_TABLES.values()
        )
    engine.dispose()
    return total


if __name__ == "__main__":
    main()
