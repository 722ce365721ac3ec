"""The demo's March 2025 pack as officials receive it: accessible, and whole in every mail client.

A realistic month (:mod:`tests.report.realistic`: LA 330, 36 months of the
demo's sample extracts, DfE's releases) published to a real SMTP server in
the test process for every configured audience plus a regional hub's.  For
each audience, the archived pack and the HTML part of the e-mail as
received:

* axe-core (WCAG 2.0/2.1/2.2 A and AA, best practice) in Debian's headless
  Chromium finds no violation;
* the structural rules of :mod:`tests.report.structure` hold: every chart
  states what it shows and its latest figures, which a table right after it
  holds; RAG status in words; headings in order; captioned, scoped tables;
* the HTML part is under 100,000 bytes (Gmail clips at about 102 KB), as
  decoded and as transferred, and has nothing Outlook's Word engine drops
  (SVG, flex, grid, positioned or floated layout, background images, data:
  or remote images); every image is a PNG sent inline by Content-ID;
* the archived pack says everything the e-mail says.

The size of every part of each message is printed (``-s`` shows it).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from etl.report.config import PackConfig, load_pack_config
from etl.report.publish import PublishResult, publish_pack
from etl.warehouse.db import make_engine, upgrade
from tests.mailserver import mail_server, plain_smtp
from tests.report import structure
from tests.report.axe import ensure_node, violations
from tests.report.chromium import ensure_chromium
from tests.report.conftest import make_settings
from tests.report.htmltext import visible_text
from tests.report.realistic import LA, load_realistic

#: Gmail shows "[Message clipped]" past about 102 KB of HTML.
HTML_LIMIT = 100_000
#: Constructs Outlook's Word renderer drops or mangles, in a style or a tag.
OUTLOOK_UNSAFE = {
    "SVG": r"<svg\b",
    "flex or grid layout": r"display\s*:\s*(inline-)?(flex|grid)",
    "positioned layout": r"\bposition\s*:",
    "floats": r"\bfloat\s*:",
    "background images": r"background(-image)?\s*:[^;\"]*url\(",
    "script": r"<script\b",
    "forms": r"<(form|input|button|select|textarea)\b",
    "media": r"<(video|audio|iframe|object|embed|canvas)\b",
    "linked stylesheets": r"<link\b",
    "data: URIs": r"(src|href)\s*=\s*\"data:",
    "remote URLs": r"https?://",
}


@dataclass(frozen=True)
class Received:
    """One audience's delivery: the archived pack and the e-mail as the server got it."""

    audience: str
    archived: Path
    emailed: Path
    message: EmailMessage
    raw: bytes


@dataclass(frozen=True)
class Month:
    result: PublishResult
    received: dict[str, Received]
    kpis: dict[str, str]
    config: PackConfig


def _config() -> PackConfig:
    config = load_pack_config()
    hub = config.audiences[0].model_copy(
        update={"name": "hub", "title": "Hub leads", "hub_table": True}
    )
    return config.model_copy(update={"audiences": [*config.audiences, hub]})


def _html_part(message: EmailMessage) -> EmailMessage:
    for part in message.walk():
        if part.get_content_type() == "text/html" and isinstance(part, EmailMessage):
            return part
    raise AssertionError("no text/html part")


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory, gx_dir: Path) -> Month:
    folder = tmp_path_factory.mktemp("realistic")
    engine = make_engine(f"sqlite:///{folder / 'warehouse.db'}")
    upgrade(engine)
    pack_month = load_realistic(engine, folder, gx_dir)
    config = _config()
    with mail_server() as (inbox, port):
        result = publish_pack(
            engine,
            make_settings(folder),
            LA,
            pack_month,
            send=True,
            smtp=plain_smtp(port),
            config=config,
        )
    engine.dispose()
    assert [a.outcome for a in result.audiences] == ["sent", "sent", "sent"]
    received = {}
    for outcome, mail in zip(result.audiences, inbox.messages, strict=True):
        message = mail.message
        emailed = folder / f"{outcome.audience}-emailed.html"
        emailed.write_bytes(_html_part(message).get_payload(decode=True))
        received[outcome.audience] = Received(
            outcome.audience, Path(outcome.html), emailed, message, mail.data
        )
    with Path(result.kpis_csv).open(encoding="utf-8", newline="") as handle:
        kpis = {r["kpi_id"]: r["value"] for r in csv.DictReader(handle)}
    return Month(result, received, kpis, config)


