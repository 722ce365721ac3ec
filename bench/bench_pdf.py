"""Benchmark: printing archived packs to PDF, headless Chromium beside WeasyPrint.

    .venv/bin/python bench/bench_pdf.py PACK.html [PACK.html ...] [--runs 3]
        [--weasyprint-python /path/to/venv/bin/python]

Chromium is what etl/report/pdf.py uses (one browser for a publish's
copies): the browser's start, then each pack's print, timed apart.
WeasyPrint is not a dependency of the project; give a Python that has it
installed (``uv pip install weasyprint`` into a scratch venv) to time it on
the same files with the same print stylesheet and running head, in a
process of its own (its import is timed apart too).  Prints seconds per
pack, pages and PDF sizes, and WeasyPrint's time over Chromium's.  Nothing
is asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from etl.report.pdf import Printer, print_stylesheet, running_head

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
    print(f"Chromium: browser start {start:.2f} s (once per publish)")
    for pack, (times, size, pages) in chromium.items():
        print(
            f"  {pack.name}: {statistics.median(times):.2f} s per print "
            f"(median of {len(times)}), {pages} pages, {size:,} bytes"
        )
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


def _pages(pdf: bytes) -> int:
    """Page objects in the PDF (Chromium writes its page tree uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


if __name__ == "__main__":
    sys.exit(main())
