"""Benchmark: one pack from a warehouse holding a whole country's history, or a series.

    .venv/bin/python bench/bench_pack.py [--las 153] [--months 36]
    .venv/bin/python bench/bench_pack.py --series [--months 12] [--before main] [--rounds 1]

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

``--series``: what ``make demo`` asks of the pack, which publishes every month
in one process (Airflow's ``dag.test()``).  ``--months`` months of LA 330 are
ingested into a SQLite warehouse (untimed); then each mode, in a process of
its own on a copy of that warehouse and an empty archive, publishes them one
after another (``publish_pack``, sent to the outbox) and prints each pack's
seconds split into gather (the warehouse's figures), view, charts, HTML, PDF
(the browser's start included), archive and e-mail, with the CPU seconds of
Python and of Chromium.  The modes, run in turn (``--rounds`` times):

* ``before``: the code of ``--before`` (a git revision, default ``main``),
  taken with ``git archive``: a browser per publish, one print at a time;
* ``fresh``: this code with a browser started and closed per publish;
* ``shared``: this code as shipped (the process's browser, copies side by side).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
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
#: ``--series``: one mode's publishes, in one process; a JSON line per pack.
IN_SERIES = """
import ctypes, json, os, resource, sys, time
from collections import defaultdict
import psutil
import etl
import etl.report.publish as publish
from etl.months import Month
from etl.settings import load_settings
from etl.warehouse.db import open_warehouse
mode, la, first, count, code = sys.argv[1:6]
first, count = Month.parse(first), int(count)
if not etl.__file__.startswith(code):
    raise SystemExit(f"{mode}: imported etl from {etl.__file__}, not from {code}")
spent = defaultdict(float)
def timed(owner, name, phase):
    inner = getattr(owner, name)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[phase] += time.perf_counter() - began
    setattr(owner, name, wrapper)
if mode in ("fresh", "serial"):
    from etl.report import pdf
    def one_at_a_time(printer, jobs):
        return [printer.print_pdf(document, head) for document, head in jobs]
    def fresh(jobs):
        with pdf.Printer() as printer:
            return one_at_a_time(printer, jobs)
    def serial(jobs):
        return [pdf.print_pdfs([job])[0] for job in jobs]
    publish.print_pdfs = fresh if mode == "fresh" else serial
for name, phase in [("gather", "gather"), ("build_view", "view"), ("render_all", "charts"),
                    ("render_html", "html"), ("_pdfs", "pdf"), ("archive", "archive")]:
    timed(publish, name, phase)
timed(publish._Run, "deliver", "email")
me = psutil.Process()
# The browser's helpers outlive it by a moment and would be reparented to init,
# their CPU lost: as a subreaper this process inherits them and reaps them below.
ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
def chromium_cpu():
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = {}
    for child in me.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        live[child.pid] = times.user + times.system
    return usage.ru_utime + usage.ru_stime, live
settings = load_settings()
engine = open_warehouse(settings.warehouse_url, must_exist=True)
for n in range(count):
    month = first + n
    spent.clear()
    reaped, live = chromium_cpu()
    cpu, began = time.process_time(), time.perf_counter()
    publish.publish_pack(engine, settings, la, month, send=True)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    reaped_after, live_after = chromium_cpu()
    browser = reaped_after - reaped + sum(t - live.get(p, 0.0) for p, t in live_after.items())
    print(json.dumps({"month": str(month), "total": wall, **spent, "cpu": cpu,
                      "chromium_cpu": browser}), flush=True)
