"""The bodies of the DAGs' tasks: resolve settings, call the library, return XCom-sized dicts.

Each function takes and returns plain data (strings, numbers, small dicts)
so the DAG passes paths and ids between tasks, never a DataFrame.
"""

from __future__ import annotations

import getpass
import logging
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from etl.filenames import SUFFIXES, extract_filename
from etl.months import Month
from etl.settings import Settings, load_settings

log = logging.getLogger(__name__)


@cache
def _engine(url: str) -> Engine:
    from etl.warehouse.db import open_warehouse

    return open_warehouse(url, must_exist=True)


def warehouse(settings: Settings) -> Engine:
    """The warehouse engine, one per process (a worker runs many tasks).

    Opened as the CLI opens it (:func:`~etl.warehouse.db.open_warehouse`), so
    a warehouse that is unreachable or not created is the same one sentence.
    """
    return _engine(settings.warehouse_url)


@cache
def _gx_project(target: Path) -> Path:
    """The working GX project, copied once per process: GX's context is cached
    per folder (etl.validation), so copying again for every file changes nothing."""
    from etl.validation import working_project

    return working_project(target)


def find_landed(dataset: str, la_code: str, month: str, settings: Settings) -> str | None:
    """The landed file for the target, when it has arrived (CSV or Excel).

    A landing folder that is not there (a share not mounted) fails at once
    rather than waiting a week for a file that cannot arrive.
    """
    landing = settings.require_landing_dir()
    for suffix in SUFFIXES:
        path = landing / extract_filename(dataset, la_code, Month.parse(month), suffix)
        if path.is_file():
            return str(path)
    return None


def find_batch(dataset: str, batch: list[dict[str, Any]], settings: Settings) -> list[str] | None:
    """Every landed file of a batch of targets, once all have arrived."""
    paths = []
    for target in batch:
        path = find_landed(dataset, target["la_code"], target["month"], settings)
        if path is None:
            return None
        paths.append(path)
    return paths


def validate(paths: list[str], settings: Settings) -> dict[str, Any]:
    """Validate and pseudonymise a batch's landed files in one GX run; stage or quarantine each.

    Returns ``{"accepted": [{"file", "rows", "warnings", "staged"}...],
    "rejected": [IngestResult...]}``; the caller alerts on the rejected ones
    (their results never go to XCom).
    """
    from etl.ingest import Folders, IngestResult, validate_many
    from etl.staging import stage

    outcomes = validate_many(
        [Path(path) for path in paths],
        engine=warehouse(settings),
        key=settings.require_pseudonym_key(),
        folders=Folders(settings.archive_dir, settings.quarantine_dir),
        gx_dir=_gx_project(settings.gx_dir),
    )
    accepted, rejected = [], []
    for outcome in outcomes:
        if isinstance(outcome, IngestResult):
            rejected.append(outcome)
            continue
        record, checked = outcome
        staged = stage(checked.frame, settings.staging_dir, record)
        accepted.append(
            {
                "file": record.path.name,
                "rows": record.rows_read,
                "warnings": record.warnings,
                "staged": str(staged),
            }
        )
    return {"accepted": accepted, "rejected": rejected}


def load(staged: list[str], settings: Settings, *, force: bool = False) -> list[dict[str, Any]]:
    """Load staged frames, each whole or not at all, and archive each file.

    Month by month (each LA's months stay in order): a month's files of the
    batch's LAs load in one transaction (:func:`etl.ingest.load_accepted_many`),
    their frames read only for it.  A stage goes once its file's load has
    committed, so a retry loads only what is left.  Measures are left to
    :func:`recompute`.
    """
    from etl.ingest import Folders, IngestResult, load_accepted_many
    from etl.staging import discard, staged_record, unstage

    paths = [Path(path) for path in staged]
    records = [staged_record(path) for path in paths]
    stage_of = {record.path.name: path for record, path in zip(records, paths, strict=True)}
    by_month: dict[Month, list[int]] = {}
    for number, record in enumerate(records):
        by_month.setdefault(record.month, []).append(number)

    def committed(result: IngestResult) -> None:
        discard(stage_of[result.file])

    loaded: list[dict[str, Any] | None] = [None] * len(paths)
    for month in sorted(by_month):
        numbers = by_month[month]
        unstaged = {n: unstage(paths[n]) for n in numbers}
        results = load_accepted_many(
            [unstaged[n] for n in numbers],
            engine=warehouse(settings),
            folders=Folders(settings.archive_dir, settings.quarantine_dir),
            loaded_by=f"airflow:{getpass.getuser()}",
            force=force,
            recompute=False,
            committed=committed,
        )
        for number, result in zip(numbers, results, strict=True):
            accepted = unstaged[number][0]
            loaded[number] = {
                "dataset": accepted.dataset,
                "la_code": accepted.la_code,
                "month": str(accepted.month),
                "status": result.status,
                "load_id": result.load_id,
                "rows": result.rows,
                "earliest": str(result.earliest) if result.earliest else None,
            }
        del unstaged
    return [entry for entry in loaded if entry is not None]


