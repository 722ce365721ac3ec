"""Publishing a month's pack: render, archive, and send each audience its copy once.

:func:`publish_pack` is what the ``csc_report`` DAG and ``csc-pipeline
report`` call.  Per audience it compares the digest of the copy it would
send with the last one that audience received (the ``deliveries`` table):

* nothing sent yet: send ("sent");
* the same pack: send nothing ("already sent"), unless ``force`` ("forced");
* a different pack (a file was resubmitted since): send it marked as a
  correction ("correction").

An audience whose configuration asks for sign-off (``sign_off``) is sent
only on an :class:`~etl.report.deliveries.Approval` of its copy; without one
its outcome is "awaiting sign-off" (nothing sent), and an approval of a copy
that has changed since is not used ("changed since sign-off").  The approval
is recorded with the delivery.

A delivery is recorded only after its e-mail went, so a mail server that is
down fails the run (:class:`~etl.errors.MailUnavailable`, which the
DAG retries) with nothing recorded, and the next run sends exactly once.
The check, the send and the record happen under a lock per LA and month
(:func:`~etl.report.deliveries.delivery_lock`), so two publishers at once
still send each audience one e-mail.  (A crash between the server accepting
a message and the record being committed would send it again next time: at
least once, never silently not at all.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.contracts import DATASETS
from etl.errors import ConfigError, CscError
from etl.months import Month
from etl.reference.benchmarks import benchmarks_csv
from etl.report.archive import (
    BENCHMARKS_FILE,
    CSV_FILE,
    PACK_FILE,
    archive,
    audience_file,
    kpis_csv,
    pack_dir,
    pdf_file,
)
from etl.report.charts import render_all
from etl.report.config import Audience, PackConfig, load_pack_config
from etl.report.content import PackData, gather
from etl.report.deliveries import (
    Approval,
    Delivery,
    delivery_lock,
    last_deliveries,
    record_delivery,
)
from etl.report.delivery import SmtpSettings, send_message
from etl.report.figures import day
from etl.report.hub import hub_las
from etl.report.message import build_message
from etl.report.pdf import print_pdfs, running_head
from etl.report.render import data_uris, render_html
from etl.report.signoff import review_body, review_subject
from etl.report.view import View, build_view
from etl.settings import Settings
from etl.warehouse.db import Bind, transaction
from etl.warehouse.schema import CURRENT_LOAD, loads

SENT = "sent"
CORRECTION = "correction"
FORCED = "forced"
ALREADY_SENT = "already sent"
NOT_SENT = "not sent"
AWAITING_SIGN_OFF = "awaiting sign-off"
CHANGED = "changed since sign-off"


class NothingToReport(CscError):
    """No extract of any dataset is loaded for the LA and month."""


@dataclass(frozen=True)
class AudienceOutcome:
    audience: str
    #: sent, correction, forced, already sent, or not sent (rendered only).
    outcome: str
    recipients: int
    pack_sha256: str
    #: The archived copy this audience gets.
    html: str
    #: Where the e-mail went (``smtp://host:port`` or the ``.eml`` path).
    where: str | None = None
    #: Awaiting sign-off: the request's subject and body (Markdown) for the approver.
    subject: str | None = None
    review: str | None = None


@dataclass(frozen=True)
class PublishResult:
    """What a publish did: small and plain, so it fits an Airflow XCom."""

    la_code: str
    month: Month
    html: str
    kpis_csv: str
    audiences: tuple[AudienceOutcome, ...]
    #: Datasets with no file loaded for the month (their measures are blank).
    missing: tuple[str, ...]

    @property
    def sent(self) -> int:
        return sum(a.outcome in (SENT, CORRECTION, FORCED) for a in self.audiences)

    def summary(self) -> dict[str, str | int]:
        """Plain values for XCom and logs (no ``status`` key: the DAG sets its own)."""
        result: dict[str, str | int] = {
            "la_code": self.la_code,
            "month": str(self.month),
            "html": self.html,
            "kpis_csv": self.kpis_csv,
            "sent": self.sent,
            "missing": ", ".join(self.missing),
        }
        for audience in self.audiences:
            result[f"audience.{audience.audience}"] = audience.outcome
        return result

    def describe(self) -> str:
        """One line for people: the outcome per audience."""
        parts = [
            f"{a.audience}: {a.outcome}{f' ({a.where})' if a.where else ''}" for a in self.audiences
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class _Copy:
    """One rendering of the pack (unsuppressed, or suppressed)."""

    view: View
    charts: dict[str, bytes]


def publish_pack(
    engine: Engine,
    settings: Settings,
    la_code: str,
    month: Month,
    *,
    send: bool,
    force: bool = False,
    smtp: SmtpSettings | None = None,
    config: PackConfig | None = None,
    approvals: Mapping[str, Approval] | None = None,
    audiences: Collection[str] | None = None,
) -> PublishResult:
    """Render and archive the pack of ``la_code`` and ``month``; with ``send``, e-mail it.

    Each copy is archived as HTML with its PDF beside it (attached to the
    e-mail).  ``smtp`` None writes the e-mails as ``.eml`` files to the outbox.
    ``approvals`` (by audience name) are the sign-offs of the audiences that
    need one; ``audiences`` limits the result and the sending to those named
    (the pack is rendered and archived whole either way).
    Raises :class:`NothingToReport` when no file of the month is loaded,
    :class:`~etl.errors.ConfigError` without Chromium to print the PDF and
    :class:`~etl.report.pdf.PdfFailed` when it fails (both before anything
    is archived), and
    :class:`~etl.errors.MailUnavailable` /
    :class:`~etl.report.delivery.MailRefused` when a send fails (audiences
    already sent in the same run stay recorded).
    """
    config = config or load_pack_config()
    outside = config.unapproved_recipients()
    if send and outside:
        # Checked when the file is read too; here again for a configuration built
        # in code (model_copy skips validation): nothing goes to anyone.
        raise ConfigError(
            "; ".join(f"audience {name} sends to {address}" for name, address in outside)
            + f", outside approved_domains ({', '.join(config.approved_domains)}): nothing sent"
        )
    data = gather(engine, la_code, month)
    if not data.loaded_datasets:
        raise NothingToReport(
            f"no extract is loaded for LA {la_code}, {month}: there is no pack to make"
        )
    copies = _render(engine, data, config)
    folder = pack_dir(settings.reports_dir, la_code, month)
    # Each archived HTML file and the copy it holds: the plain pack, and a
    # file per audience that gets another copy.
    files = {folder / PACK_FILE: copies[_PLAIN]}
    for audience in config.audiences:
        if _variant(audience) != _PLAIN:
            files[folder / audience_file(audience.name)] = copies[_variant(audience)]
    documents = {path: _archived_html(copy) for path, copy in files.items()}
    # Every PDF is printed before anything is archived: a missing or failing
    # browser leaves the month's archive as it was.
    pdfs = _pdfs(documents, files)
    for path, document in documents.items():
        # PDF first: an HTML file already archived always has its own PDF
        # beside it, which _pdfs relies on to skip printing an unchanged pack.
        archive(pdf_file(path), pdfs[path])
        archive(path, document)
    html = folder / PACK_FILE
    csv_path = archive(folder / CSV_FILE, kpis_csv(data.kpis.values()))
    archive(folder / BENCHMARKS_FILE, benchmarks_csv(data.benchmarks))
    run = _Run(engine, settings, data, config, smtp, force, dict(approvals or {}))
    outcomes = []
    for audience in config.audiences:
        if audiences is not None and audience.name not in audiences:
            continue
        copy = copies[_variant(audience)]
        archived = html if _variant(audience) == _PLAIN else folder / audience_file(audience.name)
        digest = copy.view.digest()
        outcome = AudienceOutcome(
            audience.name, NOT_SENT, len(audience.recipients), digest, str(archived)
        )
        if send:
            outcome = run.deliver(audience, copy, pdfs[archived], outcome)
        if outcome.outcome == AWAITING_SIGN_OFF:
            outcome = replace(
                outcome,
                subject=review_subject(copy.view, audience.title),
                review=review_body(copy.view, data, archived),
            )
        outcomes.append(outcome)
    return PublishResult(
        la_code,
        month,
        str(html),
        str(csv_path),
        tuple(outcomes),
        tuple(d for d in DATASETS if d not in data.loaded_datasets),
    )


#: A copy of the pack: (suppresses small numbers, has the hub table).
_Variant = tuple[bool, bool]
#: The commissioner's pack as archived: nothing suppressed, no hub table.
_PLAIN: _Variant = (False, False)


def _variant(audience: Audience) -> _Variant:
    return (audience.suppress_small_numbers, audience.hub_table)


def _render(engine: Engine, data: PackData, config: PackConfig) -> dict[_Variant, _Copy]:
    """The plain copy (archived as the commissioner's pack) and each other copy an
    audience needs (suppressed, with the hub table)."""
    variants = {_PLAIN} | {_variant(a) for a in config.audiences}
    las = (
        hub_las(engine, data.month, config.council_names)
        if any(with_hub for _s, with_hub in variants)
        else None
    )
    copies = {}
    for suppress, with_hub in sorted(variants):
        view = build_view(data, config, suppress=suppress, hub_las=las if with_hub else None)
        copies[(suppress, with_hub)] = _Copy(view, render_all(view.charts))
    return copies


def _archived_html(copy: _Copy) -> bytes:
    return render_html(copy.view, data_uris(copy.charts)).encode("utf-8")


def _pdfs(documents: dict[Path, bytes], files: dict[Path, _Copy]) -> dict[Path, bytes]:
    """The PDF copy of each archived HTML document.

    An HTML file archived with the same bytes keeps the PDF beside it: the
    PDF is printed from the HTML alone, and Chromium stamps each print with
    its time, so printing it again would only file a needless new version.
    """
    result: dict[Path, bytes] = {}
    for path, document in documents.items():
        kept = pdf_file(path)
        if path.is_file() and kept.is_file() and path.read_bytes() == document:
            result[path] = kept.read_bytes()
    todo = [path for path in documents if path not in result]
    jobs = [(documents[path].decode("utf-8"), _head(files[path].view)) for path in todo]
    # The process's browser, kept between publishes; the copies print side by side.
    result.update(zip(todo, print_pdfs(jobs), strict=True))
    return result


def _head(view: View) -> str:
    return running_head(view.council, view.la_code, view.month_name)


@dataclass(frozen=True)
class _Run:
    """What every audience's delivery in one publish shares."""

    engine: Engine
    settings: Settings
    data: PackData
    config: PackConfig
    smtp: SmtpSettings | None
    force: bool
    approvals: dict[str, Approval]

    def deliver(
        self, audience: Audience, copy: _Copy, pdf: bytes, outcome: AudienceOutcome
    ) -> AudienceOutcome:
        """Send ``audience`` its copy unless it has it already; record what went.

        An audience that needs sign-off is sent only on an approval of this
        very copy (its digest), and the approval is recorded with it.

        Under the month's delivery lock, so a second publisher waits and then
        finds this delivery recorded.  A failed send rolls the transaction
        back: nothing is recorded.
        """
        with delivery_lock(self.engine, self.data.la_code, self.data.month) as connection:
            last = last_deliveries(connection, self.data.la_code, self.data.month).get(
                audience.name
            )
            if last is None:
                status = SENT
            elif last.pack_sha256 != outcome.pack_sha256:
                status = CORRECTION
            elif self.force:
                status = FORCED
            else:
                return replace(outcome, outcome=ALREADY_SENT)
            approval = self.approvals.get(audience.name)
            if audience.sign_off is not None:
                if approval is None:
                    return replace(outcome, outcome=AWAITING_SIGN_OFF)
                if approval.pack_sha256 not in (None, outcome.pack_sha256):
                    return replace(outcome, outcome=CHANGED)
                approval = replace(approval, pack_sha256=outcome.pack_sha256)
            else:
                approval = None  # recorded only where the configuration asks for one
            message = build_message(
                copy.view,
                copy.charts,
                audience=audience,
                sender=(self.smtp.from_address if self.smtp else None) or self.config.sender,
                correction=day(last.sent_at) if status == CORRECTION and last else None,
                pdf=pdf,
            )
            where = send_message(message, self.smtp, self.settings.outbox_dir)
            record_delivery(
                connection,
                self.data.la_code,
                self.data.month,
                Delivery(
                    audience=audience.name,
                    pack_sha256=outcome.pack_sha256,
                    status=status,
                    message_id=str(message["Message-ID"]),
                    sent_at=datetime.now(UTC),
                    recipients=len(audience.recipients),
                    transport="smtp" if self.smtp else "outbox",
                    approval=approval,
                ),
            )
        return replace(outcome, outcome=status, where=where)


# --- for the deadline check -------------------------------------------------------------


#: Months before the pack's whose loads its measures read: the longest window
#: (re-referrals read the 12 months before M; KPIS.md).
WINDOW_MONTHS = 12


@dataclass(frozen=True)
class Readiness:
    """What a month's pack waits for before it can be made from current figures."""

    #: Datasets (in DATASETS order) with no current load for the month.
    missing: tuple[str, ...]
    #: Current loads of the month or its window whose measures were not yet
    #: recomputed with them, as ``(dataset, month, file name)``.
    unmeasured: tuple[tuple[str, Month, str], ...]

    @property
    def ready(self) -> bool:
        return not self.missing and not self.unmeasured

    def describe(self) -> str:
        """What it waits for, in one sentence's worth of parts."""
        parts = [f"no {', '.join(self.missing)} file loaded"] if self.missing else []
        if self.unmeasured:
            files = ", ".join(name for _d, _m, name in self.unmeasured)
            parts.append(f"measures not yet recomputed since {files} was loaded")
        return "; ".join(parts)


def readiness(bind: Bind, la_code: str, month: Month) -> Readiness:
    """Whether the pack of ``la_code`` and ``month`` can be made, and what it waits for.

    Every dataset needs a current load for the month, and every current load
    of the month and the months its windowed measures read must have been
    measured (``loads.measured_at``): the DAG loads and recomputes in two
    tasks, and a pack made in between would show the old figures as the
    resubmission's.
    """
    query = sa.select(loads.c.dataset, loads.c.month, loads.c.file_name, loads.c.measured_at).where(
        loads.c.la_code == la_code,
        loads.c.month >= (month - WINDOW_MONTHS).start,
        loads.c.month <= month.start,
        CURRENT_LOAD,
    )
    with transaction(bind) as connection:
        rows = connection.execute(query.order_by(loads.c.month, loads.c.dataset)).all()
    loaded = {r.dataset for r in rows if Month.of(r.month) == month}
    return Readiness(
        missing=tuple(d for d in DATASETS if d not in loaded),
        unmeasured=tuple(
            (r.dataset, Month.of(r.month), r.file_name) for r in rows if r.measured_at is None
        ),
    )


def missing_datasets(bind: Bind, la_code: str, month: Month) -> list[str]:
    """Datasets (in DATASETS order) the month's pack cannot show yet: no current
    load for the month, or one whose measures were not yet recomputed."""
    ready = readiness(bind, la_code, month)
    pending = {d for d, m, _name in ready.unmeasured if m == month}
    return [d for d in DATASETS if d in ready.missing or d in pending]


def pack_sent(bind: Bind, la_code: str, month: Month, *, config: PackConfig | None = None) -> bool:
    """Whether every configured audience has been sent the month's pack."""
    config = config or load_pack_config()
    sent = last_deliveries(bind, la_code, month)
    return all(audience.name in sent for audience in config.audiences)
