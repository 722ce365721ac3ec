"""Benchmark: printing archived packs to PDF, headless Chromium beside WeasyPrint.

    .venv/bin/python bench/bench_pdf.py PACK.html [PACK.html ...] [--runs 3]
        [--publishes 8] [--weasyprint-python /path/to/venv/bin/python]

Chromium is what etl/report/pdf.py uses: the browser's start, then each
pack's print, timed apart.  Then the packs given are taken as the copies of
one publish, printed ``--publishes`` times in three ways, in turn (so the
machine's load falls on each alike): a browser started for each publish
printing one copy at a time (the code before the kept browser), the kept
browser one copy at a time, and the kept browser with the copies side by
side (``print_pdfs``, as shipped); wall and Chromium's CPU seconds per publish.
WeasyPrint is not a dependency of the project; give a Python that has it
installed (``uv pip install weasyprint`` into a scratch venv) to time it on
the same files with the same print stylesheet and running head, in a
process of its own (its import is timed apart too).  Prints seconds per
pack, pages and PDF sizes, and WeasyPrint's time over Chromium's.  Nothing
is asserted.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

from etl.report.pdf import Printer, print_pdfs, print_stylesheet, running_head, shutdown

#: Run by the WeasyPrint Python: the same stylesheet, a running head and
#: "Page N of M" in @page margin boxes (WeasyPrint has no header templates).
_WEASYPRINT = """
import json, sys, time
started = time.perf_counter()
from weasyprint import CSS, HTML
imported = time.perf_counter() - started
css, head, runs, *packs = sys.argv[1:]
box = "font: 8pt Arial, sans-serif; color: #52606d;"
css += '@page { @top-left { content: %s; %s } @bottom-right { content: "Page " counter(page)' \\
    ' " of " counter(pages); %s } }' % (json.dumps(head), box, box)
stylesheet = CSS(string=css)
out = {"import": imported, "packs": {}}
for pack in packs:
    html = open(pack, encoding="utf-8").read()
    times = []
    for _ in range(int(runs)):
        started = time.perf_counter()
        document = HTML(string=html).render(stylesheets=[stylesheet])
        pdf = document.write_pdf()
        times.append(time.perf_counter() - started)
    out["packs"][pack] = {"times": times, "pages": len(document.pages), "bytes": len(pdf)}
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packs", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--publishes", type=int, default=8)
    parser.add_argument("--weasyprint-python", type=Path)
    parser.add_argument(
        "--head", default=running_head("Birmingham", "330", "March 2025"), help="running head"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    chromium: dict[Path, tuple[list[float], int, int]] = {}
    with Printer() as printer:
        start = time.perf_counter() - started
        for pack in args.packs:
            html = pack.read_text(encoding="utf-8")
            times = []
            for _ in range(args.runs):
                began = time.perf_counter()
                pdf = printer.print_pdf(html, args.head)
                times.append(time.perf_counter() - began)
            chromium[pack] = (times, len(pdf), _pages(pdf))
    print(f"Chromium: browser start {start:.2f} s (once per process with print_pdfs)")
    for pack, (times, size, pages) in chromium.items():
        print(
            f"  {pack.name}: {statistics.median(times):.2f} s per print "
            f"(median of {len(times)}), {pages} pages, {size:,} bytes"
        )
    _publishes([(p.read_text(encoding="utf-8"), args.head) for p in args.packs], args.publishes)
    if args.weasyprint_python is None:
        return
    done = subprocess.run(
        [
            str(args.weasyprint_python),
            "-c",
            _WEASYPRINT,
            print_stylesheet(),
            args.head,
            str(args.runs),
            *map(str, args.packs),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    weasy = json.loads(done.stdout)
    print(f"WeasyPrint: import {weasy['import']:.2f} s (once per process)")
    for pack in args.packs:
        result = weasy["packs"][str(pack)]
        median = statistics.median(result["times"])
        ratio = median / statistics.median(chromium[pack][0])
        print(
            f"  {pack.name}: {median:.2f} s per print (median of {len(result['times'])}), "
            f"{result['pages']} pages, {result['bytes']:,} bytes; {ratio:.1f}x Chromium's time"
        )


def _publishes(jobs: list[tuple[str, str]], publishes: int) -> None:
    """The copies of one publish printed ``publishes`` times in each way, in turn."""

    def own_browser() -> None:
        with Printer() as printer:
            for document, head in jobs:
                printer.print_pdf(document, head)

    def one_at_a_time() -> None:
        for job in jobs:
            print_pdfs([job])

    ways = {
        "a browser per publish, one at a time": own_browser,
        "kept browser, one at a time": one_at_a_time,
        "kept browser, side by side": lambda: print_pdfs(jobs),
    }
    # A closed browser's helpers outlive it by a moment and would go to init,
    # their CPU uncounted: as a subreaper this process inherits and reaps them.
    ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    print_pdfs(jobs)  # started, and its tabs opened, before the timing
    wall = {way: [] for way in ways}
    cpu = {way: [] for way in ways}
    for _ in range(publishes):
        for way, publish in ways.items():
            before = _chromium_cpu()
            began = time.perf_counter()
            publish()
            wall[way].append(time.perf_counter() - began)
            cpu[way].append(_chromium_cpu() - before)
    shutdown()
    print(f"{len(jobs)} copies a publish, {publishes} publishes each way, in turn:")
    first = next(iter(ways))
    for way in ways:
        median = statistics.median(wall[way])
        ratio = statistics.median(wall[first]) / median
        print(
            f"  {way}: {median:.2f} s per publish (median), Chromium CPU "
            f"{statistics.fmean(cpu[way]):.2f} s (mean); the first's time over this: {ratio:.2f}x"
        )


def _chromium_cpu() -> float:
    """CPU seconds of this process's browsers: the live ones and those it has reaped."""
    while True:  # the helpers of a closed browser, inherited as their subreaper
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = children.ru_utime + children.ru_stime
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _pages(pdf: bytes) -> int:
    """Page objects in the PDF (Chromium writes its page tree uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


if __name__ == "__main__":
    sys.exit(main())
