"""GX Data Docs: a page per kept validation result, rendered once, every link of the index whole."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from etl.reader import read_extract
from etl.validation import build_data_docs, check, working_project
from tests.conftest import WriteExtract, row


def _linked_pages(index: Path) -> set[Path]:
    """The site's own pages the index links to (validation results sit in its table's data)."""
    links = re.findall(r"(?:expectations|validations)/[^\"'\s]+\.html", index.read_text("utf-8"))
    return {(index.parent / link).resolve() for link in links}


def _result_pages(site: Path) -> dict[Path, int]:
    return {page: page.stat().st_mtime_ns for page in (site / "validations").rglob("*.html")}


def test_each_result_gets_its_page_once_and_the_index_links_them_all(
    tmp_path: Path, gx_dir: Path, write_extract: WriteExtract
) -> None:
    project = working_project(tmp_path / "gx", gx_dir)
    shutil.rmtree(project / "gx" / "uncommitted", ignore_errors=True)
    good = read_extract(write_extract("workforce"))
    bad = read_extract(write_extract("referrals", [row("referrals", sex="Q")]))
    check(good, gx_dir=project)
    check(bad, gx_dir=project)

    index = build_data_docs(project)

    site = index.parent
    first = _result_pages(site)
    assert len(first) == 2
    suites = {site / "expectations" / f"{name}.json" for name in ("workforce", "referrals")}
    assert {p.with_suffix(".json") for p in (site / "expectations").glob("*.html")} >= suites
    linked = _linked_pages(index)
    assert {p.resolve() for p in first} <= linked
    assert all(page.exists() for page in linked)

    check(good, gx_dir=project)
    build_data_docs(project)

    second = _result_pages(site)
    assert len(second) == 3
    assert {page: second[page] for page in first} == first  # not rendered again
    linked = _linked_pages(index)
    assert {p.resolve() for p in second} <= linked
    assert all(page.exists() for page in linked)
