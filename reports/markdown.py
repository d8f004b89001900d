"""``report.md``: the same sections as the HTML report in CommonMark/GFM, figures as PNG files beside it.

Strings are escaped for Markdown (``<``, ``>``, ``&`` as entities, so raw HTML in a name shows as text, and the
characters that start emphasis, links, code or table cells with a backslash). Numbers use
:func:`reports.model.format_number`, as in the HTML.
"""

from __future__ import annotations

import re

from reports.model import Card, Cell, Figure, Report, Section, Table, format_number

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SPECIAL = re.compile(r"([\\`*\[\]|#!])|(?<!\w)_|_(?!\w)")


def md_escape(text: object) -> str:
    """``text`` as literal Markdown inline text (on one line)."""
    text = " ".join(str(text).split())
    text = "".join(_ENTITIES.get(c, c) for c in text)
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def _cell(value: Cell) -> str:
    return md_escape(value) if isinstance(value, str) else format_number(value)


def render_table(table: Table) -> str:
    """A GFM pipe table, numeric columns right-aligned, units in brackets after the column names."""
    header = []
    for i, name in enumerate(table.header):
        unit = table.units[i] if table.units else ""
        header.append(md_escape(name) + (f" [{md_escape(unit)}]" if unit else ""))  # "[%]" alone is no link
    numeric = [bool(table.rows) and all(not isinstance(r[i], str) for r in table.rows) for i in range(len(header))]
    lines = []
    if table.caption:
        lines += [f"**{md_escape(table.caption)}**", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_figure(figure: Figure, number: int) -> str:
    """An image link to ``figures/NAME.png`` with its caption, or the note of a skipped figure."""
    if figure.png is None:
        return f"> **{md_escape(figure.title)}:** {md_escape(figure.note)}"
    caption = f"*Figure {number}. {md_escape(figure.title)}.* {md_escape(figure.caption)}".rstrip()
    return f"![{md_escape(figure.title)}]({figure.file})\n\n{caption}"


def render_cards(cards: list[Card]) -> str:
    """Headline numbers as a one-row table: labels as the header, values with units (and details) below."""
    values = []
    for card in cards:
        value = md_escape(card.value) if isinstance(card.value, str) else format_number(card.value)
        text = f"**{value}**" + (f" {md_escape(card.unit)}" if card.unit else "")
        values.append(text + (f"<br>{md_escape(card.detail)}" if card.detail else ""))
    lines = ["| " + " | ".join(md_escape(card.label) for card in cards) + " |", "|" + "---|" * len(cards)]
    return "\n".join([*lines, "| " + " | ".join(values) + " |"])


def render_section(section: Section, numbers: dict[str, int]) -> str:
    """A section as Markdown blocks separated by blank lines."""
    blocks = [f"## {md_escape(section.title)}"]
    if section.cards:
        blocks.append(render_cards(section.cards))
    blocks += [md_escape(text) for text in section.text]
    blocks += [render_figure(figure, numbers.get(figure.name, 0)) for figure in section.figures]
    blocks += [render_table(table) for table in section.tables]
    blocks += [f"> {md_escape(note)}" for note in section.notes]
    return "\n\n".join(blocks)


def render_markdown(report: Report) -> str:
    """The whole report as one Markdown document (figures referenced as ``figures/NAME.png``)."""
    repro = Table(["item", "value"], [[k, v] for k, v in report.reproducibility.rows()])
    numbers = report.figure_numbers()
    blocks = [f"# {md_escape(report.title)}"]
    blocks += [render_section(section, numbers) for section in report.sections]
    blocks += ["## Reproducibility", render_table(repro)]
    return "\n\n".join(blocks) + "\n"