def _pages(month: Month) -> list[Path]:
    return [p for r in month.received.values() for p in (r.archived, r.emailed)]


def test_axe_finds_no_violation_in_any_audience_pack_archived_or_emailed(month: Month) -> None:
    browser = ensure_chromium()
    node = ensure_node()
    pages = _pages(month)
    found = violations(node, browser, pages)
    for page in pages:
        print(f"axe: {page.name}: {len(found[page.name])} violations")
    assert set(found) == {p.name for p in pages}
    assert found == {p.name: [] for p in pages}


@pytest.mark.parametrize("audience", ["commissioner", "partnership", "hub"])
def test_the_pack_is_structured_for_assistive_technology(month: Month, audience: str) -> None:
    titles = [
        "Vacancy, agency and turnover rates",
        "Average caseload",
        "Referrals and assessments completed",
        "Re-referrals, no further action and assessment timeliness",
        "Closures because no social worker could be allocated",
        "Vacancy rate, at 30 September each year",
        "Agency worker rate, at 30 September each year",
        "Turnover rate, at 30 September each year",
        "Average caseload, at 30 September each year",
    ]
    received = month.received[audience]
    for page in (received.archived, received.emailed):
        document = structure.parse(page.read_text(encoding="utf-8"))
        assert structure.chart_problems(document, titles) == [], page.name
        assert structure.rag_problems(document) == [], page.name
        assert structure.heading_problems(document) == [], page.name
        assert structure.table_problems(document) == [], page.name
        # Nine charts, nine tables of their figures; 24 months or 8 years each.
        figures = [t for t in structure.data_tables(document) if "Figures of the chart" in t.text()]
        assert len(figures) == 9
        assert [len(t.find("tr")) for t in figures] == [25] * 5 + [9] * 4


def test_chart_alt_text_states_the_latest_figures_of_kpis_csv(month: Month) -> None:
    """The unsuppressed copy's first chart says this month's rates as kpis.csv has them."""
    html = month.received["commissioner"].emailed.read_text(encoding="utf-8")
    alt = re.search(r'alt="(Vacancy, agency and turnover rates[^"]*)"', html)
    assert alt is not None
    rate = {k: f"{float(month.kpis[k]) * 100:.1f}%" for k in ("vacancy_rate", "agency_rate")}
    assert alt[1] == (
        "Vacancy, agency and turnover rates, Apr 2023 to Mar 2025. Latest: "
        f"Vacancy {rate['vacancy_rate']}; Agency {rate['agency_rate']}; "
        f"Turnover (12 months) {float(month.kpis['turnover_rate_12m']) * 100:.1f}%."
    )


def test_every_email_fits_gmail_and_outlook(month: Month) -> None:
    for audience, received in month.received.items():
        print(f"{audience}: whole message {len(received.raw):,} bytes")
        for part in received.message.walk():
            if part.is_multipart():
                continue
            decoded = part.get_payload(decode=True)
            sent = part.as_bytes()
            print(
                f"  {part.get_content_type():10} {part.get_filename() or '':30}"
                f" decoded {len(decoded):>8,}  as sent {len(sent):>8,}"
            )
        html_part = _html_part(received.message)
        assert len(html_part.get_payload(decode=True)) < HTML_LIMIT, audience
        assert len(html_part.as_bytes()) < HTML_LIMIT, audience
        html = received.emailed.read_text(encoding="utf-8")
        found = {what for what, pattern in OUTLOOK_UNSAFE.items() if re.search(pattern, html, re.I)}
        assert found == set(), audience
        # Images: every one a PNG sent inline by Content-ID, every one referenced.
        images = {
            str(p["Content-ID"]).strip("<> "): p.get_content_type()
            for p in received.message.walk()
            if p.get_content_maintype() == "image"
        }
        sources = re.findall(r'<img[^>]* src="([^"]+)"', html)
        assert len(sources) == 9 and all(s.startswith("cid:") for s in sources)
        assert {s.removeprefix("cid:") for s in sources} == set(images)
        assert set(images.values()) == {"image/png"}


def test_the_archived_pack_says_everything_the_email_says(month: Month) -> None:
    for audience, received in month.received.items():
        archived = received.archived.read_text(encoding="utf-8")
        emailed = received.emailed.read_text(encoding="utf-8")
        assert visible_text(archived) == visible_text(emailed), audience
        assert archived.count('src="data:image/png;base64,') == 9
