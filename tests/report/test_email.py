"""The pack e-mailed to a real SMTP server (aiosmtpd, in process), once and only once.

Checks what the officials' mail clients will see (multipart/alternative with
text and HTML, beside the PDF attachment; charts as inline CID images that
all exist, inline styles, no script and no remote URL, under 1 MB) and the
delivery rules: the same month is not sent twice, a mail server that is down
fails clearly and records nothing, and a changed pack goes as a marked
correction.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from etl.errors import ConfigError
from etl.report.config import PackConfig
from etl.report.deliveries import last_deliveries
from etl.report.delivery import (
    MailRefused,
    MailUnavailable,
    SmtpSettings,
    retrying,
    send_message,
)
from etl.report.publish import PublishResult, pack_sent, publish_pack
from etl.report.yamlfile import packaged
from etl.settings import Settings
from tests.mailserver import free_port, mail_server, plain_smtp
from tests.report import pack_month
from tests.report.htmltext import read
from tests.report.pack_month import LA, MONTH

MAX_BYTES = 1_000_000


def publish(
    engine: Engine,
    settings: Settings,
    config: PackConfig,
    smtp: SmtpSettings | None,
    *,
    force: bool = False,
) -> PublishResult:
    return publish_pack(
        engine, settings, LA, MONTH, send=True, force=force, smtp=smtp, config=config
    )


def outcomes(result: PublishResult) -> dict[str, str]:
    return {a.audience: a.outcome for a in result.audiences}


def html_and_images(message: EmailMessage) -> tuple[str, dict[str, bytes]]:
    """The HTML part and the inline images by Content-ID (without brackets)."""
    # [the alternatives, the PDF attachment] (tests/report/test_pdf.py reads the PDF).
    assert message.get_content_type() == "multipart/mixed"
    alternatives, pdf = list(message.iter_parts())
    assert pdf.get_content_type() == "application/pdf"
    assert alternatives.get_content_type() == "multipart/alternative"
    text, related = list(alternatives.iter_parts())
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = list(related.iter_parts())
    assert html_part.get_content_type() == "text/html"
    found = {}
    for image in images:
        assert image.get_content_type() == "image/png"
        assert image.get_content_disposition() == "inline"
        found[str(image["Content-ID"]).strip().strip("<>")] = image.get_payload(decode=True)
    return str(html_part.get_content()), found


def test_received_email_is_what_mail_clients_need(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    with mail_server() as (inbox, port):
        result = publish(small_warehouse, settings, config, plain_smtp(port))
    assert outcomes(result) == {"commissioner": "sent", "partnership": "sent"}
    assert len(inbox.messages) == 2
    commissioner, partnership = inbox.messages
    assert sorted(commissioner.rcpt_tos) == sorted(config.audience("commissioner").recipients)
    assert commissioner.mail_from == config.sender
    for received in inbox.messages:
        # Under 1 MB without the PDF copy, under 2 MB with it (as test_size).
        assert len(received.data) < 2 * MAX_BYTES
        message = received.message
        pdfs = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
        assert len(pdfs) == 1
        without_pdf = len(received.data) - len(pdfs[0].as_bytes())
        assert without_pdf < MAX_BYTES
        assert message["Subject"] == ("Children's social care monthly pack: LA 330, March 2024")
        assert message["Auto-Submitted"] == "auto-generated"
        html, images = html_and_images(message)
        referenced = set(re.findall(r'src="cid:([^"]+)"', html))
        assert referenced and referenced == set(images)
        assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in images.values())
        tags = read(html).tags
        assert "<script" not in html.lower() and not [t for t, _ in tags if t == "script"]
        assert not re.search(r"https?://", html), "no remote URL of any kind"
        assert not [t for t, _ in tags if t in ("link", "iframe", "object", "svg")]
        # What carries meaning is inline, so a client that drops <style> blocks
        # keeps it: every heading, caption and classed cell or paragraph (tiles'
        # colours, blank figures) has its own style attribute.  (A suppressed
        # figure's bold is in the <head> only: the letter c says it.)
        styled = [
            attrs
            for tag, attrs in tags
            if tag in ("h1", "h2", "h3", "caption")
            or (tag in ("td", "th", "p", "span") and attrs.get("class") not in (None, "suppressed"))
        ]
        assert len(styled) > 100 and all("style" in attrs for attrs in styled)
        assert re.search(r'class="tile t-red"[^>]*style="[^"]*background-color:#fbe1e0', html)
        assert re.search(r'<td class="blank"[^>]*style="color:#52606d;font-style:italic"', html)
        # Two <style> blocks: the @media rules css-inline kept, then the type and
        # table rules every cell shares (pack-base.css, never inlined).
        blocks = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
        assert [b.strip().startswith("@media") for b in blocks] == [True, False]
        assert blocks[1].startswith("body { margin: 0; padding: 0; } td, th, p,")
    text = commissioner.message.get_body(preferencelist=("plain",))
    assert text is not None
    plain = text.get_content()
    assert "Vacancy rate: 37.5% (Off target; target 15.0%)" in plain
    assert pack_month.SCRIPT_TEAM in plain  # plain text: nothing to escape
    partnership_html, _ = html_and_images(partnership.message)
    assert "37.5%" not in partnership_html
    assert ">c<" in partnership_html


def test_resending_the_same_month_sends_nothing(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    with mail_server() as (inbox, port):
        publish(small_warehouse, settings, config, plain_smtp(port))
        again = publish(small_warehouse, settings, config, plain_smtp(port))
    assert outcomes(again) == {"commissioner": "already sent", "partnership": "already sent"}
    assert again.sent == 0
    assert len(inbox.messages) == 2
    assert pack_sent(small_warehouse, LA, MONTH, config=config)


def test_smtp_down_fails_clearly_records_nothing_then_sends_once(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    port = free_port()
    with pytest.raises(MailUnavailable, match=rf"cannot reach the mail server at .*:{port}"):
        publish(small_warehouse, settings, config, plain_smtp(port))
    assert last_deliveries(small_warehouse, LA, MONTH) == {}
    assert not pack_sent(small_warehouse, LA, MONTH, config=config)
    # The archive is written even though nothing went.
    assert (settings.reports_dir / "330" / "2024-03" / "commissioner-pack.html").is_file()

    with mail_server(port) as (inbox, _port):
        first = publish(small_warehouse, settings, config, plain_smtp(port))
        second = publish(small_warehouse, settings, config, plain_smtp(port))
    assert first.sent == 2 and second.sent == 0
    assert len(inbox.messages) == 2
    assert {d.status for d in last_deliveries(small_warehouse, LA, MONTH).values()} == {"sent"}


def test_two_publishers_at_once_send_each_audience_once(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    """Two DAG runs (or the DAG and the command line) publishing the same month."""
    with mail_server() as (inbox, port), ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(publish, small_warehouse, settings, config, plain_smtp(port))
            for _ in range(2)
        ]
        results = [run.result() for run in runs]
    assert sum(r.sent for r in results) == 2
    assert len(inbox.messages) == 2
    assert {d.status for d in last_deliveries(small_warehouse, LA, MONTH).values()} == {"sent"}


def test_retried_until_the_server_is_back(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    """The command line's retry: the server comes up during the back-off."""
    port = free_port()
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    waits: list[float] = []

    def wait(seconds: float) -> None:  # the back-off: the server comes up meanwhile
        waits.append(seconds)
        controller.start()

    try:
        result = retrying(
            lambda: publish(small_warehouse, settings, config, plain_smtp(port)),
            attempts=3,
            delay=2.0,
            sleep=wait,
        )
    finally:
        controller.stop()
    assert waits == [2.0]
    assert result.sent == 2 and len(inbox.messages) == 2


