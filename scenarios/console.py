"""Terminal output of the CLI: KPI tables and progress bars (rich)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.objective import parse_objective


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}g}"


def _ci(entry: dict[str, Any]) -> str:
    if entry.get("half_width") is None:
        return ""
    return f"± {_fmt(entry['half_width'], 2)}"


def kpi_tables(summary: dict[str, Any]) -> list[Table]:
    """A plant KPI table and a station table from a run summary."""
    scenario = summary["scenario"]
    n = summary["replications"]
    title = f"{scenario['name']} — {n} replication{'s' if n > 1 else ''}, seed {summary['seed']}"
    plant = Table(title=title, box=box.SIMPLE_HEAD)
    plant.add_column("KPI")
    plant.add_column("mean", justify="right")
    plant.add_column("95 % CI", justify="right")
    plant.add_column("unit")
    for name, entry in summary["kpis"].items():
        plant.add_row(name, _fmt(entry["mean"]), _ci(entry), entry["unit"])
    stations = Table(
        title="stations: shares of machine time in %, queue in jobs, wait in " + scenario["time_unit"],
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    stations.add_column("station")
    columns = {
        "utilisation": "busy %",
        "blocked": "blocked %",
        "starved": "starved %",
        "down": "down %",
        "setup": "setup %",
        "off_shift": "off-shift %",
        "oee": "OEE %",
        "queue_mean": "queue",
        "wait_mean": "wait",
    }
    present = [k for k in columns if any((e.get(k) or {}).get("mean") for e in summary["stations"].values())]
    shown = [
        k for k in columns if k in ("utilisation", "blocked", "starved", "queue_mean", "wait_mean") or k in present
    ]
    for kpi in shown:
        stations.add_column(columns[kpi], justify="right")
    for station, entries in summary["stations"].items():
        cells = []
        for kpi in shown:
            scale, digits = (100, 1) if columns[kpi].endswith("%") else (1, 2)
            cells.append(_cell(entries.get(kpi), scale, digits))
        label = f"{station} ★" if station == summary.get("bottleneck") else station
        stations.add_row(label, *cells)
    if summary.get("bottleneck"):
        stations.caption = "★ bottleneck (longest active periods)"
    return [plant, stations]


def _cell(entry: dict[str, Any] | None, scale: float, digits: int) -> str:
    if not entry or entry.get("mean") is None:
        return "–"
    text = f"{entry['mean'] * scale:.{digits}f}"
    if entry.get("half_width") is not None:
        text += f"±{entry['half_width'] * scale:.{digits}f}"
    return text


@contextlib.contextmanager
def progress_bar(console: Console, label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(done)``; shows a rich progress bar when enabled (and nothing otherwise)."""
    if not enabled:
        yield lambda done: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=done)


def whatif_table(summary: dict[str, Any]) -> Table:
    """Variants (ranked) × main KPIs: mean ± CI and the paired difference to the base (* = significant)."""
    objective = parse_objective(summary["objective"]).kpi
    kpis = list(dict.fromkeys([objective, "throughput", "cycle_time_mean", "wip_mean", "late_share"]))
    kpis = [k for k in kpis if k in summary["units"]]
    table = Table(
        title=f"what-if: {summary['replications']} replications per variant, common random numbers, "
        f"ranked by {summary['objective']}  (Δ = paired difference to base, * = 95 % CI excludes 0)"
    )
    table.add_column("rank", justify="right")
    table.add_column("variant")
    for kpi in kpis:
        table.add_column(f"{kpi} [{summary['units'][kpi]}]", justify="right")
    for rank, name in enumerate(summary["ranking"], start=1):
        cells = []
        for kpi in kpis:
            entry = summary["variants"][name][kpi]
            text = f"{_fmt(entry['mean'])} {_ci(entry)}".strip()
            diff = summary["differences"].get(name, {}).get(kpi)
            if diff and diff["mean"] is not None:
                text += f"\nΔ {diff['mean']:+.4g} {_ci(diff)}{' *' if diff['significant'] else ''}"
            cells.append(text)
        table.add_row(str(rank), name, *cells)
    return table
