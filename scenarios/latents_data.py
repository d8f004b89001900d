"""Data of the latent-monitoring protocol: the monitored columns, machine streams and the three datasets.

Training and validation rows come from *fault-free* replications (the scenario with its ``[[faults]]`` removed,
seed s: training replications, and the last fifth of them held out as normal data for alarm thresholds); test rows
from fresh replications of the scenario as written, with its randomised faults (seed s + 1), that no model and no
threshold has seen. Rows of the warm-up are left out (the line is filling up).

Monitored columns describe the process state of an operation: product and machine, tool wear, every measured
process parameter and the *pace* ``(process_time − interrupted) / nominal_time`` (how fast the machine worked,
breakdowns and breaks taken out; rounded to 4 decimals so batch stations' exact ratios stay exact). Logistics
columns (queue, waits, blocking) describe the line, not the machine, and ground truth (role ``truth``) never enters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scenarios.augment_data import ensure_dataset, load_operations
from sim.card import DatasetCard
from sim.errors import ShopfloorError
from sim.spec import Scenario, scenario_from_dict
from surrogates.features import category_values

PACE = "pace"
CATEGORICAL = ("product", "machine")
VALIDATION_SHARE = 0.2


@dataclass(frozen=True)
class Monitored:
    """Operation rows ready for monitoring: sorted by (stream, start), with the pace column and stream ids."""

    table: pa.Table
    streams: np.ndarray  # id of (replication, station, machine) per row
    stations: np.ndarray  # station name per row
    time: np.ndarray  # processing start
    numeric: tuple[str, ...]  # monitored continuous columns (the baselines' inputs)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every monitored column (the VAE's inputs)."""
        return (*CATEGORICAL, *self.numeric)

    def matrix(self) -> np.ndarray:
        """(n, numeric) float matrix of the continuous monitored columns, NaN where a station lacks one."""
        return np.column_stack([self.table[c].to_numpy(zero_copy_only=False).astype(float) for c in self.numeric])

    def replication(self) -> np.ndarray:
        return self.table["replication"].to_numpy()

    def machine(self) -> np.ndarray:
        return self.table["machine"].to_numpy()


def sample_rows(table: pa.Table, seed: int, n: int = 20_000) -> pa.Table:
    """At most ``n`` rows drawn at random (seeded), for statistics of a model over its data (rows are sorted by
    stream, so the first rows would be one replication's first stations)."""
    if table.num_rows <= n:
        return table
    picked = np.sort(np.random.default_rng(seed).choice(table.num_rows, n, replace=False))
    return table.take(pa.array(picked))


def numeric_columns(scenario: Scenario) -> tuple[str, ...]:
    """Tool wear (if any station wears), every process parameter, and the pace."""
    params = list(dict.fromkeys(p for st in scenario.stations.values() for p in st.parameters))
    wear = ["wear"] if any(st.wear is not None for st in scenario.stations.values()) else []
    return (*wear, *params, PACE)


def stream_ids(table: pa.Table) -> np.ndarray:
    """One integer per (replication, station, machine)."""
    keys = np.stack(
        [
            table["replication"].to_numpy().astype(np.int64),
            np.unique(category_values(table["station"]), return_inverse=True)[1].reshape(-1),
            table["machine"].to_numpy().astype(np.int64),
        ],
        axis=1,
    )
    return np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)


def monitored(scenario: Scenario, table: pa.Table) -> Monitored:
    """The rows after the warm-up with the pace added, sorted by stream and start."""
    if "warmup" in table.column_names:
        table = table.filter(pc.invert(table["warmup"]))
    if table.num_rows == 0:
        raise ShopfloorError("no operation rows after the warm-up: nothing to monitor")
    busy = pc.subtract(table["process_time"], table["interrupted"])
    pace = pc.round(pc.divide(busy, pc.max_element_wise(table["nominal_time"], 1e-12)), 4)
    table = table.append_column(PACE, pace)
    streams = stream_ids(table)
    start = table["start"].to_numpy()
    order = np.lexsort([start, streams])
    table = table.take(pa.array(order))
    return Monitored(table, streams[order], category_values(table["station"]), start[order], numeric_columns(scenario))


def without_faults(scenario: Scenario) -> Scenario:
    """The scenario with its injected faults removed (normal operation)."""
    raw = scenario.to_dict()
    raw.pop("faults", None)
    return scenario_from_dict(raw, source=scenario.source)


@dataclass(frozen=True)
class Datasets:
    """Folders of the protocol's datasets and their cards."""

    train: Path
    test: Path
    train_card: DatasetCard
    test_card: DatasetCard


def ensure_datasets(
    scenario: Scenario,
    folder: Path,
    rows: int,
    test_rows: int,
    seed: int,
    workers: int | None,
    test_folder: Path | None = None,
) -> Datasets:
    """Fault-free training data (seed) and test data with faults: ``test_folder`` (a dataset of this scenario
    generated with another seed) or fresh replications (seed + 1), generated unless already there."""
    if not scenario.faults:
        raise ShopfloorError(f"{scenario.source}: the scenario injects no faults ([[faults]]), so nothing to detect")
    if test_folder is not None:
        card = DatasetCard.load(test_folder)
        if card.seed == seed:
            raise ShopfloorError(
                f"{test_folder}: generated with seed {seed}, the training seed: its replications would replay the "
                "training data; pass another --data-seed or generate the test data with another --seed"
            )
    train = ensure_dataset(without_faults(scenario), rows, folder / "train", seed, workers)
    test = test_folder or ensure_dataset(scenario, test_rows, folder / "test", seed + 1, workers)
    return Datasets(train, test, DatasetCard.load(train), DatasetCard.load(test))


def split_validation(rows: Monitored) -> tuple[Monitored, Monitored]:
    """Training replications and the last ones holding at least a fifth of the rows (held-out normal data; a
    dataset's last replication may be cut short by its row count, so a fifth of the replications could be far less)."""
    reps, counts = np.unique(rows.replication(), return_counts=True)
    if len(reps) < 2:
        raise ShopfloorError("the training data holds one replication: at least two are needed to hold out normal data")
    from_end = np.cumsum(counts[::-1])
    n_held = min(int(np.searchsorted(from_end, VALIDATION_SHARE * counts.sum())) + 1, len(reps) - 1)
    held = np.isin(rows.replication(), reps[-n_held:])
    return _subset(rows, ~held), _subset(rows, held)


def _subset(rows: Monitored, keep: np.ndarray) -> Monitored:
    idx = np.flatnonzero(keep)
    table = rows.table.take(pa.array(idx))
    return Monitored(table, rows.streams[idx], rows.stations[idx], rows.time[idx], rows.numeric)


def load_monitored(scenario: Scenario, folder: Path) -> Monitored:
    """A dataset's operation rows prepared for monitoring."""
    return monitored(scenario, load_operations(folder)[1])
