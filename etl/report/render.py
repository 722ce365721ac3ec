"""The pack as HTML (CSS inlined) and plain text, from the templates in ``reports/``.

Two Jinja2 environments, both with ``StrictUndefined`` (a misspelt field is
an error, not an empty cell):

* HTML with ``autoescape=True`` set explicitly - ``select_autoescape`` keys
  on file extensions and would leave ``*.html.j2`` unescaped - so a team
  named ``<script>`` arrives as text.  Only the project's own stylesheet is
  marked safe.
* plain text with autoescape off (escaping would print ``&amp;``).

After rendering, css-inline copies every rule of ``pack.css`` into ``style``
attributes (what Outlook and Gmail honour) and keeps only its ``@media``
rules in a ``<style>`` block; it never fetches anything.  ``pack-base.css``
(the type and table rules every cell shares) then goes into the ``<head>``
as it is, never inlined: repeated on every cell it would double the
e-mail's HTML part, which must stay under Gmail's ~102 KB clip.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from etl.report.figures import Shown
from etl.report.tables import Table
from etl.report.view import Section, View

#: The package holding the pack templates and stylesheet: the repository's
#: ``reports/``, mapped into the wheel (pyproject.toml), so this is that folder
#: in a checkout and ``site-packages/etl/_reports`` in an installed wheel.
TEMPLATES_PACKAGE = "etl._reports"
TEMPLATES_DIR = Path(str(resources.files(TEMPLATES_PACKAGE)))
HTML_TEMPLATE = "pack.html.j2"
TEXT_TEMPLATE = "pack.txt.j2"
STYLESHEET = "pack.css"
BASE_STYLESHEET = "pack-base.css"


@cache
def html_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def text_environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=False,  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.globals.update(
        text_table=text_table, section_rows=section_rows, table_rows=table_rows
    )
    return environment


@cache
def _stylesheet(name: str = STYLESHEET) -> Markup:
    # The project's own file, not data: the one thing the template prints unescaped.
    css = resources.files(TEMPLATES_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return Markup(css)  # noqa: S704


@cache
def _base_block() -> str:
    """``pack-base.css`` as a ``<style>`` block, comments and line breaks dropped."""
    css = re.sub(r"/\*.*?\*/", "", str(_stylesheet(BASE_STYLESHEET)), flags=re.S)
    return "<style>" + " ".join(css.split()) + "</style>"


def _inliner() -> css_inline.CSSInliner:
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, minify_css=True)


def render_html(view: View, chart_src: Mapping[str, str], *, correction: str | None = None) -> str:
    """The pack as one HTML document with inline styles.

    ``chart_src`` gives each chart's ``src``: a ``data:`` URI for the archive,
    ``cid:`` for the e-mail.  ``correction``: the date the replaced pack was
    sent, to mark this one as its correction.
    """
    template = html_environment().get_template(HTML_TEMPLATE)
    html = template.render(pack=view, chart_src=chart_src, correction=correction, css=_stylesheet())
    inlined: str = _inliner().inline(html)
    # After inlining, so css-inline leaves these rules to the <head> alone.
    head, end, body = inlined.partition("</head>")
    if not end:  # pragma: no cover - the template always has a <head>
        raise RuntimeError(f"{HTML_TEMPLATE}: no </head> in the rendered pack")
    return head + _base_block() + end + body


def render_text(view: View, *, correction: str | None = None) -> str:
    """The plain-text alternative of the pack e-mail."""
    template = text_environment().get_template(TEXT_TEMPLATE)
    return template.render(pack=view, correction=correction)


def data_uris(charts: Mapping[str, bytes]) -> dict[str, str]:
    """Each chart as a ``data:`` URI: the archived pack opens offline."""
    return {
        key: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        for key, png in charts.items()
    }


# --- plain-text tables -----------------------------------------------------------------


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]
) -> str:
    """Rows as aligned columns (figures right-aligned), for the text e-mail."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def section_rows(section: Section) -> list[list[str]]:
    return [
        [
            row.label,
            row.figure.text,
            row.previous.text,
            row.target.removeprefix("Target "),
            row.england.removeprefix("England "),
        ]
        for row in section.rows
    ]


def table_rows(table: Table) -> list[list[str]]:
    return [[_cell(shown) for shown in row] for row in table.rows]


def _cell(shown: Shown) -> str:
    return shown.text
