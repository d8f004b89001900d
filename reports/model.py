"""What a report is: a title, a reproducibility block and an ordered list of sections.

A :class:`Section` holds paragraphs of plain text, :class:`Table` s and :class:`Figure` s. Everything in it is plain
data (strings, numbers, PNG bytes), so the renderers (:mod:`reports.html`, :mod:`reports.markdown`) and
``summary.json`` (:meth:`Report.summary`) show the same content, and a report can be built without matplotlib being
asked to draw again.

Adding a section (GAN, VAE, surrogate, ...) is plain function composition: write a function that takes plain result
objects (dicts, Arrow tables) and returns a ``Section`` or a list of them, and append its output::

    def gan_section(metrics: dict[str, float]) -> Section:
        table = Table(["metric", "value"], [[k, v] for k, v in metrics.items()], caption="GAN fidelity")
        return Section("gan", "Synthetic data", text=["..."], tables=[table], figures=[fidelity_figure(metrics)])

    report = run_report(folder)
    report.sections.append(gan_section(metrics))
    write_report(report, out_dir)

Figures are drawn by functions in :mod:`reports.figures` (``Figure.draw(...)`` turns a matplotlib figure into PNG
bytes); a figure whose data is absent is a ``Figure`` without ``png`` and with a ``note`` saying why, shown as a
note in its place. Section ids are HTML anchors and summary.json keys: keep them unique, lower case, ``[a-z0-9-]``.

Numbers are kept as numbers in tables and formatted only when rendered, always by :func:`format_number`, so a test
can compare every cell with the number in ``summary.json``.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sim.errors import ShopfloorError

Cell = str | int | float | None
MISSING = "–"


class ReportError(ShopfloorError):
    """A report cannot be built from what the user pointed at (a missing or unreadable result folder)."""


def format_number(value: Cell) -> str:
    """The one way numbers are written in reports: thousands separators, three to four significant digits.

    None and NaN -> ``–``; booleans -> ``yes``/``no``; integers and whole floats with thousands separators
    (``9,169``); other floats with 0 decimals from 1 000 (``18,720``), 1 from 10 (``86.9``), 2 from 1 (``1.69``) and
    3 significant digits below 1 (``0.0133``, ``0.200``); below 0.0001 in scientific notation (``1.0e-05``);
    infinities as ``inf``/``-inf``. Strings are returned unchanged.
    """
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    value = float(value)
    if math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    size = abs(value)
    if size < 1e-12:  # rounding noise of a sum, e.g. the half-width of a constant
        return "0"
    if size < 1e-4:
        return f"{value:.1e}"
    if value == round(value):
        return f"{value:,.0f}"
    places = _decimals(size)
    places = min(places, _decimals(round(size, places)))  # 9.998 is "10.0", not "10.00"
    text = f"{value:,.{places}f}"
    return "0" if text.strip("-0.") == "" else text


def _decimals(size: float) -> int:
    """Decimal places for a magnitude: none from 1 000, one from 10, two from 1, three significant digits below."""
    if size >= 1000:
        return 0
    if size >= 10:
        return 1
    if size >= 1:
        return 2
    return 2 - math.floor(math.log10(size))


def plain(value: Any) -> Any:
    """``value`` with NaN/inf replaced by None and tuples by lists, ready for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return plain(value.item())
    return value


@dataclass
class Table:
    """A table: a header, rows of cells, optional units (one per column, "" for none) and a caption."""

    header: list[str]
    rows: list[list[Cell]]
    units: list[str] | None = None
    caption: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        width = len(self.header)
        if self.units is not None and len(self.units) != width:
            raise ValueError(f"table {self.id or self.caption!r}: {len(self.units)} units for {width} columns")
        for row in self.rows:
            if len(row) != width:
                raise ValueError(f"table {self.id or self.caption!r}: a row of {len(row)} cells for {width} columns")

    def summary(self) -> dict[str, Any]:
        return plain({"caption": self.caption, "header": self.header, "units": self.units, "rows": self.rows})


@dataclass
class Figure:
    """A drawn figure (PNG bytes), or a skipped one (``png`` None) with a ``note`` saying why.

    ``name`` is the file stem of the PNG beside report.md (unique in a report); ``data`` holds numbers the figure
    shows that no table shows (e.g. its time window), for summary.json.
    """

    name: str
    title: str
    caption: str = ""
    png: bytes | None = None
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return self.png is None

    @property
    def file(self) -> str:
        """Path of the PNG relative to the report folder."""
        return f"figures/{self.name}.png"

    def summary(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"title": self.title, "caption": self.caption}
        entry |= {"skipped": self.note} if self.skipped else {"file": self.file}
        return plain(entry | ({"data": self.data} if self.data else {}))


