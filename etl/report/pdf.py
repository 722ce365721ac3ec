"""The pack as a PDF: the archived HTML printed to A4 by headless Chromium.

Chromium (Debian's ``chromium`` package, found on ``PATH``) is driven over
the DevTools protocol (a websocket) because only ``Page.printToPDF`` takes
header and footer templates: the council, LA code and month run at the top
of every page and "Page N of M" at the foot.  The HTML is the archived one
with ``reports/print.css`` added (the A4 page, and no break inside a table
row, chart or tile).  A browser takes about a second to start and its first
print is slow, so a process keeps one (:func:`print_pdfs`): started on first
use, reused by every later publish in the process (the demo publishes 36
months in one), started again if it died, shut down at exit.  A publish's
copies print side by side, a tab each.  docs/pdf.md says why Chromium
rather than WeasyPrint.
"""

from __future__ import annotations

import atexit
import base64
import html
import itertools
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

from websockets.exceptions import WebSocketException
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect

from etl.errors import ConfigError, CscError

#: The names Debian (and Ubuntu) give the browser's command.
BROWSERS = ("chromium", "chromium-browser")
PRINT_STYLESHEET = "print.css"
#: A4 in inches, what printToPDF measures paper in.
A4_INCHES = (8.27, 11.69)
#: Seconds for the browser to start, and for one page to load and print.
START_TIMEOUT = 30.0
PRINT_TIMEOUT = 120.0
#: Seconds to wait for a closed browser's helpers to leave its profile.
PROFILE_TIMEOUT = 10.0
#: A quiet, offline, throw-away browser (no sandbox: workers may run as root).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    # Containers give /dev/shm 64 MB, too little for a long page: use /tmp.
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
)
_RUNNING = "font-family: Arial, Helvetica, sans-serif; font-size: 8pt; color: #52606d;"
_BAND = f"{_RUNNING} width: 100%; margin: 0 15mm; display: flex; justify-content: space-between;"


class PdfFailed(CscError):
    """Chromium was found but did not start or did not print the pack."""


def find_browser() -> str:
    """The Chromium command on ``PATH``; a missing one is a configuration error."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "the pack's PDF copy needs headless Chromium, but no chromium command is on PATH: "
        "install Debian's chromium package (apt-get install chromium)"
    )


def print_stylesheet() -> str:
    """``reports/print.css``: the A4 page and where pages may not break."""
    # The templates' package (etl._reports): the checkout's reports/ or the wheel's copy.
    return resources.files("etl._reports").joinpath(PRINT_STYLESHEET).read_text(encoding="utf-8")


def with_print_css(document: str) -> str:
    """The pack's HTML with the print stylesheet as the last rule of its head."""
    style = f"<style>{print_stylesheet()}</style>"
    head_end = document.find("</head>")
    if head_end < 0:
        return style + document
    return document[:head_end] + style + document[head_end:]


def running_head(council: str, la_code: str, month_name: str) -> str:
    """The line at the top of every page: which council's pack, and which month."""
    return f"{council} ({la_code}) · children's social care pack · {month_name}"


#: One print: the whole HTML document, and the running head atop its pages.
Job = tuple[str, str]


@dataclass(frozen=True)
class _Tab:
    """A page kept open in the browser, reused print after print."""

    target: str
    session: str
    frame: str


