"""The ``csc-pipeline`` command (INTERFACE.md).

Each sub-command is a few lines that resolve settings and call the library.
Expected failures (bad input, missing configuration) print one sentence and
exit non-zero; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl.errors import CscError
from etl.months import Month
from etl.settings import load_settings

console = Console(stderr=False, highlight=False)
errors = Console(stderr=True, highlight=False)

Handler = Callable[[argparse.Namespace], int]


def _month(text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _la_code(text: str) -> str:
    if not (len(text) == 3 and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a 3-digit DfE LA code")
    return text


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


# --- sub-commands ---------------------------------------------------------------


def cmd_sample_data(args: argparse.Namespace) -> int:
    files = _write_sample(args.out, args.la, args.start, args.months, args.seed, args.mess)
    console.print(
        f"Wrote {len(files)} files for LA {args.la}, {args.start} to "
        f"{args.start + (args.months - 1)}, into {args.out}"
    )
    return 0


def _write_sample(
    out: Path, la: str, start: Month, months: int, seed: int, mess: bool
) -> list[Path]:
    from etl.sample import write_sample

    if months < 1:
        raise CscError("--months must be at least 1")
    with _progress() as progress:
        task = progress.add_task("Generating sample extracts", total=months)
        return write_sample(
            out,
            la_code=la,
            start=start,
            months=months,
            seed=seed,
            mess=mess,
            progress=lambda _month: progress.advance(task),
        )


def cmd_validate(args: argparse.Namespace) -> int:
    """Check files against their contract without loading them."""
    from etl.reader import read_extract
    from etl.validation import validate

    rejected = 0
    for path in args.files:
        problems = validate(read_extract(path))
        bad = [p for p in problems if p.is_error]
        rejected += bool(bad)
        status = "[red]rejected[/red]" if bad else "[green]valid[/green]"
        console.print(
            f"{Path(path).name}: {status} ({len(bad)} errors, {len(problems) - len(bad)} warnings)"
        )
        for problem in problems:
            console.print("  " + problem.describe(), markup=False)
    return 1 if rejected else 0


def cmd_contract_docs(args: argparse.Namespace) -> int:
    from etl.contracts.docs import render_markdown

    text = render_markdown()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_gx_suites(args: argparse.Namespace) -> int:
    from etl.expectations import write_project
    from etl.validation import DEFAULT_GX_DIR

    for path in write_project(args.gx_dir or DEFAULT_GX_DIR):
        console.print(f"Wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole job on the embedded defaults, as far as it is built."""
    from etl.reader import read_extract
    from etl.validation import validate

    settings = load_settings()
    landing = settings.landing_dir
    landing.mkdir(parents=True, exist_ok=True)
    start, months = Month(2022, 4), 36
    files = _write_sample(landing, "330", start, months, 1, False)
    table = Table(title="Sample extracts checked against the contracts")
    for heading in ("dataset", "files", "rows", "valid", "warnings"):
        table.add_column(heading, justify="right" if heading != "dataset" else "left")
    totals: dict[str, list[int]] = {}
    with _progress() as progress:
        task = progress.add_task("Validating extracts", total=len(files))
        for path in files:
            extract = read_extract(path)
            problems = validate(extract)
            dataset = extract.name.dataset if extract.name else "?"
            row = totals.setdefault(dataset, [0, 0, 0, 0])
            row[0] += 1
            row[1] += extract.rows
            row[2] += not any(p.is_error for p in problems)
            row[3] += sum(1 for p in problems if not p.is_error)
            progress.advance(task)
    for dataset, (count, rows, valid, warns) in totals.items():
        table.add_row(dataset, str(count), f"{rows:,}", str(valid), str(warns))
    console.print(table)
    console.print(
        f"Sample data for LA 330, {start} to {start + (months - 1)}: {len(files)} files in "
        f"{landing}.\nLoading the warehouse, the Airflow DAGs, the packs and the outbox are "
        "not built yet; this demo stops after generating and validating the extracts."
    )
    return 0


# --- parser -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csc-pipeline",
        description="Monthly children's social care reporting: extracts to the "
        "commissioner's pack.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sample-data", help="write realistic synthetic extracts for every month")
    p.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    p.add_argument("--la", type=_la_code, default="330", help="DfE LA code (default 330)")
    p.add_argument("--start", type=_month, default=Month(2022, 4), help="first month, YYYY-MM")
    p.add_argument("--months", type=int, default=36, help="how many months (default 36)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument(
        "--mess",
        action="store_true",
        help="write the messy-but-valid variants councils really send",
    )
    p.set_defaults(handler=cmd_sample_data)

    p = sub.add_parser("validate", help="check landed files against their contract, load nothing")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("contract-docs", help="write the extract contracts as Markdown")
    p.add_argument("--out", type=Path, help="file to write (default: standard output)")
    p.set_defaults(handler=cmd_contract_docs)

    p = sub.add_parser("gx-suites", help="regenerate the GX suites from the contracts")
    p.add_argument("--gx-dir", type=Path, help="GX project folder (default expectations/)")
    p.set_defaults(handler=cmd_gx_suites)

    p = sub.add_parser("demo", help="the whole job on the embedded defaults")
    p.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CscError as exc:
        errors.print(f"csc-pipeline: {exc}", markup=False)
        return 2
    except KeyboardInterrupt:
        errors.print("csc-pipeline: interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