def recompute(loaded: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    """Recompute the measures the batch's loads changed: once per dataset for all
    its LAs, set-based (nothing for unchanged)."""
    from etl.warehouse.load import recompute_after_loads_of

    by_dataset: dict[str, dict[str, list[tuple[Month, Month | None]]]] = {}
    for load in loaded:
        if load["status"] == "loaded":
            earliest = Month.parse(load["earliest"]) if load.get("earliest") else None
            of_dataset = by_dataset.setdefault(load["dataset"], {})
            of_dataset.setdefault(load["la_code"], []).append(
                (Month.parse(load["month"]), earliest)
            )
    recomputed: dict[tuple[str, str], list[str]] = {}
    for dataset, by_la in by_dataset.items():
        done = recompute_after_loads_of(warehouse(settings), dataset=dataset, loaded=by_la)
        for la_code, months in done.items():
            recomputed[(dataset, la_code)] = [str(m) for m in months]
    return [
        {**load, "months_recomputed": recomputed.get((load["dataset"], load["la_code"]), [])}
        if load["status"] == "loaded"
        else {**load, "months_recomputed": []}
        for load in loaded
    ]


def task_settings() -> Settings:
    """Settings as a task sees them (environment, plus ``.env``)."""
    return load_settings()


def reject(results: list[Any], context: Any) -> None:
    """Tell the data engineers of each rejected file (one e-mail each)."""
    from etl.orchestration.alerts import rejection_lines, send_to_engineers

    for result in results:
        send_to_engineers(
            f"csc-pipeline: {result.file} rejected, nothing loaded",
            rejection_lines(result),
            context,
        )


def rejected_error(files: list[dict[str, Any]]) -> Exception:
    """The task failure for rejected files: never retried, no second alert."""
    from etl.orchestration.alerts import FileRejected

    shown = "; ".join(f"{f['file']}: {f['errors']}" for f in files[:3])
    more = f" (and {len(files) - 3} more)" if len(files) > 3 else ""
    return FileRejected(f"{len(files)} file(s) rejected and quarantined: {shown}{more}")


def rejection_summary(result: Any) -> dict[str, Any]:
    """What XCom keeps of a rejected file: its name and its first errors (no values)."""
    return {"file": result.file, "errors": "; ".join(p.describe() for p in result.errors[:3])}


def report_targets(context: Any) -> list[dict[str, Any]]:
    """The packs a report run is for: the Params, else the loads that triggered it.

    With the loads' events come the other packs of the same months that the
    warehouse says are owed (loaded since last sent): Airflow can drop an
    event of loads finishing together (:mod:`etl.report.owed`).  A run with
    neither (a manual run with no month) reports the month before the run
    for every configured LA.
    """
    from etl.orchestration.targets import run_targets, targets_from_events

    params = context["params"]
    events = context.get("triggering_asset_events") or {}
    if not params.get("month"):
        from_events = targets_from_events(events)
        if from_events:
            return _with_owed(from_events, task_settings())
    dag_run = context["dag_run"]
    return run_targets(
        month_param=params.get("month"),
        la_param=params.get("la_code"),
        la_codes=task_settings().la_codes,
        logical_date=dag_run.logical_date,
        run_after=dag_run.run_after,
        through_param=params.get("through"),
    )


def _with_owed(targets: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    """``targets`` and the owed packs of their months, once each, in month then LA order."""
    from etl.report.owed import owed_packs

    months = {Month.parse(target["month"]) for target in targets}
    keys = {(t["month"], t["la_code"]) for t in targets}
    keys |= {(str(month), la) for la, month in owed_packs(warehouse(settings), months)}
    return [{"la_code": la, "month": month} for month, la in sorted(keys)]


def _smtp() -> Any:
    """The pack's SMTP settings from ``smtp_default``, or None for the outbox."""
    from etl.orchestration.alerts import smtp_connection
    from etl.report.delivery import SmtpSettings

    connection = smtp_connection()
    return None if connection is None else SmtpSettings.from_airflow_connection(connection)


def publish(target: dict[str, Any], settings: Settings, *, force: bool = False) -> dict[str, Any]:
    """Render, archive and send the pack, once every dataset of the month is loaded.

    A pack with a dataset missing, or with a load whose measures are not yet
    recomputed (the measures task of a resubmission still to run), is not
    sent: it would show blanks, or old figures as new ones.  The run records
    what it waits for, and the deadline DAG tells the engineers if it never
    comes.
    """
    from etl.report.config import load_pack_config
    from etl.report.delivery import check_mail_server
    from etl.report.publish import publish_pack, readiness

    engine = warehouse(settings)
    la_code, month = target["la_code"], Month.parse(target["month"])
    ready = readiness(engine, la_code, month)
    if not ready.ready:
        log.warning("pack %s %s not built: waiting: %s", la_code, month, ready.describe())
        return {
            **target,
            "status": "waiting",
            "missing": list(ready.missing),
            "waiting_for": ready.describe(),
        }
    config, smtp = load_pack_config(), _smtp()
    if smtp is not None:  # every audience's addresses asked before anyone is sent anything
        check_mail_server(smtp, smtp.from_address or config.sender, config.recipients())
    result = publish_pack(
        engine, settings, la_code, month, send=True, force=force, smtp=smtp, config=config
    )
    return {
        **target,
        "status": "published",
        **result.summary(),
        "sign_off": sign_off_requests(result, config),
    }


def sign_off_requests(result: Any, config: Any) -> list[dict[str, Any]]:
    """One request per audience whose copy waits for sign-off: what the approver is shown."""
    from etl.report.publish import AWAITING_SIGN_OFF

    requests = []
    for outcome in result.audiences:
        if outcome.outcome != AWAITING_SIGN_OFF:
            continue
        sign_off = config.audience(outcome.audience).sign_off
        requests.append(
            {
                "la_code": result.la_code,
                "month": str(result.month),
                "audience": outcome.audience,
                "pack_sha256": outcome.pack_sha256,
                "html": outcome.html,
                "subject": outcome.subject,
                "body": outcome.review,
                "approvers": list(sign_off.approvers),
                "wait_hours": sign_off.wait_hours,
            }
        )
    return requests


def send_signed_off(request: dict[str, Any], approval: Any, context: Any) -> dict[str, Any]:
    """Send the approved copy to its audience and record the approval with the delivery.

    A copy that changed since it was approved (a resubmission loaded while
    it waited) is not sent: the engineers are told and the task fails, so
    the month is published and signed off again.
    """
    from etl.orchestration.alerts import send_to_engineers
    from etl.report.config import load_pack_config
    from etl.report.publish import CHANGED, publish_pack

    settings = task_settings()
    config = load_pack_config()
    result = publish_pack(
        warehouse(settings),
        settings,
        request["la_code"],
        Month.parse(request["month"]),
        send=True,
        smtp=_smtp(),
        config=config,
        approvals={request["audience"]: approval},
        audiences={request["audience"]},
    )
    (outcome,) = result.audiences
    summary = _decision(request, "approved", approval) | {"outcome": outcome.outcome}
    if outcome.outcome == CHANGED:
        send_to_engineers(
            f"csc-pipeline: {request['la_code']} {request['month']} {request['audience']} "
            "pack changed after sign-off, not sent",
            [
                f"{approval.by} approved the {request['audience']} copy of the pack for LA "
                f"{request['la_code']}, {request['month']}, but its figures changed before it "
                "was sent (a file was loaded since): nothing was sent.",
                "Run csc_report for the month again to ask for sign-off of the new pack.",
            ],
            context,
            settings=settings,
        )
        from etl.orchestration.alerts import SignOffMissed

        raise SignOffMissed(f"{request['audience']}: the pack changed since it was approved")
    log.info("%s signed off by %s: %s", request["audience"], approval.by, outcome.outcome)
    return summary


def sign_off_rejected(request: dict[str, Any], approval: Any, context: Any) -> dict[str, Any]:
    """Nothing is sent; the data engineers get the rejection and its comment."""
    from etl.orchestration.alerts import send_to_engineers

    where = f"LA {request['la_code']}, {request['month']}"
    send_to_engineers(
        f"csc-pipeline: {request['la_code']} {request['month']} {request['audience']} "
        "pack rejected at sign-off",
        [
            f"{approval.by} rejected the {request['audience']} copy of the pack for {where} "
            f"at {approval.at:%Y-%m-%d %H:%M} UTC: nothing was sent to its recipients.",
            "",
            "Their comment:",
            "",
            approval.comment or "(no comment given)",
            "",
            f"The pack as archived: {request['html']}",
            "Correct what it says, then run csc_report for the month again.",
        ],
        context,
    )
    log.warning("%s rejected by %s: nothing sent", request["audience"], approval.by)
    return _decision(request, "rejected", approval) | {"outcome": "not sent"}


def sign_off_missed(request: dict[str, Any], context: Any) -> None:
    """No answer by the deadline: tell the data engineers, send nothing, fail the task."""
    from etl.orchestration.alerts import SignOffMissed, send_to_engineers

    approvers = ", ".join(request["approvers"])
    send_to_engineers(
        f"csc-pipeline: {request['la_code']} {request['month']} {request['audience']} "
        "pack not signed off in time",
        [
            f"Nobody signed off the {request['audience']} copy of the pack for LA "
            f"{request['la_code']}, {request['month']} within {request['wait_hours']:g} hours "
            f"(approvers: {approvers}): nothing was sent to its recipients.",
            "",
            f"The pack as archived: {request['html']}",
            "Ask an approver to look at it, then run csc_report for the month again, or send "
            "it with `csc-pipeline report --send --approved-by NAME`.",
        ],
        context,
    )
    raise SignOffMissed(
        f"no sign-off of the {request['audience']} pack within {request['wait_hours']:g} hours"
    )


def _decision(request: dict[str, Any], decision: str, approval: Any) -> dict[str, Any]:
    """What the sign-off task returns (XCom): the request without its long body."""
    return {
        "la_code": request["la_code"],
        "month": request["month"],
        "audience": request["audience"],
        "decision": decision,
        "by": approval.by,
        "at": approval.at.isoformat(),
        "comment": approval.comment,
    }


def check_deadline(target: dict[str, Any], settings: Settings, context: Any) -> dict[str, Any]:
    """Alert the engineers when a month's pack has not gone by the deadline."""
    from etl.orchestration.alerts import send_to_engineers
    from etl.report.publish import missing_datasets, pack_sent

    engine = warehouse(settings)
    la_code, month = target["la_code"], Month.parse(target["month"])
    if pack_sent(engine, la_code, month):
        return {**target, "status": "sent"}
    missing = missing_datasets(engine, la_code, month)
    if missing:
        lines = [
            f"The commissioner's pack for LA {la_code}, {month} has not been sent: "
            f"no {', '.join(missing)} extract has been loaded for the month.",
            "",
            *(
                f"  - {dataset}: expected as "
                f"{extract_filename(dataset, la_code, month)} in {settings.landing_dir}"
                for dataset in missing
            ),
            "",
            "Check the quarantine folder for a rejected file, or chase the extract.",
        ]
    else:
        lines = [
            f"Every extract for LA {la_code}, {month} is loaded but the pack has not been "
            "sent: see the csc_report DAG's runs for the error.",
        ]
    send_to_engineers(
        f"csc-pipeline: {la_code} {month} pack missed its deadline",
        lines,
        context,
        settings=settings,
    )
    return {**target, "status": "late", "missing": missing}
