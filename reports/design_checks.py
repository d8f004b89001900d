"""How the decisions of a sweep's design go together: the design-correlation table and the warning.

The measures come with the sweep's summary (``scenarios.sweep``: Pearson r, Cramér's V, the correlation ratio η);
decisions that go together mix their effects in the raw level means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reports.model import Table, format_number

CORRELATED = 0.3  # the threshold of the design-correlation warning (as in scenarios.sweep)
MEASURES = {"pearson": "Pearson r", "cramers_v": "Cramér's V", "correlation_ratio": "correlation ratio η"}
MAX_PAIRS = 15  # pairs of decisions the design table lists
LISTED = 4  # correlated pairs a warning names (the strongest); the design table lists more


def correlation_warning(
    pairs: Sequence[Mapping[str, Any]], threshold: float = CORRELATED, points: int | None = None
) -> str:
    """A warning naming the decisions that go together in the design (|measure| > threshold); "" if none."""
    found = sorted(
        (p for p in pairs if p.get("value") is not None and abs(p["value"]) > threshold), key=lambda p: -abs(p["value"])
    )
    if not found:
        return ""
    listed = "; ".join(
        f"{p['a']} and {p['b']} ({MEASURES.get(p.get('measure', ''), p.get('measure', ''))} = "
        f"{format_number(p['value'])})"
        for p in found[:LISTED]
    )
    more = f" and {len(found) - LISTED} more pairs (see the Design section)" if len(found) > LISTED else ""
    chance = (
        f" With {points} points, chance alone gives correlations of about ±{format_number(1 / math.sqrt(points))}: "
        "more points make the design more nearly orthogonal."
        if points and points > 3
        else ""
    )
    return (
        f"Warning: decisions correlated in the design (above {threshold:g}): {listed}{more}. The raw level means of "
        f"these decisions mix their effects; read the regression-adjusted effects.{chance}"
    )


def design_correlation_table(pairs: Sequence[Mapping[str, Any]]) -> Table | None:
    """The strongest pairs of decisions with their measure; None without pairs."""
    every = sorted(pairs, key=lambda p: -abs(p["value"]))
    if not every:
        return None
    shown = every[:MAX_PAIRS]
    caption = "How the decisions go together over the design's points, strongest first"
    if len(every) > MAX_PAIRS:
        caption += f" (the {len(shown)} strongest of {len(every)} pairs; all in summary.json)"
    return Table(
        ["decision", "decision", "measure", "value", f"above {CORRELATED:g}"],
        [
            [p["a"], p["b"], MEASURES.get(p["measure"], p["measure"]), p["value"], abs(p["value"]) > CORRELATED]
            for p in shown
        ],
        caption=caption,
        id="design_correlation",
    )
