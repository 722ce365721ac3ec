"""The ``csc-pipeline`` command (INTERFACE.md).

Each sub-command is a few lines that resolve settings and call the library.
Expected failures (bad input, missing configuration) print one sentence and
exit non-zero; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import gc
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl.errors import CscError
from etl.months import Month, month_range
from etl.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from etl.ingest import IngestResult
    from etl.orchestration.demo import DemoSummary
    from etl.problems import Problem
    from etl.report.config import PackConfig
    from etl.report.deliveries import Approval

console = Console(stderr=False, highlight=False)
errors = Console(stderr=True, highlight=False)

Handler = Callable[[argparse.Namespace], int]


def _month(text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _la_code(text: str) -> str:
    from etl.filenames import is_la_code

    if not is_la_code(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a 3-digit DfE LA code")
    return text


def _progress(*, auto_refresh: bool = True) -> Progress:
    """A progress bar; ``auto_refresh=False``: redrawn by updates, with no thread of its own."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        auto_refresh=auto_refresh,
    )


# --- sub-commands ---------------------------------------------------------------


def cmd_sample_data(args: argparse.Namespace) -> int:
    codes = _sample_las(args.la)
    files = _write_samples(args.out, codes, args.start, args.months, args.seed, args.mess)
    if len(codes) == 1:
        what = f"LA {codes[0]}"
    else:
        what = f"{len(codes)} LAs, each sized from its published figures,"
    console.print(
        f"Wrote {len(files)} files for {what} {args.start} to "
        f"{args.start + (args.months - 1)}, into {args.out}"
    )
    return 0


def _sample_las(text: str) -> list[str]:
    """One code (the story's council, any 3-digit code), or several or ``all`` (sized)."""
    from etl.filenames import is_la_code
    from etl.sample.sizes import parse_la_list

    if "," not in text and text.strip().lower() != "all":
        if not is_la_code(text.strip()):
            raise CscError(
                f"--la {text!r} is not a 3-digit DfE LA code, a comma-separated list or all"
            )
        return [text.strip()]
    return parse_la_list(text)


def _write_samples(
    out: Path, codes: list[str], start: Month, months: int, seed: int, mess: bool
) -> list[Path]:
    """Each LA's files: one code is the story's council; several are each sized
    from their own published figures."""
    from etl.sample import write_sample
    from etl.sample.story import STORY

    if months < 1:
        raise CscError("--months must be at least 1")
    if len(codes) == 1:
        profiles = {codes[0]: STORY}
    else:
        from etl.sample.sizes import profile_of

        # Every profile first: an LA without published figures stops the run
        # before a file is written.
        profiles = {code: profile_of(code) for code in codes}
    files: list[Path] = []
    with _progress() as progress:
        task = progress.add_task("Generating sample extracts", total=months * len(codes))
        for code, profile in profiles.items():
            if len(profiles) > 1:
                progress.update(task, description=f"Generating sample extracts: LA {code}")
            files += write_sample(
                out,
                la_code=code,
                start=start,
                months=months,
                seed=seed,
                mess=mess,
                profile=profile,
                progress=lambda _month: progress.advance(task),
            )
    return sorted(files)


def cmd_validate(args: argparse.Namespace) -> int:
    """Check files against their contract without loading them (one GX run per dataset)."""
    from etl.reader import read_extracts
    from etl.validation import ToCheck, check_batch

    extracts = read_extracts(args.files)
    by_dataset: dict[str | None, list[int]] = {}
    for index, extract in enumerate(extracts):
        by_dataset.setdefault(extract.name.dataset if extract.name else None, []).append(index)
    problems: dict[int, list[Problem]] = {}
    for indexes in by_dataset.values():
        checked = check_batch([ToCheck(extracts[i]) for i in indexes])
        problems.update({i: c.problems for i, c in zip(indexes, checked, strict=True)})
    rejected = 0
    for index, path in enumerate(args.files):
        found = problems[index]
        bad = [p for p in found if p.is_error]
        rejected += bool(bad)
        status = "[red]rejected[/red]" if bad else "[green]valid[/green]"
        console.print(
            f"{Path(path).name}: {status} ({len(bad)} errors, {len(found) - len(bad)} warnings)"
        )
        for problem in found:
            console.print("  " + problem.describe(), markup=False)
    return 1 if rejected else 0


def _engine(url: str, *, must_exist: bool = False) -> Engine:
    from etl.warehouse.db import open_warehouse

    return open_warehouse(url, must_exist=must_exist)


