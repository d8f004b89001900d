"""The report of ``shopfloor optimize JOBSHOP --report``: the machine sequences of a job shop searched through the
simulator (:mod:`scenarios.jobshop`), against every single dispatching rule, the lower bound and the best known
makespan.

The data is the command's summary (its ``schedule`` entry, ``scenarios.jobshop.ScheduleResult.to_dict``) and the
folder of the recommended schedule simulated again (``OUT/schedule``, a ``shopfloor run`` folder with its own run
report): its Gantt chart with the critical path is drawn by :func:`reports.schedule.schedule_section`. Nothing is
simulated here. Makespans are means over the replications (common random numbers) where times are random.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator

from reports.figures import OKABE_ITO, WIDTH, label, png, style
from reports.headline import summary_section
from reports.model import Card, Cell, Figure, Report, ReportError, Reproducibility, Section, Table, format_number
from reports.optimize_figures import axis_limits
from reports.records import read_summary
from reports.schedule import schedule_section

__all__ = ["convergence_figure", "schedule_report", "schedule_sections"]

n = format_number
RULE_NAMES = {
    "fifo": "first in, first out",
    "lifo": "last in, first out",
    "spt": "shortest operation time",
    "lpt": "longest operation time",
    "edd": "earliest due date",
    "cr": "critical ratio (slack per remaining work)",
    "srpt": "shortest remaining work",
    "mwkr": "most work remaining",
    "random": "random choice",
    "setup_aware": "same setup family first, else FIFO",
}
SEARCH_COLOUR, RULE_COLOUR = OKABE_ITO[0], OKABE_ITO[1]
SAME = 0.05  # gaps below this many percent count as equal


def schedule_report(summary: Mapping[str, Any], folder: str | Path | None = None) -> Report:
    """The report of a job shop's schedule search (title ``Optimisation report: <study>``); ``folder`` is the result
    folder, where the recommended schedule's run folder lies (``schedule``); without it the Gantt chart is left out
    with a note."""
    repro = Reproducibility(command=summary.get("command", ""), scenario=str(summary.get("source") or ""))
    repro.seed = summary.get("seed")
    title = f"Optimisation report: {summary.get('study') or summary.get('source') or '?'}"
    sections = schedule_sections(summary, None if folder is None else Path(folder))
    return Report(title, repro, sections, data=dict(summary))


def schedule_sections(summary: Mapping[str, Any], folder: Path | None) -> list[Section]:
    """Summary, convergence, the dispatching rules, the recommended schedule's Gantt chart, the machine sequences."""
    s = _Schedule(summary, folder)
    return [_summary(s), _convergence(s), _rules(s), _gantt(s), _sequences(s)]


# ----------------------------------------------------------------------------------------------------------- data


def _number(value: Any) -> float | None:
    """A finite makespan, or None (absent, or inf: a schedule that did not complete)."""
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _gap(value: float | None, reference: float | None) -> float | None:
    """``(value − reference) / reference`` in percent."""
    if value is None or reference is None or reference <= 0:
        return None
    return (value - reference) / reference * 100


