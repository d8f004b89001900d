"""``report.html``: one self-contained file (figures as base64 PNG, CSS inline), no JavaScript, no external resources.

Readable on a phone (fluid width, tables scroll sideways inside their own box) and on paper (``@media print``).
Every string is HTML-escaped (``html.escape``), so names from scenario files and command lines appear as text.
The only links are to anchors inside the page.
"""

from __future__ import annotations

import base64
import html
import re
import struct

from reports.model import Card, Cell, Figure, Report, Section, Table, format_number

CSS = """
:root { color-scheme: light; --ink: #1b1b1b; --muted: #5a5a5a; --rule: #d7d7d7; --band: #f4f6f8; --accent: #0072B2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.7rem; line-height: 1.25; margin: 0.5rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.2rem; border-bottom: 2px solid var(--rule); }
p { margin: 0.5rem 0; overflow-wrap: anywhere; }
a { color: var(--accent); }
nav ol { margin: 0.3rem 0; padding-left: 1.6rem; columns: 2 16rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em;
  overflow-wrap: anywhere; word-break: break-all; }
.table-wrap { overflow-x: auto; margin: 0.8rem 0 1.2rem; border: 1px solid var(--rule); border-radius: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0.45rem 0.6rem; background: var(--band); }
th, td { padding: 0.3rem 0.6rem; border-top: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; hyphens: auto; }
table.wide { font-size: 0.8rem; }  /* many columns: smaller type before the box has to scroll */
table.wide th, table.wide td { padding: 0.25rem 0.4rem; }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
.unit { font-weight: 400; color: var(--muted); }
table.repro td { overflow-wrap: anywhere; }
figure { margin: 1.2rem 0; }
.figure-wrap { overflow-x: auto; }
figure img { display: block; width: 100%; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { font-size: 0.9rem; color: var(--muted); margin-top: 0.4rem; }
.note { border-left: 4px solid #E69F00; background: #fff8e6; padding: 0.4rem 0.7rem; margin: 0.8rem 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11.5rem, 1fr)); gap: 0.6rem;
  margin: 0.8rem 0 1rem; }
.card { border: 1px solid var(--rule); border-top: 4px solid var(--accent); border-radius: 4px;
  padding: 0.5rem 0.7rem; break-inside: avoid; page-break-inside: avoid; }
.card.good { border-top-color: #009E73; }
.card.bad { border-top-color: #D55E00; }
.card-label { font-size: 0.85rem; color: var(--muted); }
.card-value { font-size: 1.45rem; font-weight: 650; line-height: 1.25; font-variant-numeric: tabular-nums; }
.card-value .unit { font-size: 0.9rem; }
.card-detail { font-size: 0.8rem; color: var(--muted); }
#summary p { font-size: 1.02rem; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  main { padding: 0.6rem 0.6rem 2rem; }
  h1 { font-size: 1.35rem; }
  th, td { padding: 0.25rem 0.45rem; }
  figure img { width: 34rem; max-width: none; }  /* keep figure text legible; the figure scrolls sideways */
}
@media print {
  @page { margin: 15mm; }
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .table-wrap, .figure-wrap { overflow: visible; border: none; }
  table { font-size: 8pt; table-layout: fixed; }  /* wide tables wrap to the page instead of being cut */
  th, td, td.num { white-space: normal; overflow-wrap: anywhere; padding: 0.2rem 0.3rem; }
  .cards { grid-template-columns: repeat(4, 1fr); }
  figure, tr, caption { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-height: 22cm; width: auto; }
  .note { background: none; }
}
"""


WIDE_COLUMNS = 7  # a table with more columns is set in smaller type
_JOINT = re.compile(r"(?<=[A-Za-z0-9])([._/])(?=[A-Za-z])")  # the joints of dotted or snake_case names


def esc(text: object) -> str:
    """``text`` as HTML text or attribute value."""
    return html.escape(str(text), quote=True)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG from its IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def breakable(text: object) -> str:
    """``text`` escaped, with line-break opportunities after the dots and underscores of long identifiers
    (``stations.weld.machines``), so that wide tables wrap their names instead of overflowing."""
    return _JOINT.sub(r"\1<wbr>", esc(text))


def _cell(value: Cell, numeric: bool) -> str:
    """A cell; numbers are right-aligned only in columns of numbers."""
    text = value if isinstance(value, str) else format_number(value)
    return f'<td class="num">{esc(text)}</td>' if numeric else f"<td>{breakable(text)}</td>"


