"""The pack's PDF copy, printed by real headless Chromium and read back with poppler.

From the hand-made month with DfE's published statistics loaded (so every
section, chart and table is there), on SQLite and PostgreSQL: each archived
HTML pack has a PDF beside it that is A4, says "Page i of N" on each of its
N pages and the council, LA code and month at the top of every one, holds
the figures of kpis.csv as the pack prints them, embeds every chart at its
full 2x resolution and never cuts a table row across two pages.  The e-mail
as the SMTP server receives it carries that PDF; without Chromium the
command line says so in one sentence and archives nothing.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from etl.kpis import registry
from etl.reference.load import load_shipped
from etl.report.archive import pdf_file
from etl.report.config import PackConfig, load_pack_config
from etl.report.content import gather
from etl.report.figures import number_text
from etl.report.publish import PublishResult, publish_pack
from etl.report.view import View, build_view
from etl.settings import Settings
from etl.warehouse.db import make_engine, upgrade
from tests.mailserver import mail_server, plain_smtp
from tests.report import pack_month
from tests.report.chromium import ensure_chromium
from tests.report.conftest import clear, make_settings
from tests.report.pack_month import LA, MONTH, load_small_warehouse
from tests.report.test_cli_report import run
from tests.warehouse.extracts import pseudo

#: What poppler-utils' pdfinfo says of an A4 page printed by Chromium.
A4 = "594.96 x 841.92 pts (A4)"
HEAD = "Birmingham (330) · children's social care pack · March 2024"
#: Pixels per inch of a chart in the PDF: 1280 pixels (2x) across 170 mm.
CHART_PPI = 192


def poppler(*args: str) -> str:
    tool = shutil.which(args[0])
    if tool is None:
        message = f"{args[0]} is not installed (Debian's poppler-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run([tool, *args[1:]], capture_output=True, text=True, check=True)
    return done.stdout


def page_count(pdf: Path) -> int:
    match = re.search(r"^Pages:\s+(\d+)$", poppler("pdfinfo", str(pdf)), flags=re.M)
    assert match is not None
    return int(match.group(1))


def page_texts(pdf: Path, *, raw: bool = False) -> list[str]:
    """Each page's text, whitespace made single spaces.

    ``raw``: in the order Chromium drew it, which is cell by cell (the
    default reading order interleaves the wrapped lines of cells side by side).
    """
    mode = ("-raw",) if raw else ()
    return [
        single(poppler("pdftotext", *mode, "-f", str(n), "-l", str(n), str(pdf), "-"))
        for n in range(1, page_count(pdf) + 1)
    ]


def single(text: str) -> str:
    """Whitespace as single spaces, and none after a hyphen a line may break at."""
    return re.sub(r"-\s+", "-", " ".join(text.split()))


@dataclass(frozen=True)
class Printed:
    result: PublishResult
    settings: Settings
    view: View
    #: The commissioner's and the partnership's archived PDF.
    pdfs: tuple[Path, Path]


@pytest.fixture(scope="module")
def printed(pack_engine: Engine, tmp_path_factory: pytest.TempPathFactory, gx_dir: Path) -> Printed:
    ensure_chromium()
    clear(pack_engine)
    load_small_warehouse(pack_engine)
    load_shipped(pack_engine, loaded_by="test", gx_dir=gx_dir)
    settings = make_settings(tmp_path_factory.mktemp("pdf"))
    config = load_pack_config()
    result = publish_pack(pack_engine, settings, LA, MONTH, send=False, config=config)
    view = build_view(gather(pack_engine, LA, MONTH), config, suppress=False)
    commissioner, partnership = (pdf_file(Path(a.html)) for a in result.audiences)
    return Printed(result, settings, view, (commissioner, partnership))


def test_a_pdf_is_archived_beside_each_html_pack(printed: Printed) -> None:
    folder = printed.settings.reports_dir / "330" / "2024-03"
    assert sorted(p.name for p in folder.iterdir()) == [
        "benchmarks.csv",
        "commissioner-pack.html",
        "commissioner-pack.pdf",
        "kpis.csv",
        "partnership-pack.html",
        "partnership-pack.pdf",
    ]
    assert printed.pdfs == (folder / "commissioner-pack.pdf", folder / "partnership-pack.pdf")
    for pdf in printed.pdfs:
        assert pdf.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("copy", [0, 1], ids=["commissioner", "partnership"])
def test_every_page_is_a4_numbered_and_names_the_council_and_month(
    printed: Printed, copy: int
) -> None:
    pdf = printed.pdfs[copy]
    pages = page_count(pdf)
    info = poppler("pdfinfo", "-f", "1", "-l", str(pages), str(pdf))
    sizes = re.findall(r"^Page\s+\d+ size:\s+(.*)$", info, flags=re.M)
    assert sizes == [A4] * pages
    texts = page_texts(pdf)
    assert pages >= 4  # tiles, three sections, comparison, appendix, definitions
    for number, text in enumerate(texts, start=1):
        assert text.startswith(HEAD), number
        assert text.endswith(f"Page {number} of {pages}"), number


def test_the_pdf_holds_the_figures_of_kpis_csv(printed: Printed, config: PackConfig) -> None:
    with Path(printed.result.kpis_csv).open(newline="", encoding="utf-8") as handle:
        values = {row["kpi_id"]: row["value"] for row in csv.DictReader(handle)}
    texts = page_texts(printed.pdfs[0])
    measures = registry()
    # The headline tiles come first, on page 1, as the pack prints them.
    headline = [k for k in config.targets if values[k]]
    assert len(headline) == 7  # the two rates over 12 months have no earlier files
    for kpi_id in headline:
        figure = number_text(float(values[kpi_id]), measures[kpi_id].unit)
        assert re.search(rf"(?<![\d.,]){re.escape(figure)}(?![\d.,]|\d)", texts[0]), kpi_id
    # Every measure with a value is printed somewhere.
    whole = " ".join(texts)
    for kpi_id, value in values.items():
        if value:
            figure = number_text(float(value), measures[kpi_id].unit)
            assert re.search(rf"(?<![\d.,]){re.escape(figure)}(?![\d.,])", whole), kpi_id


def test_charts_are_embedded_at_full_resolution(printed: Printed) -> None:
    listing = poppler("pdfimages", "-list", str(printed.pdfs[0])).splitlines()[2:]
    images = [line.split() for line in listing if line.split()[2] == "image"]
    assert len(images) == len(printed.view.charts)
    for image in images:
        width, height, x_ppi, y_ppi = int(image[3]), int(image[4]), int(image[12]), int(image[13])
        assert (width, height) == (1280, 500)
        assert x_ppi >= CHART_PPI and y_ppi >= CHART_PPI


def test_no_table_row_is_cut_across_pages(printed: Printed) -> None:
    """Each row of the definitions (the longest table, over pages) is whole on one page."""
    texts = page_texts(printed.pdfs[0], raw=True)
    heading = "Definitions What each measure counts, with its kpi_id in kpis.csv Measure Definition"
    pages = [n for n, text in enumerate(texts, start=1) if heading in text]
    assert len(pages) == 1
    on = []
    for item in printed.view.definitions:
        row = single(f"{item.label} {item.text} {item.kpi_id}")
        found = [n for n, text in enumerate(texts, start=1) if row in text]
        assert len(found) == 1, item.kpi_id
        on.append(found[0])
    # The table starts on its heading's page and runs on over the next.
    assert on[0] == pages[0] and on == sorted(on) and on[-1] > on[0]


def test_no_identifier_reaches_a_pdf(printed: Printed) -> None:
    # The PDF's bytes are compressed: only its text can show a leak.
    identifiers = [
        *pack_month.CHILDREN,
        *(pseudo(child) for child in pack_month.CHILDREN),
        *pack_month.REFERRAL_IDS,
        *(pseudo(f"SW{post}") for post in ("P1", "P2", "P3", "P4")),
    ]
    for pdf in printed.pdfs:
        text = " ".join(page_texts(pdf))
        # The text is read: a team name is in it (a narrow column may wrap it).
        assert pack_month.SCRIPT_TEAM in "".join(text.split())
        for identifier in identifiers:
            assert identifier not in text, (pdf.name, identifier)


def test_an_unchanged_pack_keeps_its_pdf(printed: Printed, pack_engine: Engine) -> None:
    before = [pdf.read_bytes() for pdf in printed.pdfs]
    publish_pack(pack_engine, printed.settings, LA, MONTH, send=False, config=load_pack_config())
    assert [pdf.read_bytes() for pdf in printed.pdfs] == before
    assert not (printed.pdfs[0].parent / "superseded").exists()


def test_the_email_carries_the_audiences_pdf(
    small_warehouse: Engine, settings: Settings, config: PackConfig
) -> None:
    ensure_chromium()
    with mail_server() as (inbox, port):
        result = publish_pack(
            small_warehouse, settings, LA, MONTH, send=True, smtp=plain_smtp(port), config=config
        )
    assert [a.outcome for a in result.audiences] == ["sent", "sent"]
    assert len(inbox.messages) == 2
    for audience, received in zip(result.audiences, inbox.messages, strict=True):
        message = received.message
        assert message.get_content_type() == "multipart/mixed"
        body, attachment = list(message.iter_parts())
        assert body.get_content_type() == "multipart/alternative"
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_content_disposition() == "attachment"
        assert attachment.get_filename() == f"csc-pack-330-2024-03-{audience.audience}.pdf"
        assert attachment.get_payload(decode=True) == pdf_file(Path(audience.html)).read_bytes()


def small_var(tmp_path: Path) -> Path:
    """An embedded warehouse under ``tmp_path/var`` holding the hand-made month."""
    var = tmp_path / "var"
    var.mkdir()
    engine = make_engine(f"sqlite:///{var / 'warehouse.db'}")
    upgrade(engine)
    load_small_warehouse(engine)
    engine.dispose()
    return var


def test_without_chromium_the_report_says_so_and_archives_nothing(tmp_path: Path) -> None:
    var = small_var(tmp_path)
    nothing = tmp_path / "bin"
    nothing.mkdir()
    result = run(var, "--month", "2024-03", PATH=str(nothing))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "csc-pipeline: the pack's PDF copy needs headless Chromium, but no chromium command is on "
        "PATH: install Debian's chromium package (apt-get install chromium)"
    )
    assert not (var / "reports" / "330" / "2024-03").exists()


def test_a_browser_that_will_not_start_is_one_sentence(tmp_path: Path) -> None:
    # A real process on PATH under the browser's name that fails as a broken install does.
    var = small_var(tmp_path)
    folder = tmp_path / "bin"
    folder.mkdir()
    broken = folder / "chromium"
    broken.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    broken.chmod(0o755)
    result = run(var, "--month", "2024-03", PATH=str(folder))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"csc-pipeline: Chromium ({broken}) did not start: error while loading shared libraries"
    )
    assert not (var / "reports" / "330" / "2024-03").exists()
