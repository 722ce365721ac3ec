"""Benchmark: a 1-million-row referrals file into PostgreSQL, three ways.

    .venv/bin/python bench/bench_load.py [--rows 1000000] [--url postgresql+psycopg://...]

1. the pipeline: read the CSV (etl.reader), validate it (etl.validation:
   pseudonymise + the Great Expectations suite; ``--no-gx`` pseudonymises
   only), load it (etl.warehouse.load: COPY into staging, checks, swap in
   one transaction) and compute the month's measures;
2. ``psql \\copy`` of the same CSV into an equivalent bare table (the same
   columns and types, no keys, no indexes);
3. ``DataFrame.to_sql`` of the typed frame into a new table.

Prints each step's time and the ratios to the bare COPY.  The target: read
+ validate + load within 3x of the bare COPY.  Nothing is asserted.  Runs in
its own PostgreSQL schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa

from etl.contracts import load_contract
from etl.filing import sha256_of
from etl.months import Month
from etl.pseudonymise import pseudonymise
from etl.reader import read_extract
from etl.warehouse.db import make_engine, upgrade
from etl.warehouse.load import load_month
from etl.warehouse.measures import recompute_measures
from etl.warehouse.schema import sql_type

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MONTH = Month(2024, 3)
LA = "330"
KEY = b"benchmark-key-not-a-secret-0123456789"
T = TypeVar("T")
LOAD = "load (COPY to staging, swap)"
MEASURES = "measures of the month"
COPY = "psql \\copy"
COPY_INDEXED = "psql \\copy, warehouse indexes"


def write_referrals_csv(path: Path, rows: int, seed: int = 1) -> None:
    """``rows`` valid referrals for MONTH (a fifth are updates of earlier months)."""
    rng = np.random.default_rng(seed)
    contract = load_contract("referrals")
    month_start = np.datetime64(MONTH.start.isoformat())
    month_end = np.datetime64(MONTH.end.isoformat())
    earlier = rng.random(rows) < 0.2
    offset = np.where(earlier, -rng.integers(1, 365, rows), rng.integers(0, 31, rows))
    referral_date = month_start + offset.astype("timedelta64[D]")
    nfa = rng.random(rows) < 0.1
    start = referral_date + rng.integers(0, 6, rows).astype("timedelta64[D]")
    has_start = ~nfa & (start <= month_end)
    authorised = start + rng.integers(5, 70, rows).astype("timedelta64[D]")
    has_authorised = has_start & (authorised <= month_end)
    dob = month_start - rng.integers(30, 6500, rows).astype("timedelta64[D]")

    def pick(codes: list[object]) -> np.ndarray[Any, Any]:
        return np.asarray([str(c) for c in codes], dtype=object)[rng.integers(0, len(codes), rows)]

    def iso(days: np.ndarray[Any, Any], present: np.ndarray[Any, Any]) -> pd.Series:
        return pd.Series(np.datetime_as_string(days, unit="D")).where(present, "")

    columns = contract.columns
    frame = pd.DataFrame(
        {
            "la_code": LA,
            "referral_id": pd.Series(np.arange(rows)).map("REF{:08d}".format),
            "child_id": pd.Series(rng.integers(0, rows // 2 + 1, rows)).map("CH{:08d}".format),
            "referral_date": iso(referral_date, np.ones(rows, dtype=bool)),
            "referral_source": pick(columns["referral_source"].code_values),
            "primary_need": pd.Series(pick(columns["primary_need"].code_values)).where(~nfa, ""),
            "nfa": np.where(nfa, "true", "false"),
            "date_of_birth": iso(dob, np.ones(rows, dtype=bool)),
            "sex": pick(columns["sex"].code_values),
            "ethnicity": pick(columns["ethnicity"].code_values),
            "assessment_start_date": iso(start, has_start),
            "assessment_authorised_date": iso(authorised, has_authorised),
            "team": pd.Series(rng.integers(1, 40, rows)).map("Team {}".format),
            "allocated": np.where(rng.random(rows) < 0.9, "true", "false"),
        }
    )
    frame.to_csv(path, index=False)


@contextmanager
def timed(label: str, figures: dict[str, float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    figures[label] = time.perf_counter() - start
    print(f"  {label:<34} {figures[label]:8.2f} s", flush=True)


def timed_call(label: str, figures: dict[str, float], action: Callable[[], T]) -> T:
    with timed(label, figures):
        return action()


def validate(extract: Any, gx: bool) -> tuple[pd.DataFrame, int]:
    """The pseudonymised frame and the number of problems found."""
    if gx:
        from etl.validation import check

        checked = check(extract, key=KEY)
        return checked.frame, len(checked.problems)
    return pseudonymise(extract.frame, extract.contract, KEY), len(extract.problems)


def _psql_copy(url: sa.URL, table: str, path: Path) -> float:
    """Seconds for ``psql \\copy`` of the CSV into ``table``."""
    command = [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
        "-d",
        url.database or "postgres",
        "-c",
        f"\\copy {table} FROM '{path}' WITH (FORMAT csv, HEADER true)",
    ]
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    return time.perf_counter() - start


def bare_table(engine: sa.Engine, schema: str, name: str, *, indexed: bool) -> str:
    """A table with the CSV's columns and the contract's types; ``indexed``: and
    the keys and indexes the warehouse keeps on referrals.  Returns its name."""
    contract = load_contract("referrals")
    table = sa.Table(
        name,
        sa.MetaData(schema=schema),
        # Raw identifiers here (the CSV is not pseudonymised): contract lengths.
        *(
            sa.Column(c.name, sa.String(c.max_length or 64) if c.identifier else sql_type(c))
            for c in contract.columns.values()
        ),
    )
    if indexed:
        c = table.c
        table.append_constraint(sa.PrimaryKeyConstraint(c.la_code, c.referral_id))
        sa.Index(f"{name}_child", c.la_code, c.child_id, c.referral_date)
        sa.Index(f"{name}_date", c.la_code, c.referral_date)
        sa.Index(f"{name}_authorised", c.la_code, c.assessment_authorised_date)
    with engine.begin() as connection:
        table.create(connection)
    return f"{schema}.{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=os.environ.get("CSC_BENCH_URL", DEFAULT_URL))
    parser.add_argument("--no-gx", action="store_true", help="pseudonymise only, skip GX")
    parser.add_argument("--to-sql-rows", type=int, default=None, help="rows for to_sql")
    args = parser.parse_args()
    if shutil.which("psql") is None:
        raise SystemExit("psql is not on PATH: the bare COPY needs it")

    url = sa.make_url(args.url)
    schema = f"csc_bench_{os.getpid()}"
    engine = make_engine(url, schema=schema)
    figures: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="csc-bench-"))
    path = work / f"referrals_{LA}_{MONTH}.csv"
    try:
        print(f"Writing {args.rows:,} referrals to {path}", flush=True)
        write_referrals_csv(path, args.rows)
        print(f"  file size {path.stat().st_size / 1e6:.0f} MB")
        upgrade(engine)

        print("Pipeline: read + validate + load")
        extract = timed_call("read (etl.reader)", figures, lambda: read_extract(path))
        label = "validate (pseudonymise + GX)" if not args.no_gx else "pseudonymise (no GX)"
        frame, problems = timed_call(label, figures, lambda: validate(extract, not args.no_gx))
        print(f"  {problems} problems found")
        sha = sha256_of(path)
        result = timed_call(
            LOAD,
            figures,
            lambda: load_month(
                engine,
                dataset="referrals",
                la_code=LA,
                month=MONTH,
                frame=frame,
                file_name=path.name,
                file_sha256=sha,
                rows_read=len(frame),
                validation_summary={"problems": problems},
                loaded_by="bench",
                recompute=False,
            ),
        )
        print(f"  {result.rows_loaded:,} rows loaded")
        timed_call(MEASURES, figures, lambda: recompute_measures(engine, LA, [MONTH]))
        pipeline = sum(figures.values()) - figures[MEASURES]

        print("Bare COPY: psql \\copy of the same CSV into a bare table")
        plain = sa.create_engine(url)
        figures[COPY] = _psql_copy(url, bare_table(plain, schema, "bare", indexed=False), path)
        print(f"  {COPY:<34} {figures[COPY]:8.2f} s")
        # For scale, not part of the target: the same COPY into a table with
        # the keys and indexes the warehouse needs for its measures.
        indexed = bare_table(plain, schema, "bare_indexed", indexed=True)
        figures[COPY_INDEXED] = _psql_copy(url, indexed, path)
        print(f"  {COPY_INDEXED:<34} {figures[COPY_INDEXED]:8.2f} s")
        plain.dispose()

        print("DataFrame.to_sql of the typed frame (default method, executemany)")
        sample = frame if args.to_sql_rows is None else frame.head(args.to_sql_rows)
        with engine.connect() as connection, timed("to_sql", figures):
            sample.to_sql(
                "to_sql_referrals",
                connection.execution_options(schema_translate_map=None),
                schema=schema,
                index=False,
                chunksize=50_000,
            )
            connection.commit()
        to_sql = figures["to_sql"] * len(frame) / max(len(sample), 1)

        copy = figures[COPY]
        print("\nRatios to the bare COPY (target: pipeline within 3x)")
        print(f"  read + validate + load / COPY     {pipeline / copy:6.2f}x  ({pipeline:.2f} s)")
        total = pipeline + figures[MEASURES]
        print(f"  ... + measures / COPY             {total / copy:6.2f}x  ({total:.2f} s)")
        load_only = figures[LOAD]
        with_measures = load_only + figures[MEASURES]
        print(f"  load alone / COPY                 {load_only / copy:6.2f}x")
        print(f"  load + measures / COPY            {with_measures / copy:6.2f}x")
        suffix = "" if args.to_sql_rows is None else f" (scaled from {len(sample):,} rows)"
        print(f"  to_sql / COPY                     {to_sql / copy:6.2f}x{suffix}")
        print(f"  COPY with the indexes / COPY      {figures[COPY_INDEXED] / copy:6.2f}x")
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