class Printer:
    """One headless Chromium that prints packs to PDF; use it as a context manager.

    Not thread-safe (one DevTools connection): :func:`print_pdfs` shares one
    per process behind a lock.
    """

    def __init__(self) -> None:
        self._browser = find_browser()
        self._profile: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: ClientConnection | None = None
        self._ids = itertools.count(1)
        #: Answers read while waiting for another (several prints run at once).
        self._answers: dict[int, dict[str, Any]] = {}
        self._tabs: list[_Tab] = []
        #: The process that started the browser: a forked child must not use it.
        self._pid = os.getpid()

    def __enter__(self) -> Self:
        try:
            self._start()
        except (OSError, TimeoutError, WebSocketException) as exc:
            self.close()
            raise PdfFailed(f"Chromium ({self._browser}) did not start: {exc}") from None
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        """Whether the browser runs, its connection is open, and it is this process's."""
        return (
            self._pid == os.getpid()
            and self._process is not None
            and self._process.poll() is None
            and self._socket is not None
            and self._socket.state is State.OPEN
        )

    def print_pdf(self, document: str, head: str) -> bytes:
        """``document`` (a whole HTML page) as A4 PDF bytes, ``head`` atop every page."""
        return self.print_pdfs([(document, head)])[0]

    def print_pdfs(self, jobs: Sequence[Job]) -> list[bytes]:
        """Each ``(document, head)`` as A4 PDF bytes, printed side by side, a tab each.

        The tabs stay open for the next call; the browser's renderers lay out
        and print the documents at the same time (one per core).
        """
        try:
            return self._print([(with_print_css(document), head) for document, head in jobs])
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise PdfFailed(f"Chromium ({self._browser}) did not print the pack: {exc}") from None

    def close(self) -> None:
        if self._pid != os.getpid():
            return  # the parent's browser (this is a fork): the parent shuts it down
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._tabs.clear()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._profile is not None:
            _remove(self._profile)
            self._profile = None

    def _start(self) -> None:
        # A profile of its own: two publishers at once never share a browser.
        self._profile = profile = Path(tempfile.mkdtemp(prefix="csc-chromium-"))
        # The browser writes its DevTools port to this file once it listens.
        port_file = profile / "DevToolsActivePort"
        log = (profile / "stderr.log").open("wb")
        command = [self._browser, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        with log:
            self._process = _launch(command, log)
        deadline = time.monotonic() + START_TIMEOUT
        while not _complete(port_file):
            if self._process.poll() is not None or time.monotonic() > deadline:
                said = (profile / "stderr.log").read_text("utf-8", "replace").strip()
                last = said.splitlines()[-1] if said else "no message"
                raise PdfFailed(f"Chromium ({self._browser}) did not start: {last}")
            time.sleep(0.05)
        port, path = port_file.read_text(encoding="utf-8").split("\n")[:2]
        self._socket = connect(
            f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=START_TIMEOUT
        )

    def _print(self, jobs: Sequence[Job]) -> list[bytes]:
        while len(self._tabs) < len(jobs):
            self._tabs.append(self._open_tab())
        tabs = self._tabs[: len(jobs)]
        # Each step is sent to every tab before any answer is awaited, so the
        # tabs' renderers work at once; a step waits for the one before it.
        self._all(
            ("Page.setDocumentContent", tab.session, {"frameId": tab.frame, "html": document})
            for tab, (document, _head) in zip(tabs, jobs, strict=True)
        )
        # Charts are data: URIs; printing before they are decoded would leave gaps.
        self._all(("Runtime.evaluate", tab.session, _DECODED) for tab in tabs)
        printed = self._all(
            ("Page.printToPDF", tab.session, _print_params(head))
            for tab, (_document, head) in zip(tabs, jobs, strict=True)
        )
        return [base64.b64decode(answer["data"]) for answer in printed]

    def _open_tab(self) -> _Tab:
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        frame = self._call("Page.getFrameTree", session)["frameTree"]["frame"]["id"]
        return _Tab(target, session, frame)

    def _call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and wait for its answer."""
        result: dict[str, Any] = self._all([(method, session, params)])[0]
        return result

    def _all(self, commands: Iterable[tuple[str, str | None, dict[str, Any]]]) -> list[Any]:
        """Send every command, then wait for each answer (events are skipped)."""
        if self._socket is None:
            raise PdfFailed("the Printer is used outside its with block")
        sent = []
        for method, session, params in commands:
            number = next(self._ids)
            message: dict[str, Any] = {"id": number, "method": method, "params": params}
            if session is not None:
                message["sessionId"] = session
            self._socket.send(json.dumps(message))
            sent.append((number, method))
        deadline = time.monotonic() + PRINT_TIMEOUT
        results = []
        for number, method in sent:
            while number not in self._answers:
                answer = json.loads(
                    self._socket.recv(timeout=max(0.0, deadline - time.monotonic()))
                )
                if "id" in answer:
                    self._answers[answer["id"]] = answer
            answer = self._answers.pop(number)
            if "error" in answer:
                said = answer["error"].get("message", "no message")
                raise PdfFailed(f"Chromium ({self._browser}) refused {method}: {said}")
            results.append(answer["result"])
        return results


_DECODED = {
    "expression": "Promise.all([document.fonts.ready,"
    " ...Array.from(document.images, image => image.decode())])",
    "awaitPromise": True,
}


def _print_params(head: str) -> dict[str, Any]:
    """``Page.printToPDF``'s parameters: A4, backgrounds, the running head and page numbers."""
    text = html.escape(head)
    return {
        "paperWidth": A4_INCHES[0],
        "paperHeight": A4_INCHES[1],
        "preferCSSPageSize": True,
        "printBackground": True,
        "displayHeaderFooter": True,
        "headerTemplate": f'<div style="{_BAND}"><span>{text}</span></div>',
        "footerTemplate": f'<div style="{_BAND}"><span></span><span>Page '
        '<span class="pageNumber"></span> of <span class="totalPages"></span>'
        "</span></div>",
    }


# --- the process's browser --------------------------------------------------------------

_lock = threading.Lock()
_shared: Printer | None = None
#: The processes that have registered the exit handler (a fork registers its own).
_registered: set[int] = set()


def print_pdfs(jobs: Sequence[Job]) -> list[bytes]:
    """Each ``(document, head)`` as A4 PDF bytes, by this process's browser.

    The browser is started on first use and kept: later publishes in the
    process skip its start and its slow first print.  One that died (or was
    inherited through a fork) is replaced; a print that fails in a browser
    kept from before is tried once more in a new one, so only a browser that
    cannot print the pack raises :class:`PdfFailed`.  Thread-safe: prints
    take turns.
    """
    global _shared
    if not jobs:
        return []
    with _lock:
        for attempt in (1, 2):
            kept = _shared is not None and _shared.alive
            if not kept:
                _discard()
                _shared = Printer().__enter__()
                if os.getpid() not in _registered:
                    _registered.add(os.getpid())
                    atexit.register(shutdown)
            printer = _shared
            if printer is None:  # pragma: no cover - set just above
                raise RuntimeError("no browser after starting one")
            try:
                return printer.print_pdfs(jobs)
            except PdfFailed:
                # Not trusted for the next print either: a half-done print may linger.
                _discard()
                if not kept or attempt == 2:
                    raise
            except BaseException:
                _discard()
                raise
        raise RuntimeError("unreachable")  # pragma: no cover


def shutdown() -> None:
    """Close this process's browser, if it started one (run at exit)."""
    with _lock:
        _discard()


def _discard() -> None:
    global _shared
    if _shared is not None:
        _shared.close()  # does nothing in a fork: the browser is the parent's
        _shared = None


def _forked() -> None:
    """In a forked child: none of the parent's browser or threads, and free locks."""
    global _lock, _shared, _launcher_lock, _requests
    _lock, _launcher_lock = threading.Lock(), threading.Lock()
    _shared, _requests = None, None


os.register_at_fork(after_in_child=_forked)


# --- starting browsers ---------------------------------------------------------------------

#: A browser to start: its command, its stderr, and where to put the process.
_Request = tuple[list[str], BinaryIO, "queue.SimpleQueue[Any]"]
_launcher_lock = threading.Lock()
_requests: queue.SimpleQueue[_Request] | None = None


def _launch(command: list[str], log: BinaryIO) -> subprocess.Popen[bytes]:
    """Start ``command`` (the browser) so that it cannot outlive this process.

    Kept for the process's life, the browser must not be left running by a
    process killed without its exit handlers (SIGKILL, ``os._exit``):
    ``setpriv --pdeathsig`` (util-linux) has the kernel send it SIGTERM when
    its parent goes.  The kernel means the parent *thread*, so every browser
    is started by one thread that lives as long as the process; a publish
    in a short-lived thread would otherwise take its browser with it.
    """
    global _requests
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return _popen(command, log)
    with _launcher_lock:
        if _requests is None:
            _requests = queue.SimpleQueue()
            threading.Thread(
                target=_serve, args=(_requests,), name="csc-chromium-launcher", daemon=True
            ).start()
        requests = _requests
    reply: queue.SimpleQueue[Any] = queue.SimpleQueue()
    requests.put(([setpriv, "--pdeathsig", "TERM", *command], log, reply))
    started = reply.get()
    if isinstance(started, BaseException):
        raise started
    process: subprocess.Popen[bytes] = started
    return process


def _serve(requests: queue.SimpleQueue[_Request]) -> None:
    while True:
        command, log, reply = requests.get()
        try:
            reply.put(_popen(command, log))
        except Exception as exc:  # the caller raises it
            reply.put(exc)


def _popen(command: list[str], log: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - the browser found on PATH
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
    )


def _remove(profile: Path) -> None:
    """Delete a browser's profile, waiting for its helpers to stop writing there.

    The browser's own process has ended, but its crash handler and zygote can
    still be writing into the profile for a moment; one ``rmtree`` then fails
    with "directory not empty" and would leave the profile in ``/tmp``.
    """
    deadline = time.monotonic() + PROFILE_TIMEOUT
    while True:
        shutil.rmtree(profile, ignore_errors=True)
        if not profile.exists() or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _complete(port_file: Path) -> bool:
    """Whether the browser has written both lines (port, path) of its port file."""
    try:
        lines = port_file.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        return False
    return len(lines) >= 2 and lines[0].isdigit() and lines[1].startswith("/devtools/")