@dataclass
class Card:
    """A headline number of a summary: label, value (a number, formatted when rendered) with its unit, and a detail
    line (e.g. its confidence interval); ``tone`` ``good``/``bad`` colours it against a target or the base."""

    label: str
    value: Cell
    unit: str = ""
    detail: str = ""
    tone: str = ""

    def summary(self) -> dict[str, Any]:
        return plain({"label": self.label, "value": self.value, "unit": self.unit, "detail": self.detail})


@dataclass
class Section:
    """One part of a report, shown in this order: headline cards, paragraphs, figures, tables, notes."""

    id: str
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        tables = {table.id or f"table{i}": table.summary() for i, table in enumerate(self.tables)}
        if len(tables) != len(self.tables):
            raise ValueError(f"section {self.id!r}: table ids are not unique: {[t.id for t in self.tables]}")
        entry = {"title": self.title, "tables": tables, "figures": {f.name: f.summary() for f in self.figures}}
        if self.cards:
            entry["cards"] = [card.summary() for card in self.cards]
        if self.text:
            entry["text"] = list(self.text)
        return entry


def package_version(name: str) -> str:
    """Installed version of a distribution, read from its metadata (never imports it); "not installed" if absent."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@dataclass
class Reproducibility:
    """What it takes to produce the same numbers again, and with which software."""

    command: str = ""
    scenario: str = ""
    scenario_hash: str = ""
    seed: int | None = None
    wall_time_s: float | None = None
    shopfloor: str = field(default_factory=lambda: package_version("shopfloor"))
    python: str = field(default_factory=platform.python_version)
    torch: str = field(default_factory=lambda: package_version("torch"))
    date: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))

    @classmethod
    def of_summary(cls, summary: Mapping[str, Any]) -> Reproducibility:
        """The block of a study's ``summary.json`` (command, scenario name and hash, seed, wall time)."""
        scenario = summary.get("scenario") or {}
        return cls(
            command=summary.get("command", ""),
            scenario=scenario.get("name", ""),
            scenario_hash=scenario.get("hash", ""),
            seed=summary.get("seed"),
            wall_time_s=summary.get("wall_time_s"),
        )

    def rows(self) -> list[tuple[str, Cell]]:
        """(label, value) pairs in display order."""
        return [
            ("command", self.command or MISSING),
            ("scenario", self.scenario or MISSING),
            ("scenario hash (SHA-256)", self.scenario_hash or MISSING),
            ("seed", MISSING if self.seed is None else str(self.seed)),
            ("wall time [s]", self.wall_time_s),
            ("shopfloor", self.shopfloor),
            ("python", self.python),
            ("torch", self.torch),
            ("date", self.date),
        ]


@dataclass
class Report:
    """A titled, ordered list of sections plus the numbers behind them (``data``: e.g. a run's summary dict)."""

    title: str
    reproducibility: Reproducibility = field(default_factory=Reproducibility)
    sections: list[Section] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def section(self, id: str) -> Section:
        """The section with this id (KeyError if none)."""
        for section in self.sections:
            if section.id == id:
                return section
        raise KeyError(id)

    def figures(self) -> list[Figure]:
        return [figure for section in self.sections for figure in section.figures]

    def figure_numbers(self) -> dict[str, int]:
        """Figure name -> its number (1, 2, ...) in reading order; skipped figures have none."""
        drawn = [f.name for f in self.figures() if not f.skipped]
        return {name: i for i, name in enumerate(drawn, start=1)}

    def summary(self) -> dict[str, Any]:
        """Every number of the report, machine-readable: ``data`` plus a ``report`` entry with tables and figures."""
        ids = [s.id for s in self.sections]
        if len(set(ids)) != len(ids):
            raise ValueError(f"section ids are not unique: {ids}")
        names = [f.name for f in self.figures()]
        if len(set(names)) != len(names):
            raise ValueError(f"figure names are not unique: {names}")
        report = {
            "title": self.title,
            "reproducibility": plain(vars(self.reproducibility)),
            "sections": {s.id: s.summary() for s in self.sections},
        }
        return plain(self.data) | {"report": report}
