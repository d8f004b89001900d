"""Helpers of the report tests: a stdlib HTML parser that collects sections, tables, figures and links."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from reports.model import format_number


@dataclass
class ParsedTable:
    id: str
    caption: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class ParsedPage:
    sections: dict[str, str] = field(default_factory=dict)  # id -> h2 title
    tables: dict[str, ParsedTable] = field(default_factory=dict)  # table id -> table
    figures: list[str] = field(default_factory=list)  # figure ids (fig-NAME)
    images: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (tag, attribute, value) of src/href/...
    tags: set[str] = field(default_factory=set)
    text: str = ""


class ReportParser(HTMLParser):
    """Collects what the tests look at; the text of elements comes back unescaped, as a browser shows it."""

    URL_ATTRS = ("src", "href", "srcset", "action", "data", "poster", "formaction", "background")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._section: str | None = None
        self._table: ParsedTable | None = None
        self._row: list[str] | None = None
        self._buffer: list[str] | None = None
        self._capture: str | None = None  # "h2", "caption", "th", "td", "note"
        self._texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.page.tags.add(tag)
        for name in self.URL_ATTRS:
            if name in a:
                self.page.links.append((tag, name, a[name]))
        for name, value in a.items():
            if name.startswith("on"):
                self.page.links.append((tag, name, value))
        if tag == "section":
            self._section = a.get("id", "")
        elif tag == "h2" and self._section is not None:
            self._start("h2")
        elif tag == "table":
            self._table = ParsedTable(a.get("id", ""))
        elif tag == "caption":
            self._start("caption")
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._start(tag)
        elif tag == "figure":
            self.page.figures.append(a.get("id", ""))
        elif tag == "img":
            self.page.images.append(a)
        elif tag == "p" and "note" in a.get("class", "").split():
            self._start("note")

    def _start(self, what: str) -> None:
        self._capture, self._buffer = what, []

    def handle_endtag(self, tag: str) -> None:
        text = " ".join("".join(self._buffer or []).split())
        if tag == "h2" and self._capture == "h2":
            self.page.sections[self._section or ""] = text
        elif tag == "caption" and self._table is not None:
            self._table.caption = text
        elif tag in ("th", "td") and self._row is not None:
            self._row.append(text)
        elif tag == "tr" and self._table is not None and self._row is not None:
            if self._table.header:
                self._table.rows.append(self._row)
            else:
                self._table.header = self._row
            self._row = None
        elif tag == "table" and self._table is not None:
            self.page.tables[self._table.id] = self._table
            self._table = None
        elif tag == "p" and self._capture == "note":
            self.page.notes.append(text)
        elif tag == "section":
            self._section = None
        if tag in ("h2", "caption", "th", "td", "p"):
            self._capture, self._buffer = None, None

    def handle_data(self, data: str) -> None:
        self._texts.append(data)
        if self._buffer is not None:
            self._buffer.append(data)


def parse(html: str) -> ParsedPage:
    parser = ReportParser()
    parser.feed(html)
    parser.close()
    parser.page.text = " ".join("".join(parser._texts).split())
    return parser.page


def cell_text(value: object) -> str:
    """How the report writes a summary.json value in a table cell."""
    return value if isinstance(value, str) else format_number(value)  # type: ignore[arg-type]


def header_name(text: str) -> str:
    """A column name without its ``[unit]`` suffix."""
    return re.sub(r"\s*\[[^\]]*\]$", "", text)


def markdown_headings(markdown: str, level: int = 2) -> list[str]:
    prefix = "#" * level + " "
    return [line[len(prefix) :] for line in markdown.splitlines() if line.startswith(prefix)]


def assert_tables_match(summary: dict, page: ParsedPage) -> int:
    """Every table of summary.json's ``report`` entry is in the page, cell by cell as formatted; returns the count."""
    count = 0
    for section_id, section in summary["report"]["sections"].items():
        assert page.sections.get(section_id) == section["title"]
        for table_id, table in section["tables"].items():
            html_table = page.tables[f"{section_id}--{table_id}"]
            assert html_table.caption == table["caption"]
            assert [header_name(h) for h in html_table.header] == table["header"]
            expected = [[cell_text(v) for v in row] for row in table["rows"]]
            assert html_table.rows == expected, f"{section_id}--{table_id}"
            count += 1
    return count
