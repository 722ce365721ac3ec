"""Plot ingest cost against months of history and against number of LAs.

    .venv/bin/python bench/plot_scale.py HUB.json HISTORY.json OUT.png

Reads the ``--json`` figures of ``bench/bench_hub.py`` and
``bench/bench_history.py``; draws wall and CPU seconds of ``csc-pipeline
ingest`` (left: per month of one LA against months already loaded; right: a
month of N LAs against N) and the load average they were measured under.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot as plt


def main() -> None:
    hub = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    history = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    out = Path(sys.argv[3])
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    if isinstance(history, dict):
        # bench_history.py --json: medians of month ``early`` and month ``late``.
        months = [history["early"], history["late"]]
        for kind, style in (("wall", "o-"), ("cpu", "s-")):
            figures = history[kind]
            left.plot(months, [figures["early"], figures["late"]], style, label=f"ingest, {kind}")
    else:  # the earlier format: one point per month measured
        months = [p["month"] for p in history]
        left.plot(months, [p["ingest_wall"] for p in history], "o-", label="ingest, wall")
        left.plot(months, [p["ingest_cpu"] for p in history], "s-", label="ingest, CPU")
        left.plot(months, [p["import_cpu"] for p in history], "^:", label="imports alone, CPU")
    left.set_xlabel("month loaded (months of history before it + 1)")
    left.set_ylabel("seconds for one LA's month (3 files)")
    left.set_title("Cost of a month against history (PostgreSQL)")
    left.set_ylim(bottom=0)
    left.legend()
    las = [p["las"] for p in hub]
    right.plot(las, [p["ingest_wall"] for p in hub], "o-", label="csc-pipeline ingest, wall")
    right.plot(las, [p["ingest_cpu"] for p in hub], "s-", label="csc-pipeline ingest, CPU")
    right.plot(las, [p["copy_wall"] for p in hub], "^:", label="psql \\copy, wall")
    right.set_xlabel("LAs in one month (3 files each)")
    right.set_ylabel("seconds")
    right.set_title("Cost of a hub's month against its LAs (PostgreSQL)")
    right.set_ylim(bottom=0)
    right.legend()
    points = [history] if isinstance(history, dict) else history
    loads = [p["load"] for p in [*hub, *points] if "load" in p]
    if loads:
        figure.suptitle(
            f"2-core shared machine, 1-minute load average {min(loads):.1f} to {max(loads):.1f} "
            "during the runs: CPU seconds are the steadier figure"
        )
    figure.savefig(out, dpi=100)
    print(out)


if __name__ == "__main__":
    main()