"""
#: The columns of a series, in the order they are printed.
PHASES = ("total", "gather", "view", "charts", "html", "pdf", "archive", "email")
MODES = ("before", "fresh", "serial", "shared")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--las", type=int, default=153)
    parser.add_argument("--months", type=int)
    parser.add_argument("--series", action="store_true", help="time a series of publishes")
    parser.add_argument("--before", default="main", help="--series: the revision to compare")
    parser.add_argument("--modes", default=",".join(MODES), help="--series: modes to run")
    parser.add_argument("--rounds", type=int, default=1, help="--series: runs of each mode")
    args = parser.parse_args()
    if args.series:
        series(args.months or 12, args.before, args.modes.split(","), args.rounds)
        return
    args.months = args.months or 36
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


def series(months: int, before: str, modes: list[str], rounds: int) -> None:
    """Publish ``months`` months in one process per mode; per-pack phases side by side."""
    here = Path(__file__).resolve().parent.parent
    with scratch("bench-series-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'warehouse.db'}"
        env = environment(root / "var", url)
        files = sample(root / "sample", LA, str(START), months, env)
        run([CLI, "init"], env, root)
        landing = Path(env["CSC_LANDING_DIR"])
        landed = [str(shutil.copy2(f, landing / f.name)) for f in files]
        print(f"Ingesting {len(files)} files of LA {LA} ({months} months) ...", flush=True)
        run([CLI, "ingest", *landed], env, root)
        code = {"fresh": here / "etl", "serial": here / "etl", "shared": here / "etl"}
        if "before" in modes:
            code["before"] = _checkout(here, before, root / "before") / "etl"
        figures: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
        for round_ in range(rounds):
            for mode in modes:
                run_dir = root / f"{mode}-{round_}"
                run_env = environment(run_dir / "var", f"sqlite:///{run_dir / 'warehouse.db'}")
                (run_dir / "var").mkdir(parents=True)
                shutil.copy2(root / "warehouse.db", run_dir / "warehouse.db")
                if mode == "before":
                    run_env["PYTHONPATH"] = str(code["before"].parent)
                print(f"{mode} (round {round_ + 1}): {load_average()}", flush=True)
                figures[mode] += _publishes(mode, run_env, run_dir, months, code[mode])
    print()
    _series_table(figures, months, before)


def _checkout(repository: Path, revision: str, into: Path) -> Path:
    """The package ``etl`` of ``revision``, unpacked into ``into`` (``git archive``)."""
    into.mkdir()
    archive = into / "etl.tar"
    with archive.open("wb") as handle:
        subprocess.run(
            ["git", "-C", str(repository), "archive", revision, "etl"], stdout=handle, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def _publishes(
    mode: str, env: dict[str, str], cwd: Path, months: int, code: Path
) -> list[dict[str, float]]:
    command = [sys.executable, "-c", IN_SERIES, mode, LA, str(START), str(months), str(code)]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{mode}: publish_pack failed:\n{done.stderr[-4000:]}")
    packs = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    print(f"  {'month':8}" + "".join(f"{p:>8}" for p in PHASES) + "  CPU: Python Chromium")
    for pack in packs:
        cells = "".join(f"{pack.get(p, 0.0):8.2f}" for p in PHASES)
        print(f"  {pack['month']:8}{cells}  {pack['cpu']:11.2f} {pack['chromium_cpu']:8.2f}")
    return packs


def _series_table(figures: dict[str, list[dict[str, float]]], months: int, before: str) -> None:
    """Each mode's mean seconds per pack (its first pack included: the demo pays it)."""
    runs = len(next(iter(figures.values()))) // months
    print(f"Seconds per pack, mean of {runs} run(s) of {months} consecutive months, "
          f"each run in one process (before = {before}):")  # fmt: skip
    columns = [*PHASES, "cpu", "chromium_cpu"]
    print(f"  {'mode':8}" + "".join(f"{c.replace('chromium_cpu', 'Chr CPU'):>9}" for c in columns))
    means = {
        mode: {c: statistics.fmean(p.get(c, 0.0) for p in packs) for c in columns}
        for mode, packs in figures.items()
        if packs
    }
    for mode, mean in means.items():
        print(f"  {mode:8}" + "".join(f"{mean[c]:9.2f}" for c in columns))
    base = means.get("before") or means.get("fresh")
    if base is None:
        return
    against = "before" if "before" in means else "fresh"
    for mode, mean in means.items():
        ratios = [f"{c} {base[c] / mean[c]:.2f}x" for c in ("total", "pdf") if mean[c] > 0]
        median = statistics.median(p["total"] for p in figures[mode])
        print(
            f"  {mode}: {against}'s time over this: {', '.join(ratios)}; median pack {median:.2f} s"
        )


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
