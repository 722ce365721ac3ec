"""The archived pack rendered by a real browser: it opens offline, lays out, shows the figures.

Headless Chromium takes a screenshot (1200 x 3000) of commissioner-pack.html
from the hand-made warehouse; the PNG must be that size, not blank, with the
680-pixel page centred (the table layout held) and the RAG tiles coloured.
The browser's own DOM must hold the key figures and the hostile team name as
text.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from sqlalchemy.engine import Engine

from etl.reference.load import load_shipped
from etl.report.config import load_pack_config
from etl.report.publish import publish_pack
from etl.warehouse.db import make_engine, upgrade
from tests.report.chromium import dump_dom, ensure_chromium, screenshot
from tests.report.conftest import make_settings
from tests.report.htmltext import read
from tests.report.pack_month import LA, MONTH, SCRIPT_TEAM, load_small_warehouse

WIDTH, HEIGHT, PAGE = 1200, 3000, 680


@pytest.fixture(scope="module")
def browser() -> str:
    return ensure_chromium()


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory, gx_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("screenshot")
    engine: Engine = make_engine(f"sqlite:///{folder / 'warehouse.db'}")
    upgrade(engine)
    load_small_warehouse(engine)
    load_shipped(engine, loaded_by="test", gx_dir=gx_dir)
    result = publish_pack(
        engine, make_settings(folder), LA, MONTH, send=False, config=load_pack_config()
    )
    engine.dispose()
    return Path(result.html)


def colour(hex_code: str) -> np.ndarray:
    return np.array([int(hex_code[i : i + 2], 16) / 255 for i in (1, 3, 5)])


def near(pixels: np.ndarray, hex_code: str) -> np.ndarray:
    return np.all(np.abs(pixels[..., :3] - colour(hex_code)) < 0.03, axis=-1)


def test_screenshot_shows_the_laid_out_pack(browser: str, pack: Path, tmp_path: Path) -> None:
    png = screenshot(browser, pack, tmp_path / "pack.png", tmp_path / "profile")
    pixels = image.imread(png)
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    assert float(pixels[..., :3].std()) > 0.05, "the page is blank"
    # The masthead: dark blue across exactly the 680-pixel page, centred in the
    # window less its scroll bar (nothing in the pack pushed the table wider).
    columns = np.flatnonzero(near(pixels[30], "#1d3557"))
    assert abs((columns.max() - columns.min() + 1) - PAGE) <= 2
    assert abs(columns.min() - (WIDTH - PAGE) // 2) <= 20
    assert near(pixels[30, :100], "#eef1f4").all(), "the page background either side"
    # Red and green tiles are drawn (the colours, and the words beside them).
    assert near(pixels, "#fbe1e0").sum() > 5000
    assert near(pixels, "#e3f1e5").sum() > 5000
    # Charts are drawn from the embedded PNGs (no network): their first line's blue shows.
    assert near(pixels, "#0072b2").sum() > 50


def test_browser_dom_has_the_figures_and_no_script(
    browser: str, pack: Path, tmp_path: Path
) -> None:
    dom = dump_dom(browser, pack, tmp_path / "profile")
    for figure in ("37.5%", "28.6%", "21.4", "By month: Jan 2024 1 · Feb 2024 0 · Mar 2024 5"):
        assert figure in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script" not in dom.lower()
    assert SCRIPT_TEAM not in dom


def test_how_we_compare_renders_with_its_charts(browser: str, pack: Path, tmp_path: Path) -> None:
    """The section as the browser built it: the table, the neighbours, four charts."""
    dom = dump_dom(browser, pack, tmp_path / "profile")
    assert "How we compare" in dom
    # Birmingham at 30 September 2023 (DfE): vacancy 26.7%, England 18.9%; rank of 151.
    assert "26.7%" in dom and "18.9%" in dom and " of 151" in dom
    assert "Nottingham (very close)" in dom
    charts = re.findall(
        r'<img[^>]+alt="(Average caseload|Vacancy rate|Agency worker rate|'
        r"Turnover rate) by year",
        dom,
    )
    assert sorted(charts) == [
        "Agency worker rate",
        "Average caseload",
        "Turnover rate",
        "Vacancy rate",
    ]
    # Each chart the browser decoded draws its three lines: the LA (blue), the
    # neighbours' median (vermilion), England (green).
    sources = [
        str(attrs["src"]).removeprefix("data:image/png;base64,")
        for tag, attrs in read(dom).tags
        if tag == "img" and " by year" in str(attrs.get("alt"))
    ]
    assert len(sources) == 4
    for source in sources:
        pixels = image.imread(io.BytesIO(base64.b64decode(source)), format="png")
        for line in ("#0072b2", "#d55e00", "#009e73"):
            assert near(pixels, line).sum() > 100, line
