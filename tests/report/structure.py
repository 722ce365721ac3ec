"""The pack's structure as a reader's assistive technology meets it, checked rule by rule.

A small element tree of a rendered pack (standard library parser) and the
rules axe-core cannot judge on its own: every chart says in words what it
shows and its latest values, and its figures are in a table right after it;
every RAG colour is repeated in words; headings go down one level at a time;
every data table has a caption and scoped header cells; layout tables say
they are layout.  Each rule returns what breaks it, so a test can assert []
and print what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import pairwise

_VOID = {"area", "base", "br", "col", "hr", "img", "input", "link", "meta", "source", "wbr"}
#: What a tile's words say for each colour (etl.report.view._STATUS and "Not rated").
RAG_WORDS = {
    "green": ("On target",),
    "amber": ("Near target",),
    "red": ("Off target",),
    "none": ("Not rated", "No target", "No target yet"),
}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def text(self) -> str:
        parts = [c if isinstance(c, str) else " " + c.text() + " " for c in self.children]
        return " ".join("".join(parts).split())

    def iter(self) -> list[Element]:
        """This element and every element below it, in document order."""
        found = [self]
        for child in self.children:
            if isinstance(child, Element):
                found += child.iter()
        return found

    def find(self, tag: str) -> list[Element]:
        return [e for e in self.iter() if e.tag == tag]

    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def _rows(table: Element) -> list[Element]:
    """The table's own rows (not a nested table's)."""
    rows: list[Element] = []

    def walk(element: Element) -> None:
        for child in element.children:
            if isinstance(child, Element) and child.tag != "table":
                if child.tag == "tr":
                    rows.append(child)
                walk(child)

    walk(table)
    return rows


def _cells(row: Element) -> list[Element]:
    return [c for c in row.children if isinstance(c, Element) and c.tag in ("td", "th")]


def data_tables(document: Element) -> list[Element]:
    return [t for t in document.find("table") if t.attrs.get("role") != "presentation"]


def table_problems(document: Element) -> list[str]:
    """Data tables without a caption or scoped headers; layout tables not marked so."""
    problems = []
    for table in document.find("table"):
        if table.attrs.get("role") == "presentation":
            if any(e.tag in ("th", "caption") for e in _own(table)):
                problems.append("a layout table has header cells or a caption")
            continue
        captions = [c for c in table.children if isinstance(c, Element) and c.tag == "caption"]
        name = captions[0].text() if captions else "(no caption)"
        if not captions or not name:
            problems.append(f"a data table has no caption: {table.text()[:60]}")
        rows = _rows(table)
        if not rows:
            problems.append(f"{name}: no rows")
            continue
        header = _cells(rows[0])
        if not all(c.tag == "th" and c.attrs.get("scope") == "col" for c in header):
            problems.append(f"{name}: its first row is not all <th scope=col>")
        for row in rows[1:]:
            cells = _cells(row)
            spans = cells and cells[0].attrs.get("colspan")
            if spans:  # a note under the row above (a file's warnings), not a row of figures
                continue
            if not (cells and cells[0].tag == "th" and cells[0].attrs.get("scope") == "row"):
                problems.append(f"{name}: row {row.text()[:40]!r} has no <th scope=row>")
            if any(c.tag == "th" for c in cells[1:]):
                problems.append(f"{name}: row {row.text()[:40]!r} has a header cell mid-row")
    return problems


def _own(table: Element) -> list[Element]:
    """Elements of ``table`` outside any table nested in it."""
    found: list[Element] = []

    def walk(element: Element) -> None:
        for child in element.children:
            if isinstance(child, Element) and child.tag != "table":
                found.append(child)
                walk(child)

    walk(table)
    return found


def heading_problems(document: Element) -> list[str]:
    """One h1 first; no heading more than one level below the one before it."""
    levels = [
        (int(e.tag[1]), e.text())
        for e in document.iter()
        if len(e.tag) == 2 and e.tag[0] == "h" and e.tag[1].isdigit()
    ]
    problems = []
    if [level for level, _ in levels].count(1) != 1 or not levels or levels[0][0] != 1:
        problems.append(f"not one h1 first: {levels[:3]}")
    for (before, _), (level, text) in pairwise(levels):
        if level > before + 1:
            problems.append(f"h{level} {text!r} follows an h{before}")
    return problems


def chart_problems(document: Element, titles: list[str]) -> list[str]:
    """Each image is one of the charts ``titles``: its alt names the chart and states
    every series' latest figure, and the first table after it holds its figures.

    That table must be captioned with the chart's title, have a column per
    series, and its last row must give the figures the alt text states (a
    target line is drawn, not stated; "no figure" is a gap).
    """
    problems = []
    flat = document.iter()
    images = [e for e in flat if e.tag == "img"]
    if len(images) != len(titles):
        problems.append(f"{len(images)} images for {len(titles)} charts")
    for image in images:
        alt = image.attrs.get("alt", "")
        table = next((e for e in flat[flat.index(image) :] if e.tag == "table"), None)
        caption = table.find("caption")[0].text() if table and table.find("caption") else ""
        title = caption.removeprefix("Figures of the chart: ")
        if table is None or title == caption or title not in titles:
            problems.append(f"no table of a chart's figures right after {alt[:50]!r}")
            continue
        if not alt.startswith(title.split(",")[0]):
            problems.append(f"{title}: the alt does not say what it shows: {alt[:60]!r}")
        rows = _rows(table)
        headers = [c.text() for c in _cells(rows[0])][1:]
        latest = [c.text() for c in _cells(rows[-1])][1:]
        stated = [(h, v) for h, v in zip(headers, latest, strict=True) if "target" not in h.lower()]
        if not stated:
            problems.append(f"{title}: its table has no series")
        for header, value in stated:
            if value != "no figure" and f"{header} {value}" not in alt:
                problems.append(f"{title}: the alt does not state {header} {value}")
    return problems


def rag_problems(document: Element) -> list[str]:
    """A tile coloured by its RAG status says that status in words."""
    problems = []
    tiles = [e for e in document.iter() if "tile" in e.classes()]
    if not tiles:
        problems.append("no tiles")
    for tile in tiles:
        colour = next((c[2:] for c in tile.classes() if c.startswith("t-")), "")
        words = RAG_WORDS.get(colour)
        if words is None:
            problems.append(f"a tile of unknown colour {tile.classes()}")
            continue
        statuses = [p.text() for p in tile.find("p") if "status" in p.classes()]
        if len(statuses) != 1 or not statuses[0].startswith(words):
            problems.append(f"a {colour} tile says {statuses}, not one of {words}")
    return problems
