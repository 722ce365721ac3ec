"""What the scale benchmarks share: a throw-away PostgreSQL warehouse, timed
``csc-pipeline`` processes (wall, CPU and the peak RSS of the process tree),
one ``psql`` session that ``\\copy``s files into bare tables, and the load
average the figures were measured under.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import sqlalchemy as sa

from etl.contracts import DATASETS, load_contract
from etl.filenames import parse_name
from etl.warehouse.schema import sql_type

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CLI = str(Path(sys.executable).with_name("csc-pipeline"))
KEY = "bench-scale-key-not-a-secret-0123"


@dataclass(frozen=True)
class Run:
    """One finished process: seconds of wall and of CPU (user + system, its whole
    tree), and the peak resident memory of the tree at any one moment."""

    wall: float
    cpu: float
    peak_rss: int
    #: What the process wrote to stderr (its log).
    log: str = ""

    def show(self) -> str:
        memory = self.peak_rss / 2**20
        return f"{self.wall:8.2f} s wall {self.cpu:8.2f} s CPU  peak RSS {memory:6.0f} MiB"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: Sequence[str], env: dict[str, str], cwd: Path, *, poll: float = 0.05) -> Run:
    """Run ``command`` to the end (it must succeed), sampling the tree's memory.

    CPU is the kernel's account of waited-for children (the process and what it
    waited for); memory is the sum of the tree's RSS, sampled every ``poll`` s.
    """
    cpu = _children_cpu()
    # Files, not pipes: a chatty process must never block on a full pipe.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = psutil.Popen(list(command), env=env, cwd=cwd, stdout=out, stderr=err)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process))
            time.sleep(poll)
        wall = time.perf_counter() - started
        if process.returncode != 0:
            out.seek(0)
            err.seek(0)
            raise SystemExit(
                f"{' '.join(command)} exited {process.returncode}:\n"
                f"{out.read().decode()[-4000:]}\n{err.read().decode()[-4000:]}"
            )
        err.seek(0)
        log = err.read().decode(errors="replace")
    return Run(wall, _children_cpu() - cpu, peak, log)


def _tree_rss(process: psutil.Process) -> int:
    rss = 0
    with suppress(psutil.NoSuchProcess):
        for member in [process, *process.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                rss += member.memory_info().rss
    return rss


@contextmanager
def warehouse(server_url: str = DEFAULT_SERVER) -> Iterator[str]:
    """A new, empty PostgreSQL database for one benchmark; dropped afterwards."""
    server = sa.make_url(server_url)
    name = f"csc_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def environment(var: Path, url: str) -> dict[str, str]:
    """The settings of one csc-pipeline run: its own var/ and the warehouse URL."""
    return {
        **os.environ,
        "CSC_VAR_DIR": str(var),
        "CSC_WAREHOUSE_URL": url,
        "CSC_LANDING_DIR": str(var / "landing"),
        "CSC_REPORTS_DIR": str(var / "reports"),
        "CSC_PSEUDONYM_KEY": KEY,
    }


def sample(out: Path, las: str, start: str, months: int, env: dict[str, str]) -> list[Path]:
    """``csc-pipeline sample-data`` into ``out`` (untimed); the files, sorted."""
    run([CLI, "sample-data", "--out", str(out), "--la", las, "--start", start,
         "--months", str(months)], env, out.parent)  # fmt: skip
    return sorted(out.iterdir())


def bare_tables(url: str, schema: str) -> None:
    """One table per dataset with the files' columns and the contract's types:
    no keys, no indexes, no constraints (raw identifiers: the contract lengths)."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData(schema=schema)
    for dataset in DATASETS:
        contract = load_contract(dataset)
        sa.Table(
            dataset,
            metadata,
            *(
                sa.Column(c.name, sa.String(c.max_length or 64) if c.identifier else sql_type(c))
                for c in contract.columns.values()
            ),
        )
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        metadata.create_all(connection)
    engine.dispose()


def psql_copy(url: str, schema: str, files: Sequence[Path], work: Path) -> Run:
    """One ``psql`` session that ``\\copy``s every file into its dataset's bare table."""
    parsed = sa.make_url(url)
    script = work / f"copy-{uuid.uuid4().hex[:6]}.sql"
    lines = ["\\set ON_ERROR_STOP 1"]
    for path in files:
        table = f"{schema}.{parse_name(path).dataset}"
        lines.append(f"\\copy {table} FROM '{path}' WITH (FORMAT csv, HEADER true)")
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = ["psql", "-X", "-q", "-h", parsed.host or "127.0.0.1", "-p",
               str(parsed.port or 5432), "-U", parsed.username or "postgres",
               "-d", parsed.database or "postgres", "-f", str(script)]  # fmt: skip
    return run(command, dict(os.environ), work)


def scratch(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=prefix)
