"""Terminal output of the CLI: KPI tables and progress bars (rich)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


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
    plant = Table(title=title)
    plant.add_column("KPI")
    plant.add_column("mean", justify="right")
    plant.add_column("95 % CI", justify="right")
    plant.add_column("unit")
    for name, entry in summary["kpis"].items():
        plant.add_row(name, _fmt(entry["mean"]), _ci(entry), entry["unit"])
    stations = Table(title="stations: shares of machine time in %, queue in jobs, wait in " + scenario["time_unit"])
    stations.add_column("station")
    columns = {
        "utilisation": "busy %",
        "blocked": "blocked %",
        "starved": "starved %",
        "queue_mean": "queue",
        "wait_mean": "wait",
    }
    for header in columns.values():
        stations.add_column(header, justify="right")
    for station, entries in summary["stations"].items():
        cells = []
        for kpi, header in columns.items():
            scale, digits = (100, 1) if header.endswith("%") else (1, 2)
            entry = entries[kpi]
            mean = None if entry["mean"] is None else entry["mean"] * scale
            half = None if entry["half_width"] is None else entry["half_width"] * scale
            cells.append(
                f"{mean:.{digits}f}" + (f"±{half:.{digits}f}" if half is not None else "") if mean is not None else "–"
            )
        stations.add_row(station, *cells)
    return [plant, stations]


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