class _Schedule:
    """The summary's schedule entry with its numbers checked, and the run folder of the recommended schedule."""

    def __init__(self, summary: Mapping[str, Any], folder: Path | None):
        self.summary = summary
        self.entry: Mapping[str, Any] = summary.get("schedule") or {}
        e = self.entry
        self.unit = str(summary.get("time_unit") or "")
        self.makespan = _number(e.get("makespan"))
        self.rule, self.rule_makespan = str(e.get("best_rule") or "?"), _number(e.get("rule_makespan"))
        self.rules = {str(k): _number(v) for k, v in (e.get("rule_makespans") or {}).items()}
        self.bound, self.optimum = _number(e.get("lower_bound")), _number(e.get("optimum"))
        self.replications = int(e.get("replications") or 1)
        self.sequences: dict[str, list[str]] = {str(k): list(v) for k, v in (e.get("sequences") or {}).items()}
        self.history = [(int(x), _number(y)) for x, y in e.get("history") or []]
        name = e.get("folder")
        self.name = str(name) if name else ""
        self.folder = folder / self.name if folder is not None and name else None

    def time(self, value: float | None) -> str:
        return f"{n(value)} {self.unit}".strip()

    @property
    def better(self) -> float | None:
        """How much shorter the found schedule is than the best rule's, in percent of the rule's."""
        gap = _gap(self.makespan, self.rule_makespan)
        return None if gap is None else -gap

    @property
    def optimum_gap(self) -> float | None:
        gap = self.entry.get("gap")
        return float(gap) * 100 if gap is not None and self.makespan is not None else _gap(self.makespan, self.optimum)

    @property
    def orders(self) -> int:
        return len({order for seq in self.sequences.values() for order in seq})

    def run(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The schedule folder's run summary and canonical scenario, or None where the folder or its summary is
        missing."""
        if self.folder is None or not self.folder.is_dir():
            return None
        try:
            summary = read_summary(self.folder)
        except ReportError:
            return None
        try:
            scenario = json.loads((self.folder / "scenario.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            scenario = {}
        return summary, scenario


def _pct(value: float) -> str:
    return f"{n(abs(value))} %"


# -------------------------------------------------------------------------------------------------------- summary


def _relation(s: _Schedule, reference: float | None, name: str) -> str:
    """``equal to the best known 55 min``, ``5.77 % above the lower bound 52 min``."""
    gap = _gap(s.makespan, reference)
    if gap is None or reference is None:
        return ""
    if abs(gap) < SAME:
        return f"equal to the {name} {s.time(reference)}"
    return f"{_pct(gap)} {'above' if gap > 0 else 'below'} the {name} {s.time(reference)}"


def _found(s: _Schedule) -> str:
    mean = f" (mean over {n(s.replications)} replications)" if s.replications > 1 else ""
    if s.makespan is None:
        return f"No schedule of {s.summary.get('study', '?')} completed every order: the search found no makespan."
    text = f"The schedule found has a makespan of {s.time(s.makespan)}{mean}"
    better = s.better
    if better is not None and s.rule_makespan is not None:
        rule = f"the best single dispatching rule ({s.rule}, {s.time(s.rule_makespan)})"
        if abs(better) < SAME:
            text += f", as short as {rule}: the search found nothing shorter"
        else:
            text += f", {_pct(better)} {'shorter' if better > 0 else 'longer'} than {rule}"
    elif s.rule_makespan is None:
        text += "; no single dispatching rule completed every order"
    bounds = [r for r in (_relation(s, s.optimum, "best known"), _relation(s, s.bound, "lower bound")) if r]
    if bounds:
        text += "; it is " + " and ".join(bounds)
    if s.bound is not None and s.makespan is not None and s.makespan < s.bound * (1 - SAME / 100):
        text += " (below the bound: a mechanism the bound does not cover ends jobs early)"
    text += "."
    if s.bound is None:
        text += " No lower bound is known (random operation times, or batching, inspection or faults)."
    if s.optimum is None:
        text += " The scenario records no best known makespan."
    return text


def _how(s: _Schedule) -> str:
    e = s.entry
    text = (
        f"How: a tabu search swapped adjacent operations in the critical blocks of the simulated schedule (runs of "
        f"operations on one machine along the critical path), starting from the best rule's schedule; each candidate "
        f"was simulated, {n(e.get('evaluations'))} schedules in {n(_number(e.get('seconds')))} s, the "
        f"{len(s.rules)} rules included"
    )
    if s.replications > 1:
        text += (
            f", each over {n(s.replications)} replications under common random numbers (replication r draws the "
            "same random numbers for every candidate), so every makespan here is a mean over them"
        )
    return text + f" (search seed {e.get('seed')}, simulation seed {e.get('simulation_seed')})."


def _what(s: _Schedule) -> str:
    summary = s.summary
    return (
        f"Study {summary.get('study', '?')} ({summary.get('source', '?')}) searches the machine sequences of a job "
        f"shop, {s.orders} orders on {len(s.sequences)} machines, for the shortest makespan."
    )


def _cards(s: _Schedule) -> list[Card]:
    detail = f"mean of {n(s.replications)} replications" if s.replications > 1 else "simulated, deterministic"
    interval = _run_interval(s)
    if interval:
        detail = interval
    better = s.better
    cards = [
        Card("Makespan found", s.makespan, s.unit, detail),
        Card(
            "Best single rule",
            s.rule_makespan,
            s.unit,
            f"{s.rule}, best of {len(s.rules)} rules",
        ),
        Card(
            "Shorter than the best rule",
            better,
            "%",
            "(rule − found) / rule",
            "good" if better is not None and better >= SAME else "",
        ),
    ]
    if s.optimum is not None:
        gap = s.optimum_gap
        tone = "good" if gap is not None and gap < SAME else ""
        cards.append(Card("Best known", s.optimum, s.unit, f"gap {_signed(gap)}", tone))
    bound = _gap(s.makespan, s.bound)
    lb_detail = f"gap {_signed(bound)}" if s.bound is not None else "none known for this scenario"
    cards.append(Card("Lower bound", s.bound, s.unit if s.bound is not None else "", lb_detail))
    reps = f", {n(s.replications)} replications each" if s.replications > 1 else ""
    cards.append(Card("Simulations", s.entry.get("evaluations"), "", f"{n(_number(s.entry.get('seconds')))} s{reps}"))
    return cards


def _signed(gap: float | None) -> str:
    if gap is None:
        return "–"
    return "0 %" if abs(gap) < SAME else f"{'+' if gap > 0 else '−'}{n(abs(gap))} %"


def _run_interval(s: _Schedule) -> str:
    """The 95 % CI of the recommended schedule's makespan simulated again, where it has one."""
    run = s.run()
    if run is None:
        return ""
    entry = (run[0].get("kpis") or {}).get("makespan") or {}
    low, high = entry.get("low"), entry.get("high")
    if low is None or high is None:
        return ""
    return f"95 % CI {n(low)}–{n(high)} over {n(entry.get('n'))} replications"


def _summary(s: _Schedule) -> Section:
    text = [_what(s), _found(s), _how(s)]
    if s.name:
        text.append(
            f"The recommended schedule was simulated again into {s.name}/, a run folder with its own run report "
            f"({s.name}/report.html: Gantt chart, critical path, machine states); shopfloor run on its "
            f"{s.name}/scenario.json reproduces it."
        )
    return summary_section(_cards(s), text)


# ---------------------------------------------------------------------------------------------------- convergence


def _curve(s: _Schedule) -> tuple[list[int], list[float]]:
    """The search's best makespan at each improvement (its first point: the best rule's machine sequences)."""
    points = [(x, y) for x, y in s.history if y is not None]
    return [x for x, _ in points], [y for _, y in points]


def convergence_figure(
    xs: Sequence[int],
    ys: Sequence[float],
    total: int,
    rules: Mapping[str, float | None],
    levels: Sequence[tuple[str, float, str]],
    unit: str,
) -> tuple[bytes, dict[str, Any]]:
    """Best makespan against simulations (log scale: the rules come first, improvements come early), a step line
    to ``total``; the rules as dots at the simulations they were; ``levels``: (label, value, line style)
    horizontal lines. Rules far above the rest are drawn as arrows at the top edge."""
    rule_x = np.arange(1, len(rules) + 1, dtype=float)
    rule_y = np.array([math.nan if v is None else v for v in rules.values()], float)
    core = [*ys, *(v for _, v, _ in levels)]
    limits = axis_limits(core, [*core, *rule_y[np.isfinite(rule_y)]])
    right = max(total, xs[-1] if xs else 1, len(rules), 2) * 1.3
    with style():
        fig, ax = plt.subplots(figsize=(WIDTH, 3.6), layout="constrained")
        for name, value, ls in levels:
            ax.axhline(value, color="#333333", lw=1.2, ls=ls, zorder=1, label=label(f"{name} {n(value)}"))
        shown = np.isfinite(rule_y) & (rule_y <= limits[1])
        ax.plot(rule_x[shown], rule_y[shown], "o", color=RULE_COLOUR, ms=4, zorder=2, label="single rules")
        above = np.isfinite(rule_y) & (rule_y > limits[1])
        if above.any():
            inset = 0.015 * (limits[1] - limits[0])
            ax.plot(rule_x[above], np.full(above.sum(), limits[1] - inset), "^", color=RULE_COLOUR, ms=6, zorder=2)
        if xs:
            x = np.array([*xs, max(total, xs[-1])], float)
            y = np.array([*ys, ys[-1]], float)
            ax.step(x, y, where="post", color=SEARCH_COLOUR, lw=2.4, zorder=3, label="best schedule so far")
            ax.plot(x[:-1], y[:-1], "o", color=SEARCH_COLOUR, ms=3.5, zorder=3)
        ax.set_xscale("log")
        ax.set_xlim(0.8, right)
        ax.xaxis.set_major_locator(LogLocator(base=10))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_ylim(*limits)
        ax.set_xlabel("schedules simulated (log scale)")
        ax.set_ylabel(label(f"makespan [{unit}]" if unit else "makespan"))
        handles, names = ax.get_legend_handles_labels()
        first = [i for i, name in enumerate(names) if name in ("best schedule so far", "single rules")][::-1]
        order = first + [i for i in range(len(names)) if i not in first]
        handles, names = [handles[i] for i in order], [names[i] for i in order]
        if above.any():
            handles.append(Line2D([], [], marker="^", ls="none", color=RULE_COLOUR))
            names.append("rule off scale")
        fig.legend(handles, names, ncols=min(len(handles), 3), loc="outside lower center", frameon=False)
        return png(fig), {"limits": list(limits), "rules_off_scale": int(above.sum())}


def _convergence(s: _Schedule) -> Section:
    section = Section("convergence", "Convergence")
    xs, ys = _curve(s)
    if not xs:
        section.figures.append(Figure("convergence", "Convergence", note="skipped: no schedule completed"))
        return section
    levels = [("best rule", s.rule_makespan, "-.")] if s.rule_makespan is not None else []
    levels += [(name, v, ls) for name, v, ls in (("lower bound", s.bound, "--"), ("best known", s.optimum, ":")) if v]
    total = int(s.entry.get("evaluations") or xs[-1])
    image, data = convergence_figure(xs, ys, total, s.rules, [(a, float(b), c) for a, b, c in levels], s.unit)
    last = xs[-1]
    caption = (
        f"Schedules simulated, in order: first the {len(s.rules)} single dispatching rules (dots), then the tabu "
        f"search (line: its best makespan so far), from the best rule's machine sequences; it found its best after "
        f"{n(last)} of {n(total)} simulations. Horizontal lines: the best rule, the lower bound and the best known "
        "makespan, where known."
    )
    if s.replications > 1:
        caption += (
            f" Every makespan is a mean over {n(s.replications)} replications (common random numbers). A rule "
            "reacts to each replication's times, fixed sequences do not: the search's first point, the best rule's "
            "sequences of replication 0, need not match the rule's own mean."
        )
    data |= {"improvements": [[x, y] for x, y in zip(xs, ys, strict=True)]}
    section.figures.append(Figure("convergence", "Best makespan against simulations", caption, image, data=data))
    return section


# --------------------------------------------------------------------------------------------------------- tables


def _rules(s: _Schedule) -> Section:
    """Every single dispatching rule's makespan, shortest first, against the schedule found and the best known."""
    section = Section("rules", "Dispatching rules")
    ranked = sorted(s.rules.items(), key=lambda kv: (kv[1] is None, kv[1] if kv[1] is not None else 0.0, kv[0]))
    rows: list[list[Cell]] = []
    for rule, value in ranked:
        note = "best rule" if rule == s.rule else ("did not complete every order" if value is None else "")
        rows.append([rule, RULE_NAMES.get(rule, ""), value, _gap(value, s.makespan), _gap(value, s.optimum), note])
    mean = f" (means over {n(s.replications)} replications)" if s.replications > 1 else ""
    caption = (
        f"Makespan of every single dispatching rule at every machine{mean}, shortest first; the gaps are to the "
        f"schedule found ({s.time(s.makespan)}) and to the best known makespan"
    )
    header = ["rule", "picks", "makespan", "above the schedule found", "above the best known", ""]
    units = ["", "", s.unit, "%", "%", ""]
    section.tables.append(Table(header, rows, units=units, caption=caption, id="rules"))
    text = "Each rule alone decides every machine's next job; the search starts from the machine sequences of the best "
    if s.replications > 1:
        text += (
            "rule's schedule in replication 0. With random times a rule adapts its choices in every replication and "
            "fixed sequences do not, so the schedule found can in principle be longer than the best rule's mean."
        )
    else:
        text += "rule's schedule, so the schedule found is never longer."
    section.text.append(text)
    return section


def _sequences(s: _Schedule) -> Section:
    section = Section("sequences", "Machine sequences")
    rows: list[list[Cell]] = [[station, len(seq), " → ".join(seq)] for station, seq in s.sequences.items()]
    caption = "The recommended schedule: each machine's orders in processing order (each starts when it and its job "
    caption += "are free)"
    section.tables.append(Table(["machine", "orders", "sequence"], rows, caption=caption, id="sequences"))
    return section


# ---------------------------------------------------------------------------------------------------------- Gantt


def _gantt(s: _Schedule) -> Section:
    """The Gantt chart with the critical path of the recommended schedule simulated again (its run folder)."""
    section = Section("schedule", "Recommended schedule")
    where = f"{s.name}/" if s.name else "the schedule folder"
    run = s.run()
    found = schedule_section(s.folder, *run) if run is not None and s.folder is not None else None
    figure = next((f for f in found.figures if f.name == "gantt"), None) if found is not None else None
    if figure is None:
        if not s.name:
            why = "the summary names no folder of the recommended schedule"
        elif run is None:
            why = f"the recommended schedule's run folder {where} is missing (not copied with summary.json?)"
        else:
            why = f"{where} holds no schedule of an order book"
        section.figures.append(Figure("gantt", "Gantt chart", note=f"skipped: {why}"))
        return section
    section.text.append(
        f"The recommended schedule simulated again ({where}). Its run report, {where}report.html, shows it in full: "
        "the critical path operation by operation, machine states and every KPI."
    )
    section.figures.append(figure)
    return section
