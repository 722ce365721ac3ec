"""csc-pipeline as a real package: its files ship in the wheel, and runs never write into them.

The wheel itself is built, installed into a fresh venv and run by
``.ci/wheel-smoke`` (from ``.ci/run``): too slow for a test.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

from etl.orchestration.local import DAGS_FOLDER
from etl.report.render import TEMPLATES_DIR
from etl.validation import DEFAULT_GX_DIR

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("csc-pipeline")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
#: What a run must leave as it is: the package and the folders mapped into it.
PACKAGE_FOLDERS = ("etl", "dags", "expectations", "reports")


def test_every_package_is_listed() -> None:
    """``packages`` is a list (package-dir needs one): a new subpackage must be added to it."""
    found = find_packages(where=str(REPO), include=["etl", "etl.*"])
    mapped = SETUPTOOLS["package-dir"]
    assert sorted(SETUPTOOLS["packages"]) == sorted([*found, *mapped])
    for package, folder in mapped.items():
        # A regular package: setuptools' editable finder cannot map a namespace one.
        assert (REPO / folder / "__init__.py").is_file(), package


def test_the_packaged_folders_are_the_repository_folders() -> None:
    """In the editable install (make install), importlib.resources finds the checkout's folders."""
    mapped = SETUPTOOLS["package-dir"]
    assert REPO / mapped["etl._dags"] == DAGS_FOLDER
    assert REPO / mapped["etl._reports"] == TEMPLATES_DIR
    assert REPO / mapped["etl._expectations"] == DEFAULT_GX_DIR


def test_every_committed_gx_file_is_package_data() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "expectations", "reports"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    data = SETUPTOOLS["package-data"]
    shipped = {
        f"{folder}/{path.relative_to(REPO / folder)}"
        for folder, package in (("expectations", "etl._expectations"), ("reports", "etl._reports"))
        for pattern in data[package]
        for path in (REPO / folder).glob(pattern)
    }
    assert {name for name in tracked if not name.endswith("/__init__.py")} <= shipped


def _snapshot() -> dict[str, str]:
    files = {}
    for folder in PACKAGE_FOLDERS:
        for path in sorted((REPO / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[str(path.relative_to(REPO))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CSC_VAR_DIR": str(cwd / "var"), "CSC_PSEUDONYM_KEY": "k" * 32}
    environment.pop("CSC_WAREHOUSE_URL", None)
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_validate_and_ingest_write_nothing_into_the_package(tmp_path: Path) -> None:
    before = _snapshot()
    assert run("init", cwd=tmp_path).returncode == 0
    sample = run("sample-data", "--out", "s", "--months", "1", "--start", "2024-01", cwd=tmp_path)
    assert sample.returncode == 0, sample.stderr
    files = sorted(map(str, (tmp_path / "s").iterdir()))
    checked = run("validate", *files, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    loaded = run("ingest", *files, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert _snapshot() == before
    # The results went to the working project under CSC_VAR_DIR instead.
    assert list((tmp_path / "var" / "gx" / "gx" / "uncommitted" / "validations").rglob("*.json"))
