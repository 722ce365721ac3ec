"""Benchmark: the fixed cost of one LA's month through ``csc-pipeline ingest``.

    .venv/bin/python bench/bench_month.py [REPETITIONS]   (default 5)

Generates one LA's month of sample extracts (``csc-pipeline sample-data``,
three files), then, several times over and interleaved so that a busy
machine slows both alike, times

- ``csc-pipeline ingest`` of the three files into a fresh SQLite warehouse
  (made by ``csc-pipeline init``, untimed, with a ``CSC_PSEUDONYM_KEY`` set);
- ``python -c "import pandas, sqlalchemy, great_expectations"``, the floor
  any process that validates must pay, in the same virtual environment;
- ``csc-pipeline --help``, what a command costs before it does anything.

Target (issue 13): the ingest at most twice the import.  Medians of wall
and CPU (user + system) time are printed with every repetition beside them,
and the ratios; nothing is asserted: a benchmark informs, a test decides.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_RATIO = 2.0
IMPORTS = "import pandas, sqlalchemy, great_expectations"
#: The month and LA of the sample: any will do; one with no history before it.
LA, MONTH = "330", "2025-03"


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one command, which must succeed.

    CPU time is the steadier figure on a shared machine: waiting for a core
    counts in the wall time only.
    """
    cpu = _cpu_of_children()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return seconds, _cpu_of_children() - cpu


def _fresh_var(root: Path, rep: int, env: dict[str, str]) -> dict[str, str]:
    """The environment of one repetition: its own var/ and SQLite warehouse."""
    var = root / f"var-{rep}"
    return {
        **env,
        "CSC_VAR_DIR": str(var),
        "CSC_WAREHOUSE_URL": f"sqlite:///{var / 'warehouse.db'}",
        "CSC_LANDING_DIR": str(var / "landing"),
        "CSC_REPORTS_DIR": str(var / "reports"),
    }


def _show(label: str, figures: list[tuple[float, float]]) -> str:
    walls, cpus = [w for w, _ in figures], [c for _, c in figures]
    return (
        f"{label}\n  wall median {statistics.median(walls):.2f} s  "
        f"({' '.join(f'{w:.2f}' for w in walls)})\n  CPU  median "
        f"{statistics.median(cpus):.2f} s  ({' '.join(f'{c:.2f}' for c in cpus)})"
    )


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    python = sys.executable
    cli = str(Path(python).with_name("csc-pipeline"))
    env = {**os.environ, "CSC_PSEUDONYM_KEY": "bench-month-key-not-a-secret"}
    ingest_s: list[tuple[float, float]] = []
    import_s: list[tuple[float, float]] = []
    help_s: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-month-") as tmp:
        root = Path(tmp)
        sample = root / "sample"
        generate = ["sample-data", "--out", str(sample), "--la", LA, "--start", MONTH]
        _timed([cli, *generate, "--months", "1"], env, root)
        files = sorted(sample.glob(f"*_{LA}_{MONTH}.*"))
        rows = sum(len(f.read_text(encoding="utf-8").splitlines()) - 1 for f in files)
        print(f"{len(files)} files of LA {LA}, {MONTH}: {rows} rows; {reps} repetitions")
        print(f"python: {python}")
        for rep in range(reps):
            run_env = _fresh_var(root, rep, env)
            _timed([cli, "init"], run_env, root)
            landing = Path(run_env["CSC_LANDING_DIR"])
            landed = [Path(shutil.copy2(f, landing / f.name)) for f in files]
            ingest_s.append(_timed([cli, "ingest", *map(str, landed)], run_env, root))
            import_s.append(_timed([python, "-c", IMPORTS], env, root))
            help_s.append(_timed([cli, "--help"], env, root))
    print(_show("csc-pipeline ingest (3 files)", ingest_s))
    print(_show(f'python -c "{IMPORTS}"', import_s))
    print(_show("csc-pipeline --help", help_s))
    for kind, which in (("wall", 0), ("CPU", 1)):
        ingest = statistics.median(f[which] for f in ingest_s)
        imports = statistics.median(f[which] for f in import_s)
        print(
            f"ratio ingest / import, {kind}: {ingest / imports:.2f} (target <= {TARGET_RATIO:g}); "
            f"ingest beyond the import: {ingest - imports:.2f} s"
        )


if __name__ == "__main__":
    main()