def _initialise(settings: Settings) -> None:
    """The folders, the warehouse schema and the shipped DfE figures (``init``; the demo first)."""
    from etl.reference.load import load_shipped
    from etl.validation import working_project
    from etl.warehouse.db import upgrade

    for folder in settings.folders():
        folder.mkdir(parents=True, exist_ok=True)
    engine = _engine(settings.warehouse_url)
    upgrade(engine)
    with console.status("Loading DfE's published statistics"):
        loaded = load_shipped(
            engine, loaded_by=getpass.getuser(), gx_dir=working_project(settings.gx_dir)
        )
    for result in loaded:
        if result.rejected:  # the shipped copies are checked by the tests: a fault
            raise CscError(f"a shipped DfE file failed its checks: {result.problems[0].describe()}")
        console.print(f"DfE statistics: {result.describe()}", markup=False)


def cmd_init(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.check_folders()
    _initialise(settings)
    console.print(
        f"Warehouse ready at {_safe_url(settings.warehouse_url)}; folders under {settings.var_dir}"
    )
    return 0


def cmd_reference_load(args: argparse.Namespace) -> int:
    """Load DfE releases; each loads whole (superseding the years it repeats) or not at all."""
    from etl.reference.load import load_release
    from etl.validation import working_project

    settings = load_settings()
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise CscError(f"no such file: {', '.join(missing)}")
    engine = _engine(settings.warehouse_url, must_exist=True)
    gx_dir = working_project(settings.gx_dir)
    rejected = 0
    for path in args.files:
        with console.status(f"Loading {path.name}"):
            result = load_release(engine, path, loaded_by=getpass.getuser(), gx_dir=gx_dir)
        colour = "red" if result.rejected else "green"
        console.print(f"[{colour}]{result.describe()}[/{colour}]", soft_wrap=True)
        for problem in result.problems:
            console.print("  " + problem.describe(), markup=False, soft_wrap=True)
        rejected += result.rejected
    return 1 if rejected else 0


def _safe_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = load_settings()
    results = _ingest(settings, list(args.files), force=args.force)
    return 1 if any(r.rejected for r in results) else 0


def _ingest(settings: Settings, files: list[Path], *, force: bool = False) -> list[IngestResult]:
    from etl.ingest import Folders, ingest_files
    from etl.validation import build_data_docs, working_project

    key = settings.require_pseudonym_key()
    missing = [f for f in files if not f.exists()]
    if any(f.parent.resolve() == settings.landing_dir.resolve() for f in missing):
        settings.require_landing_dir()  # a share not mounted, rather than "no such file"
    if missing:
        raise CscError(f"no such file: {', '.join(map(str, missing))}")
    settings.check_landed(files)
    engine = _engine(settings.warehouse_url, must_exist=True)
    folders = Folders(settings.archive_dir, settings.quarantine_dir)
    gx_dir = working_project(settings.gx_dir)
    # No refresh thread: ingest forks its workers, and a thread holding the
    # console's lock at the fork would hang a child that writes.
    with _progress(auto_refresh=False) as progress:
        task = progress.add_task("Ingesting extracts", total=len(files))
        results = ingest_files(
            files,
            engine=engine,
            key=key,
            folders=folders,
            loaded_by=getpass.getuser(),
            gx_dir=gx_dir,
            force=force,
            finished=lambda result: progress.update(
                task, advance=1, description=f"Ingested {result.file}", refresh=True
            ),
            workers=_ingest_workers(),
        )
    docs = build_data_docs(gx_dir)
    _print_ingest(results)
    console.print(f"Validation results: {docs}")
    return results


def _ingest_workers() -> int:
    """Processes for a run of many LAs' files: one a core, at most four (each holds its frames)."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


def _print_ingest(results: list[IngestResult]) -> None:
    table = Table(title="Ingestion")
    for heading in ("file", "outcome", "rows", "warnings"):
        table.add_column(heading)
    for r in results:
        colour = {"loaded": "green", "unchanged": "blue", "rejected": "red"}[r.status]
        table.add_row(
            r.file,
            f"[{colour}]{r.status}[/{colour}]",
            f"{r.rows:,}",
            str(sum(p.count for p in r.warnings)),
        )
    console.print(table)
    for r in results:
        if r.rejected:
            console.print(
                f"[red]{r.file} was rejected[/red]; nothing from it was loaded. Report: {r.report}"
            )
            for problem in r.errors:
                console.print("  " + problem.describe(), markup=False)


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


def cmd_report(args: argparse.Namespace) -> int:
    """Render the month's pack (HTML and PDF, kpis.csv, benchmarks.csv); --send e-mails it once."""
    from etl.report.config import load_pack_config
    from etl.report.delivery import check_mail_server, retrying, smtp_from_environment
    from etl.report.publish import publish_pack, readiness

    if args.force and not args.send:
        raise CscError("--force only applies with --send")
    if (args.approved_by is not None or args.comment is not None) and not args.send:
        raise CscError("--approved-by and --comment only apply with --send")
    settings = load_settings()
    config = load_pack_config()
    approvals = _approvals(config, args) if args.send else {}
    smtp = smtp_from_environment() if args.send else None
    engine = _engine(settings.warehouse_url, must_exist=True)
    where = f"LA {args.la}, {args.month}"
    ready = readiness(engine, args.la, args.month)
    if ready.missing and args.send and not args.force:
        raise CscError(
            f"no {', '.join(ready.missing)} file is loaded for {where}, so the pack would show "
            "its measures as not available: render it without --send, or add --force to "
            "send it anyway"
        )
    if ready.unmeasured and args.send and not args.force:
        raise CscError(
            f"the pack for {where} waits: {ready.describe()}; run the measures task (or "
            "`csc-pipeline ingest` again), or add --force to send the figures as they are"
        )
    if not ready.ready:
        console.print(f"[yellow]{where}: {ready.describe()}[/yellow]", soft_wrap=True)
    attempts = smtp.attempts if smtp else 1

    def retry(attempt: int, exc: CscError) -> None:
        errors.print(
            f"{exc}; trying again ({attempt} of {attempts - 1})", markup=False, soft_wrap=True
        )

    if smtp is not None:  # down, refusing the login or an address: before anything is made
        sender, recipients = smtp.from_address or config.sender, config.recipients()
        retrying(
            lambda: check_mail_server(smtp, sender, recipients), attempts=attempts, on_retry=retry
        )
    with console.status(f"Rendering the pack for {where}"):
        result = retrying(
            lambda: publish_pack(
                engine,
                settings,
                args.la,
                args.month,
                send=args.send,
                force=args.force,
                smtp=smtp,
                config=config,
                approvals=approvals,
            ),
            attempts=attempts,
            on_retry=retry,
        )
    console.print(
        f"Pack for {where}: {result.html} (and its PDF, {Path(result.kpis_csv).name} and "
        "benchmarks.csv beside it)",
        markup=False,
        soft_wrap=True,
    )
    outcome = result.describe() if args.send else "not sent (add --send to send it)"
    console.print(f"E-mail: {outcome}", markup=False, soft_wrap=True)
    return 0


def _approvals(config: PackConfig, args: argparse.Namespace) -> dict[str, Approval]:
    """The sign-off ``--approved-by`` gives each audience that needs one; refused before
    anything is made when it is missing or the name is not one of the approvers."""
    from datetime import UTC, datetime

    from etl.report.deliveries import Approval

    needing = [a for a in config.audiences if a.sign_off is not None]
    if not needing:
        return {}
    if not args.approved_by or not args.approved_by.strip():
        names = ", ".join(a.name for a in needing)
        raise CscError(
            f"the pack configuration asks for sign-off before the {names} copy is sent: "
            "add --approved-by NAME (one of its approvers); nothing was sent"
        )
    refused = [
        a
        for a in needing
        if a.sign_off is not None and args.approved_by not in a.sign_off.approvers
    ]
    if refused:
        approvers = sorted({n for a in refused if a.sign_off for n in a.sign_off.approvers})
        raise CscError(
            f"{args.approved_by} may not sign off the {', '.join(a.name for a in refused)} copy "
            f"(approvers: {', '.join(approvers)}); nothing was sent"
        )
    approval = Approval(by=args.approved_by, at=datetime.now(UTC), comment=args.comment or None)
    return {a.name: approval for a in needing}


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole job on the embedded defaults, through the real Airflow DAGs."""
    import os
    import time
    import warnings
    from dataclasses import replace

    from etl.orchestration.demo import DAG_IDS, run_months
    from etl.pseudonymise import ensure_demo_key

    began = time.monotonic()
    settings = load_settings()
    if not settings.pseudonym_key:
        # The demo only: a key made once under var/, never a silent default elsewhere.
        settings = replace(
            settings, pseudonym_key=ensure_demo_key(settings.var_dir / "pseudonym.key")
        )
    # The DAGs' tasks read their settings from the environment, as in production.
    os.environ["CSC_PSEUDONYM_KEY"] = settings.pseudonym_key or ""
    settings.check_folders()
    _initialise(settings)
    la_code, months = "330", month_range(Month(2022, 4), args.months)
    files = _write_samples(settings.landing_dir, [la_code], months[0], len(months), 1, False)
    # Airflow's own deprecation notices are for its developers, not the demo's reader.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", module="airflow")
    # Raised (as a UserWarning) when dag.test() starts its in-process API client.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    with _progress() as progress:
        task = progress.add_task("Running the DAGs", total=len(DAG_IDS))
        summary = run_months(
            la_code,
            months,
            started=lambda what: progress.update(task, description=f"Airflow: {what}"),
            finished=lambda outcome: progress.update(task, advance=1),
        )
    _print_demo(settings, summary, len(files), time.monotonic() - began)
    return 1 if summary.failed else 0


def _print_demo(settings: Settings, summary: DemoSummary, files: int, seconds: float) -> None:
    from etl.orchestration.demo import DEMO_APPROVER

    packs = sorted(settings.reports_dir.glob("*/*/commissioner-pack.html"))
    emails = sorted(settings.outbox_dir.glob("*.eml"))
    table = Table(title=f"Demo finished in {seconds:.0f} s")
    table.add_column("what")
    table.add_column("where")
    table.add_row(f"{files} sample extracts", str(settings.archive_dir))
    table.add_row(
        f"{len(summary.runs) - len(summary.failed)}/{len(summary.runs)} DAG runs succeeded",
        ", ".join(f"{run.dag_id} ({run.seconds:.0f} s)" for run in summary.runs),
    )
    table.add_row("warehouse", _safe_url(settings.warehouse_url))
    table.add_row(f"{len(packs)} packs (HTML, kpis.csv, benchmarks.csv)", str(settings.reports_dir))
    table.add_row(f"{len(emails)} e-mails (.eml)", str(settings.outbox_dir))
    console.print(table)
    if summary.approved:
        count = len(summary.approved)
        console.print(
            f"Sign-off: {count} {'copy' if count == 1 else 'copies'} approved automatically "
            "by the demo "
            f"(recorded as {DEMO_APPROVER!r}); in production an approver answers in Airflow",
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print("Sign-off: no audience of the pack configuration asks for it")
    if packs:
        console.print(f"Latest pack: {packs[-1]}")
    for run in summary.failed:
        failed = [task for task, state in run.tasks.items() if state != "success"]
        console.print(f"[red]{run.dag_id} failed[/red] at {', '.join(failed)}")


# --- parser -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csc-pipeline",
        description="Monthly children's social care reporting: extracts to the "
        "commissioner's pack.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="create or upgrade the warehouse schema and the folders")
    p.set_defaults(handler=cmd_init)

    p = sub.add_parser("ingest", help="validate and load landed files without Airflow")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "--force",
        action="store_true",
        help="reload a file even when it is identical to the month's current load",
    )
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("sample-data", help="write realistic synthetic extracts for every month")
    p.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    p.add_argument(
        "--la",
        default="330",
        help="DfE LA code (default 330, the story's council); or a comma-separated list, "
        "or all (every LA of DfE's statistical neighbour model), each sized from its "
        "published figures",
    )
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

    p = sub.add_parser("report", help="render the commissioner's pack; --send e-mails it")
    p.add_argument("--la", type=_la_code, required=True, help="DfE LA code, e.g. 330")
    p.add_argument("--month", type=_month, required=True, help="reporting month, YYYY-MM")
    p.add_argument(
        "--send",
        action="store_true",
        help="e-mail each audience its copy (SMTP from AIRFLOW_CONN_SMTP_DEFAULT, else "
        "the outbox); a pack already sent is not sent again",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="with --send: send again even if already sent, or with a dataset missing",
    )
    p.add_argument(
        "--approved-by",
        metavar="NAME",
        help="with --send: who signed the pack off, for an audience whose configuration "
        "asks for sign-off (one of its approvers); recorded with the delivery",
    )
    p.add_argument(
        "--comment",
        metavar="TEXT",
        help="with --approved-by: the approver's comment, recorded with the delivery",
    )
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("reference", help="DfE's published statistics in the warehouse")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = verbs.add_parser(
        "load",
        help="load a DfE release (workforce, children in need, neighbour model); it "
        "supersedes the years it repeats",
    )
    v.add_argument("files", nargs="+", type=Path, metavar="FILE")
    v.set_defaults(handler=cmd_reference_load)

    p = sub.add_parser("demo", help="the whole job on the embedded defaults, through the DAGs")
    p.add_argument(
        "--months", type=int, default=36, help="how many months from 2022-04 (default 36)"
    )
    p.set_defaults(handler=cmd_demo)
    return parser


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # GX, Alembic and Airflow narrate their internals at INFO; only their
    # warnings matter to someone at the command line.
    for noisy in ("great_expectations", "alembic", "airflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging()
    handler: Handler = args.handler
    try:
        return handler(args)
    except CscError as exc:
        errors.print(f"csc-pipeline: {exc}", markup=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        errors.print("csc-pipeline: interrupted")
        return 130


def run() -> None:
    """The ``csc-pipeline`` command: :func:`main`, then exit with its status."""
    code = main()
    # The process ends here: the interpreter's last collections would only
    # traverse what pandas and GX built (0.8 s of every ingest's exit), and
    # the operating system frees the memory at once.
    gc.freeze()
    raise SystemExit(code)


if __name__ == "__main__":
    run()
