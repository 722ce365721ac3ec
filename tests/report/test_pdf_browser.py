"""The process's browser (``etl.report.pdf.print_pdfs``), with real headless Chromium.

It is started once and kept, so these check what keeping it must not change
or leak: its PDFs are those a browser of their own prints, side by side and
in tabs used before (but for the print's timestamp, and the numbers a tab
gives its nodes, which go on from one document to the next and name the
tagged PDF's structure elements); a browser that
died is replaced; threads take turns; a forked child starts its own and
leaves the parent's alone; a process that printed leaves no browser behind,
whether it exits normally or is killed.  The documents are the two archived
copies of the hand-made month (SQLite: the warehouse is not what is tested).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from etl.report import pdf
from etl.report.publish import publish_pack
from etl.warehouse.db import make_engine, upgrade
from tests.report.chromium import ensure_chromium
from tests.report.conftest import make_settings
from tests.report.pack_month import LA, MONTH, load_small_warehouse
from tests.report.test_pdf import page_texts

HEADS = ("Birmingham (330) · pack · March 2024", "Partnership <copy> & head")
_DATES = re.compile(rb"/(CreationDate|ModDate) \(D:[^)]*\)")
_NODES = re.compile(rb"\(node(\d+)\)")


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The commissioner's and the partnership's archived HTML."""
    ensure_chromium()
    folder = tmp_path_factory.mktemp("browser")
    engine = make_engine(f"sqlite:///{folder / 'warehouse.db'}")
    upgrade(engine)
    load_small_warehouse(engine)
    result = publish_pack(engine, make_settings(folder), LA, MONTH, send=False)
    engine.dispose()
    return [Path(a.html).read_text(encoding="utf-8") for a in result.audiences]


@pytest.fixture
def no_kept_browser() -> Iterator[None]:
    pdf.shutdown()
    yield
    pdf.shutdown()


def comparable(document: bytes) -> bytes:
    """The PDF without the two timestamps Chromium stamps every print with, and
    its structure elements' node numbers renumbered in order of appearance
    (so a header cell and the cells that name it still match)."""
    stripped, found = _DATES.subn(b"", document)
    assert found == 2
    numbers: dict[bytes, int] = {}

    def renumber(match: re.Match[bytes]) -> bytes:
        return b"(node %d)" % numbers.setdefault(match.group(1), len(numbers))

    renumbered = _NODES.sub(renumber, stripped)
    assert numbers  # a tagged PDF: the comparison covers its structure
    return renumbered


def browsers(parent: psutil.Process | None = None) -> list[psutil.Process]:
    """The browsers (not their helpers) started by ``parent`` (this process)."""
    found = []
    for child in (parent or psutil.Process()).children(recursive=True):
        try:
            line = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if any("csc-chromium-" in a for a in line) and not any(
            a.startswith("--type=") for a in line
        ):
            found.append(child)
    return found


def read(document: bytes, tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / name
    path.write_bytes(document)
    return page_texts(path)


def test_the_kept_browser_prints_what_a_browser_of_its_own_prints(
    documents: list[str], no_kept_browser: None
) -> None:
    own = []
    for document, head in zip(documents, HEADS, strict=True):
        with pdf.Printer() as printer:
            own.append(printer.print_pdf(document, head))
    side_by_side = pdf.print_pdfs(list(zip(documents, HEADS, strict=True)))
    # The same tabs again, each now given the other's document.
    swapped = pdf.print_pdfs(list(zip(documents[::-1], HEADS[::-1], strict=True)))[::-1]
    alone = [pdf.print_pdfs([(documents[1], HEADS[1])])[0]]
    for copy in (side_by_side, swapped):
        assert [comparable(d) for d in copy] == [comparable(d) for d in own]
    assert comparable(alone[0]) == comparable(own[1])
    assert own[0] != own[1]
    assert len(browsers()) == 1  # three calls, one browser


def test_a_browser_that_died_is_replaced(
    documents: list[str], no_kept_browser: None, tmp_path: Path
) -> None:
    pdf.print_pdfs([(documents[0], HEADS[0])])
    (first,) = browsers()
    first.kill()
    first.wait(10)
    printed = pdf.print_pdfs([(documents[0], HEADS[0])])[0]
    (second,) = browsers()
    assert second.pid != first.pid
    assert read(printed, tmp_path, "after.pdf")[0].startswith(HEADS[0])


def test_prints_from_threads_take_turns(
    documents: list[str], no_kept_browser: None, tmp_path: Path
) -> None:
    heads = [f"Thread {n}" for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        printed = list(pool.map(lambda h: pdf.print_pdfs([(documents[0], h)])[0], heads))
    for n, (document, head) in enumerate(zip(printed, heads, strict=True)):
        assert read(document, tmp_path, f"{n}.pdf")[0].startswith(head)
    assert len(browsers()) == 1


def test_a_fork_prints_with_a_browser_of_its_own(
    documents: list[str], no_kept_browser: None, tmp_path: Path
) -> None:
    pdf.print_pdfs([(documents[0], HEADS[0])])
    (parents,) = browsers()
    out = tmp_path / "child.pdf"
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is its exit status and file
        status = 1
        try:
            out.write_bytes(pdf.print_pdfs([(documents[1], HEADS[1])])[0])
            mine = browsers()
            status = 0 if [b.pid for b in mine] != [parents.pid] and len(mine) == 1 else 3
        finally:
            pdf.shutdown()
            os._exit(status)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert read(out.read_bytes(), tmp_path, "copy.pdf")[0].startswith(HEADS[1])
    # The parent's browser is untouched by the child's start and shutdown.
    assert [b.pid for b in browsers()] == [parents.pid]
    assert read(pdf.print_pdfs([(documents[0], HEADS[0])])[0], tmp_path, "p.pdf")[0]


#: A process that prints, says its browser's pid and profile, then ends as told.
_PRINTER = """
import os, signal, sys, time
import psutil
from etl.report.pdf import print_pdfs
print_pdfs([("<!doctype html><title>t</title><p>Hello</p>", "head")])
(browser,) = [c for c in psutil.Process().children() if "csc-chromium-" in " ".join(c.cmdline())]
profile = [a for a in browser.cmdline() if a.startswith("--user-data-dir=")][0].split("=", 1)[1]
print(browser.pid, profile, flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("end", ["exit", "kill"])
def test_a_process_that_printed_leaves_no_browser_behind(end: str) -> None:
    ensure_chromium()
    done = subprocess.run(
        [sys.executable, "-c", _PRINTER, end], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == (-signal.SIGKILL if end == "kill" else 0), done.stderr
    pid, profile = done.stdout.split()
    deadline = time.monotonic() + 15
    while psutil.pid_exists(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not psutil.pid_exists(int(pid))
    if end == "exit":
        assert not Path(profile).exists()
    else:  # killed, it could not tidy its profile; the browser went all the same
        shutil.rmtree(profile, ignore_errors=True)
