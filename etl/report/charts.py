"""Trend charts as PNG bytes (matplotlib, Agg): what every e-mail client shows.

PNG, not SVG: Outlook and Gmail drop SVG.  Each chart is drawn on its own
:class:`~matplotlib.figure.Figure` with the Agg canvas (no pyplot, so no
global state shared between threads or a GUI backend).  The output is
deterministic - the same chart gives the same bytes - because the PNG
carries no timestamp or software tag, so re-rendering an unchanged pack
archives identical files.  Colours are the Okabe-Ito palette, which
colour-blind readers can tell apart; lines also differ in marker.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from etl.report.figures import number_text
from etl.report.trends import Chart

#: Pixel size of a chart as the e-mail lays it out; drawn at 2x for sharp screens.
WIDTH_PX = 640
HEIGHT_PX = 250
_SCALE = 2
_DPI = 100

_LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
_MARKERS = ("o", "s", "^", "D")
_BAR_COLOUR = "#A6BDD7"
_TARGET_COLOUR = "#333333"
_TEXT = "#1F2933"
_GRID = "#D9DEE3"


@lru_cache(maxsize=32)
def render_png(chart: Chart) -> bytes:
    """``chart`` as PNG bytes, ``WIDTH_PX`` x ``HEIGHT_PX`` at twice the pixel density.

    Cached: a month published again (a re-run, the next audience) draws
    nothing twice; a chart is its data, so equal charts give equal bytes.
    """
    figure = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(chart.months)))
    lines = 0
    for series in chart.series:
        values = [math.nan if v is None else v for v in series.values]
        if series.kind == "bar":
            axes.bar(positions, values, color=_BAR_COLOUR, width=0.7, label=series.label)
        elif series.kind == "target":
            axes.plot(
                positions,
                values,
                color=_TARGET_COLOUR,
                linestyle=(0, (4, 3)),
                linewidth=1.2,
                label=series.label,
            )
        else:
            axes.plot(
                positions,
                values,
                color=_LINE_COLOURS[lines % len(_LINE_COLOURS)],
                marker=_MARKERS[lines % len(_MARKERS)],
                markersize=3,
                linewidth=1.8,
                label=series.label,
            )
            lines += 1
    if all(v is None for s in chart.series for v in s.values):
        axes.text(0.5, 0.5, "not available", transform=axes.transAxes, ha="center", color=_TEXT)
    _style(axes, chart)
    figure.legend(
        loc="outside lower center",
        ncol=len(chart.series),
        frameon=False,
        fontsize=8,
        labelcolor=_TEXT,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI * _SCALE, metadata={"Software": None})
    return buffer.getvalue()


def _style(axes: Axes, chart: Chart) -> None:
    if chart.axis == "year":
        ticks = list(range(len(chart.months)))
        axes.set_xticks(ticks)
        axes.set_xticklabels(list(chart.months))
    else:
        ticks = list(range(0, len(chart.months), 3))
        axes.set_xticks(ticks)
        # "Apr 2023" -> "Apr 23": a 24-month axis has room for short labels only.
        axes.set_xticklabels([f"{chart.months[i][:3]} {chart.months[i][-2:]}" for i in ticks])
    axes.set_xlim(-0.7, len(chart.months) - 0.3)
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=chart.unit == "count"))
    unit = chart.unit
    if unit == "percent":
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 100:.0f}%"))
    else:
        axes.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _pos: number_text(v, "count") if v == int(v) else f"{v:g}")
        )
    axes.tick_params(colors=_TEXT, labelsize=8, length=0)
    axes.grid(axis="y", color=_GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(_GRID)


def render_all(charts: tuple[Chart, ...]) -> dict[str, bytes]:
    """Every chart of a view, by key."""
    return {chart.key: render_png(chart) for chart in charts}
