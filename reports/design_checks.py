"""How the decisions of a sweep's design go together: the design-correlation table and the warning.

The measures come with the sweep's summary (``scenarios.sweep``: Pearson r, Cramér's V, the correlation ratio η),
each with the level chance alone gives it over the design's points and whether it earns a warning (``correlated``,
by the sweep's rule in ``correlation_rule``): the report decides nothing itself. Decisions that go together mix
their effects in the raw level means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reports.model import Table, format_number

MEASURES = {"pearson": "Pearson r", "cramers_v": "Cramér's V", "correlation_ratio": "correlation ratio η"}
MAX_PAIRS = 15  # pairs of decisions the design table lists
LISTED = 4  # correlated pairs a warning names (the strongest); the design table lists more


def correlated_pairs(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pairs of decisions the sweep found correlated (``correlated_decisions``); none in a summary without."""
    return [p for p in summary.get("correlated_decisions") or [] if p.get("correlated", True)]


def _rule_text(rule: Mapping[str, Any] | None) -> str:
    if not rule or rule.get("threshold") is None:
        return ""
    text = f"above {float(rule['threshold']):g}"
    multiple = rule.get("chance_multiple")
    if multiple is not None:
        times = "twice" if multiple == 2 else f"{float(multiple):g} times"
        text += f" and {times} the level chance alone gives"
    return f" ({text})"


def correlation_warning(pairs: Sequence[Mapping[str, Any]], rule: Mapping[str, Any] | None = None) -> str:
    """A warning naming the decisions that go together in the design: the pairs the sweep marked (``correlated``,
    or every pair of an old summary's ``correlated_decisions``), strongest first; "" if none. ``rule`` is the
    summary's ``correlation_rule`` (the threshold and the multiple of the chance level)."""
    found = sorted(
        (p for p in pairs if p.get("value") is not None and p.get("correlated", True)), key=lambda p: -abs(p["value"])
    )
    if not found:
        return ""

    def pair(p: Mapping[str, Any]) -> str:
        chance = f", chance {format_number(p['chance'])}" if p.get("chance") is not None else ""
        measure = MEASURES.get(p.get("measure", ""), p.get("measure", ""))
        return f"{p['a']} and {p['b']} ({measure} = {format_number(p['value'])}{chance})"

    listed = "; ".join(pair(p) for p in found[:LISTED])
    more = f" and {len(found) - LISTED} more pairs (see the Design section)" if len(found) > LISTED else ""
    chance = (
        " The chance levels shrink with more points: more points make the design more nearly orthogonal."
        if any(p.get("chance") is not None for p in found)
        else ""
    )
    return (
        f"Warning: decisions correlated in the design{_rule_text(rule)}: {listed}{more}. The raw level means of "
        f"these decisions mix their effects; read the regression-adjusted effects.{chance}"
    )


def design_correlation_table(
    pairs: Sequence[Mapping[str, Any]],
    correlated: Sequence[Mapping[str, Any]] = (),
    rule: Mapping[str, Any] | None = None,
) -> Table | None:
    """The strongest pairs of decisions with their measure, the level chance alone gives it and whether it earns a
    warning (the sweep's ``correlated``; in an old summary: listed among its ``correlated``); None without pairs."""
    every = sorted(pairs, key=lambda p: -abs(p["value"]))
    if not every:
        return None
    marked = {(p.get("a"), p.get("b")) for p in correlated}
    shown = every[:MAX_PAIRS]
    caption = "How the decisions go together over the design's points, strongest first"
    if len(every) > MAX_PAIRS:
        caption += f" (the {len(shown)} strongest of {len(every)} pairs; all in summary.json)"
    caption += "; chance level: what the measure reaches by chance alone with this many points"
    if rule:
        caption += f"; warned{_rule_text(rule)}"
    return Table(
        ["decision", "decision", "measure", "value", "chance level", "warned"],
        [
            [
                p["a"],
                p["b"],
                MEASURES.get(p["measure"], p["measure"]),
                p["value"],
                p.get("chance"),
                bool(p.get("correlated", (p["a"], p["b"]) in marked)),
            ]
            for p in shown
        ],
        caption=caption,
        id="design_correlation",
    )