def render_table(table: Table, css_class: str = "", anchor: str = "") -> str:
    """A table in a horizontally scrolling box, units in brackets after the column names; ``anchor`` is its id."""
    numeric = [
        all(not isinstance(row[i], str) for row in table.rows) and bool(table.rows) for i in range(len(table.header))
    ]
    head = []
    for i, name in enumerate(table.header):
        unit = table.units[i] if table.units else ""
        unit_html = f' <span class="unit">[{esc(unit)}]</span>' if unit else ""
        num = ' class="num"' if numeric[i] else ""
        head.append(f'<th scope="col"{num}>{breakable(name)}{unit_html}</th>')
    body = "\n".join(
        "<tr>" + "".join(_cell(v, n) for v, n in zip(row, numeric, strict=True)) + "</tr>" for row in table.rows
    )
    caption = f"<caption>{esc(table.caption)}</caption>" if table.caption else ""
    classes = [css_class] if css_class else []
    if len(table.header) > WIDE_COLUMNS:
        classes.append("wide")
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    table_id = f' id="{esc(anchor)}"' if anchor else ""
    label = esc(table.caption or "table")
    return (
        f'<div class="table-wrap" role="region" aria-label="{label}" tabindex="0">'
        f"<table{attrs}{table_id}>{caption}<thead><tr>{''.join(head)}</tr></thead>\n<tbody>\n{body}\n</tbody>"
        "</table></div>"
    )


def render_figure(figure: Figure, number: int) -> str:
    """A figure with its caption as an inline base64 PNG (its display size is its size at 96 dpi), or its note."""
    if figure.png is None:
        return f'<p class="note" id="fig-{esc(figure.name)}">{esc(figure.title)}: {esc(figure.note)}</p>'
    width, height = png_size(figure.png)
    scale = 96 / 150
    data = base64.b64encode(figure.png).decode("ascii")
    caption = f"<strong>Figure {number}. {esc(figure.title)}.</strong> {esc(figure.caption)}"
    return (
        f'<figure id="fig-{esc(figure.name)}"><div class="figure-wrap">'
        f'<img src="data:image/png;base64,{data}" alt="{esc(figure.title)}" '
        f'width="{round(width * scale)}" height="{round(height * scale)}"></div>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def table_anchor(section: Section, index: int) -> str:
    """The id of a section's table in the page: ``SECTION--TABLE`` (the keys of summary.json's report tables)."""
    return f"{section.id}--{section.tables[index].id or f'table{index}'}"


def render_card(card: Card) -> str:
    """A headline number: label, value with unit, detail line."""
    tone = f" {esc(card.tone)}" if card.tone in ("good", "bad") else ""
    unit = f' <span class="unit">{esc(card.unit)}</span>' if card.unit else ""
    detail = f'<div class="card-detail">{esc(card.detail)}</div>' if card.detail else ""
    value = card.value if isinstance(card.value, str) else format_number(card.value)
    return (
        f'<div class="card{tone}"><div class="card-label">{esc(card.label)}</div>'
        f'<div class="card-value">{esc(value)}{unit}</div>{detail}</div>'
    )


def render_section(section: Section, numbers: dict[str, int]) -> str:
    """A section: heading, cards, paragraphs, figures (numbered by ``numbers``), tables, notes."""
    parts = [f'<section id="{esc(section.id)}">', f"<h2>{esc(section.title)}</h2>"]
    if section.cards:
        parts.append('<div class="cards">' + "".join(render_card(card) for card in section.cards) + "</div>")
    parts += [f"<p>{esc(text)}</p>" for text in section.text]
    parts += [render_figure(figure, numbers.get(figure.name, 0)) for figure in section.figures]
    parts += [render_table(table, anchor=table_anchor(section, i)) for i, table in enumerate(section.tables)]
    parts += [f'<p class="note">{esc(note)}</p>' for note in section.notes]
    parts.append("</section>")
    return "\n".join(parts)


def render_html(report: Report) -> str:
    """The whole report as one HTML document: the summary first, then the contents, the sections and, at the end,
    the reproducibility block."""
    repro = Table(["item", "value"], [[k, v] for k, v in report.reproducibility.rows()], caption="", id="repro")
    entries = [(s.id, s.title) for s in report.sections] + [("reproducibility", "Reproducibility")]
    contents = "".join(f'<li><a href="#{esc(id)}">{esc(title)}</a></li>' for id, title in entries)
    numbers = report.figure_numbers()
    sections = [render_section(section, numbers) for section in report.sections]
    first = [sections.pop(0)] if report.sections and report.sections[0].id == "summary" else []
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta name="generator" content="shopfloor {esc(report.reproducibility.shopfloor)}">',
            f"<title>{esc(report.title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            f"<header><h1>{esc(report.title)}</h1></header>",
            *first,
            f'<nav aria-label="Contents"><p><strong>Contents</strong></p><ol>{contents}</ol></nav>',
            *sections,
            '<section id="reproducibility">',
            "<h2>Reproducibility</h2>",
            render_table(repro, "repro"),
            "</section>",
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )
