"""Benchmark: does a month cost more with more history behind it?

    .venv/bin/python bench/bench_history.py [--warehouse sqlite|postgresql] [--url SERVER]
        [--early 12] [--late 120] [--repeat 3] [--history library|cli] [--explain]
        [--json OUT]

Writes ``--late`` months of one LA's sample data and builds, untimed, two
warehouses: one holding months 1..early-1, one holding months 1..late-1.
By default the history is loaded through the library (read, pseudonymise
with the CLI's key, ``load_month`` without measures) and measured once at
the end, which gives the warehouse a month-by-month ``csc-pipeline ingest``
would, in a minute or two; ``--history cli`` runs one ``csc-pipeline
ingest`` of all the history's files instead (several seconds a month), so
var/ also holds what a deployment keeps (GX's results and Data Docs).  The
warehouse and var/ are then copied ``--repeat`` times (SQLite: the backup
API; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``), so every timed ingest
meets the same state.

Timed, side by side and alternating: ``csc-pipeline ingest`` of month
``early``'s three files into a copy of the first, and of month ``late``'s
into a copy of the second (a process each: ingest + measures).  Medians of
wall and CPU (the client's process tree; on PostgreSQL the server's CPU
shows in the wall time only) and their ratio are printed.

Then, in this process, the parts that could grow with history, each timed
on both warehouses (best of ``--repeat``): the measures recompute of each
dataset's load (``recompute_after_load``), every aggregate query of the
measures for the months such a load recomputes, and the look-ups
validation makes (current referrals of a closures file, monthly volumes).
``--explain`` prints PostgreSQL's EXPLAIN ANALYZE of each aggregate query
for the late month.

Target (issue 13): month ``late`` at most 1.2 times month ``early``.  The
load average is printed with the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from scale_common import CLI, DEFAULT_SERVER, Run, environment, load_average, run, sample, scratch

from etl.contracts import load_contract
from etl.filenames import parse_name
from etl.ingest import ingest_order
from etl.months import Month
from etl.pseudonymise import pseudonymise
from etl.reader import read_extract
from etl.warehouse import queries
from etl.warehouse.db import SCHEMA, make_engine
from etl.warehouse.load import load_month, recompute_after_load
from etl.warehouse.measures import known_months, months_affected, recompute_measures
from etl.warehouse.measures_sql import aggregate_queries
from etl.warehouse.schema import CURRENT_LOAD, DATA_TABLES, loads

TARGET_RATIO = 1.2
LA, START = "330", Month(2015, 4)
#: Months measured per recompute call while building the history.
BUILD_BATCH = 24


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", default=DEFAULT_SERVER, help="PostgreSQL server (postgresql)")
    parser.add_argument("--early", type=int, default=12, help="the month compared against")
    parser.add_argument("--late", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--history",
        choices=("library", "cli"),
        default="library",
        help="build the history through the library (fast) or one `csc-pipeline ingest` "
        "of all its files (slow; keeps GX's results in var/ as a real deployment does)",
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE (PostgreSQL)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if not 1 < args.early < args.late:
        raise SystemExit("--early and --late: 1 < early < late")
    with scratch("bench-history-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        store = Store(args.warehouse, args.url, root, stack)
        env = environment(root / "var-build", store.url("build"))
        files = sample(root / "sample", LA, str(START), args.late, env)
        by_month: dict[int, list[Path]] = {}
        for path in files:
            by_month.setdefault(parse_name(path).month.months_since(START) + 1, []).append(path)
        print(
            f"LA {LA}: {len(files)} files, months 1..{args.late} from {START}; "
            f"{args.warehouse} warehouse; month {args.early} vs month {args.late}",
            flush=True,
        )
        run([CLI, "init"], env, root)
        build = History(args.history, store, root, env)
        started = time.perf_counter()
        build.add([f for m in range(1, args.early) for f in by_month[m]])
        early_copies = [build.copy(f"early{i}") for i in range(args.repeat)]
        build.add([f for m in range(args.early, args.late) for f in by_month[m]])
        late_copies = [build.copy(f"late{i}") for i in range(args.repeat)]
        print(f"history built and copied (untimed): {time.perf_counter() - started:.0f} s")

        runs: dict[int, list[Run]] = {args.early: [], args.late: []}
        for i in range(args.repeat):
            pairs = [(args.early, early_copies[i]), (args.late, late_copies[i])]
            for month, name in pairs if i % 2 == 0 else pairs[::-1]:
                var = root / f"var-{name}"
                env = environment(var, store.url(name))
                landing = Path(env["CSC_LANDING_DIR"])
                landing.mkdir(parents=True, exist_ok=True)
                landed = [str(shutil.copy2(f, landing / f.name)) for f in by_month[month]]
                timed = run([CLI, "ingest", *landed], env, root)
                runs[month].append(timed)
                print(f"  month {month:4d} ({START + (month - 1)}): {timed.show()}", flush=True)
        figures = _report(runs, args.early, args.late)
        print(load_average())
        parts = _parts(store, early_copies[0], late_copies[0], args, START)
        if args.json:
            figures.update(early=args.early, late=args.late, load=os.getloadavg()[0])
            figures["parts"] = parts
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def _report(runs: dict[int, list[Run]], early: int, late: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for kind in ("wall", "cpu"):
        a = statistics.median(getattr(r, kind) for r in runs[early])
        b = statistics.median(getattr(r, kind) for r in runs[late])
        figures[kind] = {"early": a, "late": b, "ratio": b / a}
        print(
            f"month {late} vs month {early}, median {kind}: {b:.2f} s / {a:.2f} s = "
            f"{b / a:.2f} (target <= {TARGET_RATIO:g})"
        )
    return figures


# --- building the history -------------------------------------------------------------


class History:
    """The warehouse (and var/) the history is built in, and copies of both."""

    def __init__(self, mode: str, store: Store, root: Path, env: dict[str, str]) -> None:
        self.mode, self.store, self.root, self.env = mode, store, root, env
        self.var = Path(env["CSC_VAR_DIR"])

    def add(self, files: list[Path]) -> None:
        if self.mode == "library":
            _build(self.store.url("build"), files, self.env["CSC_PSEUDONYM_KEY"].encode())
            return
        landing = Path(self.env["CSC_LANDING_DIR"])
        landing.mkdir(parents=True, exist_ok=True)
        landed = [str(shutil.copy2(f, landing / f.name)) for f in files]
        run([CLI, "ingest", *landed], self.env, self.root)

    def copy(self, name: str) -> str:
        """A copy of the warehouse, and of var/ (archive, GX results) as ``var-<name>``."""
        self.store.copy("build", name)
        shutil.copytree(self.var, self.root / f"var-{name}")
        return name


def _build(url: str, files: list[Path], key: bytes) -> None:
    """Load ``files`` as the CLI would, without validation; then measure every month once.

    Loads are made with ``recompute=False``; one recompute of every known
    month (in batches) gives the measures the per-file recomputes would,
    and the loads are marked measured as ``recompute_after_load`` marks them.
    """
    engine = make_engine(url)
    try:
        for path in ingest_order(files):
            extract = read_extract(path)
            if extract.name is None or extract.rejected:
                raise SystemExit(f"{path.name}: the sample does not read cleanly")
            name = extract.name
            frame = pseudonymise(extract.frame, load_contract(name.dataset), key)
            load_month(
                engine,
                dataset=name.dataset,
                la_code=name.la_code,
                month=name.month,
                frame=frame,
                file_name=path.name,
                file_sha256=uuid.uuid4().hex * 2,
                rows_read=extract.rows,
                loaded_by="bench-history",
                recompute=False,
            )
        with engine.connect() as connection:
            months = sorted(known_months(connection, LA))
        for first in range(0, len(months), BUILD_BATCH):
            recompute_measures(engine, LA, months[first : first + BUILD_BATCH])
        with engine.begin() as connection:
            connection.execute(
                sa.update(loads)
                .where(loads.c.la_code == LA, CURRENT_LOAD, loads.c.measured_at.is_(None))
                .values(measured_at=datetime.now(UTC))
            )
    finally:
        engine.dispose()


class Store:
    """Named warehouses of one backend, and copies of them."""

    def __init__(self, backend: str, server: str, root: Path, stack: ExitStack) -> None:
        self.backend = backend
        self.server = sa.make_url(server)
        self.root = root
        self.prefix = f"csc_bench_hist_{uuid.uuid4().hex[:8]}"
        self.made: list[str] = []
        if backend == "postgresql":
            self.admin = sa.create_engine(self.server, isolation_level="AUTOCOMMIT")
            stack.callback(self._drop_all)
            self._execute(f'CREATE DATABASE "{self._database("build")}"')

    def url(self, name: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.root / (name + '.db')}"
        url = self.server.set(database=self._database(name))
        return url.render_as_string(hide_password=False)

    def copy(self, source: str, target: str) -> str:
        """``target``: a copy of warehouse ``source``, which nothing may hold open."""
        if self.backend == "sqlite":
            with (
                sqlite3.connect(self.root / f"{source}.db") as src,
                sqlite3.connect(self.root / f"{target}.db") as dst,
            ):
                src.backup(dst)
        else:
            self._execute(
                f'CREATE DATABASE "{self._database(target)}" TEMPLATE "{self._database(source)}"'
            )
        return target

    def engine(self, name: str) -> sa.Engine:
        return make_engine(self.url(name))

    def _database(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(statement)
        if statement.startswith("CREATE DATABASE"):
            self.made.append(statement.split('"')[1])

    def _drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.made:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


# --- the parts, one by one -----------------------------------------------------------------


def _best(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


@contextmanager
def _two(store: Store, early: str, late: str) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    engines = (store.engine(early), store.engine(late))
    try:
        yield engines
    finally:
        for engine in engines:
            engine.dispose()


def _parts(
    store: Store, early: str, late: str, args: argparse.Namespace, start: Month
) -> dict[str, dict[str, float]]:
    """Time each part that could grow with history on both warehouses; print the ratios."""
    months = (start + (args.early - 1), start + (args.late - 1))
    parts: dict[str, dict[str, float]] = {}

    def show(label: str, action: Callable[[sa.Engine, Month], object]) -> None:
        a, b = (
            _best(lambda e=e, m=m: action(e, m), args.repeat)
            for e, m in zip(engines, months, strict=True)
        )
        parts[label] = {"early": a, "late": b, "ratio": b / a}
        print(f"  {label:46} {a * 1000:9.1f} ms {b * 1000:9.1f} ms  {b / a:5.2f}")

    print(f"parts (best of {args.repeat}): month {args.early}, month {args.late}, ratio")
    with _two(store, early, late) as engines:
        for dataset in ("workforce", "referrals", "closures"):
            show(
                f"recompute_after_load({dataset})",
                lambda e, m, d=dataset: recompute_after_load(e, dataset=d, la_code=LA, month=m),
            )
        for dataset in ("workforce", "referrals", "closures"):
            for number in range(2):

                def query(e: sa.Engine, m: Month, d: str = dataset, n: int = number) -> None:
                    statement = _aggregate(e, d, m, n)
                    if statement is not None:
                        with e.connect() as connection:
                            _as_measures_run(connection)
                            connection.execute(*statement).all()

                if _aggregate(engines[0], dataset, months[0], number) is not None:
                    show(f"measures query {dataset} #{number + 1}", query)
        show(
            "known_months (as a load looks them up)",
            lambda e, m: _with(e, lambda c: known_months(c, LA, m - 12, m + 12)),
        )
        show(
            "current_referrals(closure ids)",
            lambda e, m: _with(e, lambda c: queries.current_referrals(c, LA, _closure_ids(c, m))),
        )
        for dataset in ("workforce", "referrals", "closures"):
            show(
                f"monthly_volumes({dataset})",
                lambda e, m, d=dataset: _with(e, lambda c: queries.monthly_volumes(c, d, LA, m)),
            )
        if store.backend == "postgresql":
            # load_month refreshes a table's statistics after a load of 1,000 rows or more.
            for table in DATA_TABLES.values():
                show(
                    f"ANALYZE {table.name}",
                    lambda e, m, t=table.name: _with(
                        e, lambda c: c.exec_driver_sql(f"ANALYZE {SCHEMA}.{t}")
                    ),
                )
        if args.explain and store.backend == "postgresql":
            _explain(engines[1], months[1])
    return parts


def _with(engine: sa.Engine, action: Callable[[sa.Connection], object]) -> object:
    with engine.connect() as connection:
        return action(connection)


def _aggregate(
    engine: sa.Engine, dataset: str, month: Month, number: int
) -> tuple[sa.Select[Any], dict[str, Any]] | None:
    """The ``number``-th measures query of a ``dataset`` load of ``month``, as recomputed."""
    with engine.connect() as connection:
        wanted = sorted(set(months_affected(dataset, month)) & known_months(connection, LA))
    built = aggregate_queries([(LA, m) for m in wanted], [dataset])
    return built[number] if number < len(built) else None


def _as_measures_run(connection: sa.Connection) -> None:
    """What ``compute_measures`` sets before its queries (PostgreSQL: no JIT)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET jit = off")


def _closure_ids(connection: sa.Connection, month: Month) -> list[str]:
    """The referral ids the month's closures name (already pseudonymised in the table)."""
    from etl.warehouse.schema import closures

    query = sa.select(closures.c.referral_id).where(
        closures.c.la_code == LA, closures.c.month == month.start
    )
    return list(connection.scalars(query))


def _explain(engine: sa.Engine, month: Month) -> None:
    for dataset in ("workforce", "referrals", "closures"):
        for number in range(2):
            statement = _aggregate(engine, dataset, month, number)
            if statement is None:
                continue
            query, parameters = statement
            # Expanding parameters (a list of months) rendered in, the rest bound.
            state = query.compile(dialect=engine.dialect).construct_expanded_state(parameters)
            with engine.connect() as connection:
                _as_measures_run(connection)
                connection.exec_driver_sql(f"SET search_path TO {SCHEMA}")
                plan = connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, BUFFERS) {state.statement}", state.parameters
                )
                print(f"--- EXPLAIN ANALYZE {dataset} #{number + 1}, month {month}")
                for (line,) in plan:
                    print("   ", line)


if __name__ == "__main__":
    main()