def test_retries_give_up_with_the_server_error(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    port = free_port()
    waits: list[float] = []
    retried: list[int] = []
    with pytest.raises(MailUnavailable):
        retrying(
            lambda: publish(small_warehouse, settings, config, plain_smtp(port)),
            attempts=3,
            delay=1.0,
            sleep=waits.append,
            on_retry=lambda attempt, _exc: retried.append(attempt),
        )
    assert waits == [1.0, 2.0] and retried == [1, 2]
    assert last_deliveries(small_warehouse, LA, MONTH) == {}


def test_a_changed_pack_is_sent_as_a_correction(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    with mail_server() as (inbox, port):
        publish(small_warehouse, settings, config, plain_smtp(port))
        # March's closures resubmitted: one capacity closure fewer.
        pack_month.load_file(small_warehouse, "closures", MONTH, pack_month.march_closures(4))
        corrected = publish(small_warehouse, settings, config, plain_smtp(port))
        again = publish(small_warehouse, settings, config, plain_smtp(port))
    assert outcomes(corrected) == {"commissioner": "correction", "partnership": "correction"}
    assert again.sent == 0
    assert len(inbox.messages) == 4
    message = inbox.messages[2].message
    assert str(message["Subject"]).startswith("Correction: Children's social care monthly pack")
    html, _images = html_and_images(message)
    assert "<strong>Correction.</strong> This pack replaces the one sent on" in html
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and "CORRECTION: this pack replaces" in plain.get_content()
    latest = last_deliveries(small_warehouse, LA, MONTH)
    assert {d.status for d in latest.values()} == {"correction"}
    # The version first sent is kept beside the corrected one.
    superseded = settings.reports_dir / "330" / "2024-03" / "superseded"
    assert len(list(superseded.glob("commissioner-pack-*.html"))) == 1


def test_force_sends_the_same_pack_again(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    with mail_server() as (inbox, port):
        publish(small_warehouse, settings, config, plain_smtp(port))
        forced = publish(small_warehouse, settings, config, plain_smtp(port), force=True)
    assert outcomes(forced) == {"commissioner": "forced", "partnership": "forced"}
    assert len(inbox.messages) == 4
    assert not str(inbox.messages[3].message["Subject"]).startswith("Correction")


def test_without_smtp_the_emails_go_to_the_outbox(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    result = publish(small_warehouse, settings, config, None)
    written = sorted(settings.outbox_dir.glob("*.eml"))
    assert len(written) == 2
    assert {a.where for a in result.audiences} == {str(p) for p in written}
    for path in written:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        html, images = html_and_images(message)
        assert set(re.findall(r'src="cid:([^"]+)"', html)) == set(images)
    assert {d.transport for d in last_deliveries(small_warehouse, LA, MONTH).values()} == {"outbox"}
    publish(small_warehouse, settings, config, None)
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 2
    assert not list(settings.outbox_dir.glob("*.part"))


def test_refused_recipients_are_not_retried(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with pytest.raises(MailRefused, match=r"; nothing was sent to anyone$"):
            publish(small_warehouse, settings, config, plain_smtp(port))
    finally:
        controller.stop()
    assert last_deliveries(small_warehouse, LA, MONTH) == {}


def test_send_message_for_other_mail(tmp_path: Path) -> None:
    """What the DAGs reuse for the data engineers' alerts."""
    message = EmailMessage()
    message["Subject"] = "csc-pipeline: a file was rejected"
    message["From"] = "csc-pipeline@example.gov.uk"
    message["To"] = "engineers@example.gov.uk"
    message.set_content("workforce_330_2024-03.csv was rejected")
    with mail_server() as (inbox, port):
        assert send_message(message, plain_smtp(port), tmp_path) == f"smtp://127.0.0.1:{port}"
    assert inbox.messages[0].rcpt_tos == ["engineers@example.gov.uk"]
    where = Path(send_message(message, None, tmp_path))
    assert where.parent == tmp_path and where.suffix == ".eml"
    assert b"was rejected" in where.read_bytes()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.original_content))
        return "250 OK"


class _Refusing:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "550 5.1.1 No such user here"


def test_a_recipient_outside_the_approved_domains_stops_every_send(
    small_warehouse: Engine,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The publish path as the DAG takes it (configuration read by publish_pack).

    The outsider is in the second audience: the first is not sent either.
    """
    data = yaml.safe_load(packaged("pack.yml").read_text(encoding="utf-8"))
    data["audiences"][1]["recipients"].append("board@elsewhere.org")
    path = tmp_path / "pack.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("CSC_PACK_CONFIG", str(path))
    with mail_server() as (inbox, port), pytest.raises(ConfigError) as caught:
        publish_pack(small_warehouse, settings, LA, MONTH, send=True, smtp=plain_smtp(port))
    assert str(caught.value) == (
        f"CSC_PACK_CONFIG file {path} is wrong: audience partnership sends to "
        "board@elsewhere.org, outside approved_domains (example.gov.uk)"
    )
    assert inbox.messages == []
    assert last_deliveries(small_warehouse, LA, MONTH) == {}
    assert not settings.reports_dir.exists()  # refused before anything was rendered
