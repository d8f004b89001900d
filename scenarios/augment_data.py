"""Data of the augmentation protocol: training and fresh test replications, and the three regimes.

Training rows come from one dataset (``shopfloor generate``, seed s), test rows from *fresh* replications of the
same scenario generated with another seed: no model and no hyper-parameter choice sees them. Only operations at
stations with a quality model are used (the only ones that can create a defect); test rows are those without an
active fault, where the simulator's true probability is a function of what the row shows (the oracle's ceiling is
reachable in principle). Validation rows, for early stopping, are split off *before* any augmentation.

Regimes (per seed):

- ``full``: every training replication but the last fifth, which is the validation set.
- ``scarce``: a short history, contiguous in time from a seeded starting replication, that ends at its
  ``scarce_defects``-th defect; its last fifth (in time) is the validation set. A new line or product.
- ``new_type``: as ``full``, but only ``new_type_examples`` rows of one defect type are kept (a seeded choice,
  spread over training and validation in proportion), the others removed; the target is that type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scenarios.defect_model import fault_free, quality_stations, stations_mask
from sim.card import CARD_NAME, DatasetCard
from sim.dataset import generate
from sim.errors import ShopfloorError
from sim.spec import Scenario, scenario_from_dict
from surrogates.features import category_values

REGIMES = ("full", "scarce", "new_type")
VALIDATION_SHARE = 0.2


@dataclass(frozen=True)
class Task:
    """What is predicted from what: the feature columns (role ``feature`` on the card) and the target."""

    features: tuple[str, ...]
    stations: tuple[str, ...]
    defect_type: str | None  # None: any defect (``defect``); else that type (``new_type``)

    def target(self, table: pa.Table) -> np.ndarray:
        """The target of each row (bool)."""
        if self.defect_type is None:
            return table.column("defect").to_numpy(zero_copy_only=False).astype(bool)
        return category_values(table.column("defect_type")) == self.defect_type


@dataclass(frozen=True)
class Split:
    """One regime's training and validation rows for one seed (test rows are shared by all)."""

    regime: str
    seed: int
    task: Task
    train: pa.Table
    validation: pa.Table

    @property
    def y_train(self) -> np.ndarray:
        return self.task.target(self.train)

    @property
    def y_validation(self) -> np.ndarray:
        return self.task.target(self.validation)


def load_operations(folder: Path) -> tuple[DatasetCard, pa.Table]:
    """A dataset's card and its operation rows."""
    card = DatasetCard.load(folder)
    path = Path(folder) / card.files["operations"]
    try:
        return card, pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ShopfloorError(f"{path}: not a readable Parquet file ({exc})") from None


def scenario_of(card: DatasetCard, folder: Path) -> Scenario:
    """The scenario a dataset was generated from (its canonical text on the card)."""
    return scenario_from_dict(json.loads(card.scenario), source=str(Path(folder) / CARD_NAME))


def ensure_dataset(
    scenario: Scenario,
    rows: int,
    folder: Path,
    seed: int,
    workers: int | None,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Generate a dataset into ``folder`` unless one of this scenario, seed and size is already there."""
    card_path = folder / CARD_NAME
    if card_path.is_file():
        try:
            card = DatasetCard.load(folder)
            if (card.scenario_hash, card.seed, card.rows["operations"]) == (scenario.content_hash, seed, rows):
                return folder
        except ShopfloorError:
            pass  # unreadable: generated afresh
    generate(scenario, rows, folder, seed=seed, workers=workers, progress=progress, command="shopfloor augment")
    return folder


def task_rows(scenario: Scenario, table: pa.Table, card: DatasetCard) -> tuple[Task, pa.Table]:
    """The rows at quality stations and the task's feature columns."""
    stations = tuple(quality_stations(scenario))
    if not stations:
        raise ShopfloorError(f"{scenario.source}: no station has a quality model, so no operation creates a defect")
    features = tuple(card.names("operations", "feature"))
    return Task(features, stations, None), table.filter(pa.array(stations_mask(table, stations)))


def fault_free_rows(table: pa.Table) -> pa.Table:
    """Fault-free rows (see the module docstring)."""
    return table.filter(pa.array(fault_free(table)))


def _replications(table: pa.Table) -> np.ndarray:
    return table.column("replication").to_numpy()


def _by_replication(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Training replications and the last fifth of them (validation)."""
    reps = np.unique(_replications(table))
    if len(reps) < 2:
        raise ShopfloorError("the training data holds one replication: at least two are needed to split validation")
    n_val = max(1, round(VALIDATION_SHARE * len(reps)))
    is_val = np.isin(_replications(table), reps[-n_val:])
    return table.filter(pa.array(~is_val)), table.filter(pa.array(is_val))


def full_split(task: Task, table: pa.Table, seed: int) -> Split:
    train, validation = _by_replication(table)
    return Split("full", seed, task, train, validation)


def scarce_split(task: Task, table: pa.Table, seed: int, defects: int) -> Split:
    """A short history ending at its ``defects``-th defect, from a seeded starting replication."""
    reps = np.unique(_replications(table))
    start_rep = reps[np.random.default_rng([seed, 1]).integers(len(reps))]
    first = int(np.flatnonzero(_replications(table) == start_rep)[0])
    order = np.r_[first : table.num_rows, 0:first]  # wraps round to the first replications
    y = task.target(table)[order]
    cumulative = np.cumsum(y)
    if cumulative[-1] < defects:
        raise ShopfloorError(
            f"the training data holds {int(cumulative[-1])} defects; the scarce regime needs {defects}"
        )
    end = int(np.searchsorted(cumulative, defects)) + 1
    history = order[:end]
    cut = round((1 - VALIDATION_SHARE) * end)
    return Split("scarce", seed, task, table.take(history[:cut]), table.take(history[cut:]))


def new_type_split(task: Task, table: pa.Table, seed: int, defect_type: str, examples: int) -> Split:
    """``full`` with only ``examples`` rows of ``defect_type`` kept (seeded), the target being that type."""
    typed = Task(task.features, task.stations, defect_type)
    train, validation = _by_replication(table)
    rng = np.random.default_rng([seed, 2])
    n_train = int(typed.target(train).sum())
    n_val = int(typed.target(validation).sum())
    if n_train + n_val < examples or n_train < 2:
        raise ShopfloorError(f"defect type {defect_type!r} has {n_train + n_val} rows; new_type needs {examples}")
    keep_val = min(n_val, round(examples * n_val / (n_train + n_val)), examples - 2)  # ≥ 2 to train on
    parts = []
    for part, keep in ((train, examples - keep_val), (validation, keep_val)):
        positives = np.flatnonzero(typed.target(part))
        dropped = rng.choice(positives, size=len(positives) - keep, replace=False)
        mask = np.ones(part.num_rows, dtype=bool)
        mask[dropped] = False
        parts.append(part.filter(pa.array(mask)))
    return Split("new_type", seed, typed, parts[0], parts[1])


def rarest_driven_type(scenario: Scenario, table: pa.Table) -> str:
    """The least frequent defect type that has a driver parameter (so it can be learned), else the rarest."""
    counts = pc.value_counts(table.column("defect_type").combine_chunks().dictionary_decode()).to_pylist()
    seen = {c["values"]: c["counts"] for c in counts if c["values"] is not None}
    driven = {
        kind
        for name in quality_stations(scenario)
        for kind, t in scenario.stations[name].quality.types.items()
        if t.driver
    }
    pool = {k: n for k, n in seen.items() if k in driven} or seen
    if not pool:
        raise ShopfloorError(f"{scenario.source}: the training data holds no defect")
    return min(sorted(pool), key=lambda k: pool[k])
