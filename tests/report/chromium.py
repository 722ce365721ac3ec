"""Headless Chromium (Debian's ``chromium``): installed when missing, then used to render a pack."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

#: Flags for a quiet, offline, throw-away browser (no sandbox: tests may run as root).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _found() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def ensure_chromium() -> str:
    """The browser's path; installs Debian's package when missing and allowed.

    Without it the test is skipped locally and fails in CI.
    """
    found = _found()
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "chromium"],
        ):
            subprocess.run(command, env=environment, capture_output=True, timeout=1200, check=False)
        found = _found()
    if found is None:
        message = "chromium is not installed and could not be installed (apt-get, as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=180,
        check=True,
    )


def screenshot(browser: str, page: Path, png: Path, profile: Path, size: str = "1200,3000") -> Path:
    """``page`` rendered to ``png`` at window ``size`` (width,height)."""
    _run(browser, profile, f"--screenshot={png}", f"--window-size={size}", page.as_uri())
    return png


def dump_dom(browser: str, page: Path, profile: Path) -> str:
    """The document as the browser built it (after parsing, as a reader's client would)."""
    return _run(browser, profile, "--dump-dom", page.as_uri()).stdout.decode("utf-8")
