"""axe-core in real headless Chromium: ``tests/browser/axe.mjs`` through node.

The browser is Debian's (:func:`tests.report.chromium.ensure_chromium`);
puppeteer-core and axe-core come from ``tests/browser/package-lock.json``
(``npm ci`` in ``.ci/run``; puppeteer-core never downloads a browser).
Without node or those packages the test is skipped locally and fails in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
RUNNER = BROWSER_DIR / "axe.mjs"
#: What the pack must meet: WCAG 2.0, 2.1 and 2.2 A and AA, and axe's best practice.
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")


def ensure_node() -> str:
    """node's path, with the locked packages installed; skip (fail under CI) otherwise."""
    node = shutil.which("node")
    missing = [
        name
        for name in ("puppeteer-core", "axe-core")
        if not (BROWSER_DIR / "node_modules" / name / "package.json").is_file()
    ]
    if node is None or missing:
        what = "node is not installed" if node is None else f"{', '.join(missing)} not installed"
        message = f"{what}: run `npm ci` in {BROWSER_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return node


def violations(node: str, browser: str, pages: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """axe's violations per page (by file name): id, impact, help and the nodes' selectors."""
    done = subprocess.run(
        [node, str(RUNNER), browser, *(str(p) for p in pages)],
        cwd=BROWSER_DIR,
        env={**os.environ, "AXE_TAGS": ",".join(TAGS)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"axe.mjs failed ({done.returncode}): {done.stderr}")
    found: dict[str, list[dict[str, Any]]] = json.loads(done.stdout)
    return {Path(page).name: result for page, result in found.items()}
