"""``shopfloor augment fit | sample``: a conditional GAN fitted to a dataset's operation rows, and its samples.

The GAN (``surrogates.gan``) models the card's feature columns of the operations at stations that can create a
defect, conditioned on the target (``defect``, or ``defect_type`` with ``none`` for no defect) and on station and
product; structural missingness follows the station. Truth columns other than the condition are never modelled.
The model folder holds ``model.safetensors`` and ``model.json`` (the encoder, hyper-parameters, versions and the
dataset card's hash): loading it runs no code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scenarios.augment_data import Task, load_operations, scenario_of, task_rows
from sim.errors import ShopfloorError
from sim.files import write_parquet
from surrogates.gan import ConditionalGAN
from surrogates.training import Progress

CONDITIONS = ("defect", "defect_type")
NO_DEFECT = "none"  # the defect_type category of rows without a defect
CONTEXT = ("station", "product")  # conditioned on as well; ``station`` decides structural missingness


def gan_table(task: Task, table: pa.Table, condition: str) -> pa.Table:
    """The columns the GAN models: the condition (``defect_type`` nulls as ``none``) and the feature columns."""
    if condition not in CONDITIONS:
        raise ShopfloorError(f"--condition: must be one of {', '.join(CONDITIONS)}, got {condition!r}")
    if condition == "defect":
        target = table.column("defect")
    else:
        decoded = table.column("defect_type").combine_chunks()
        if pa.types.is_dictionary(decoded.type):
            decoded = decoded.dictionary_decode()
        target = pc.fill_null(decoded, NO_DEFECT).dictionary_encode()
    columns = {condition: target} | {name: table.column(name) for name in task.features}
    return pa.table(columns)


def new_gan(
    seed: int, device: str = "auto", epochs: int | None = None, hyper: Mapping[str, Any] | None = None
) -> ConditionalGAN:
    """A GAN with the protocol's hyper-parameters (``hyper`` overrides any of them)."""
    try:
        return ConditionalGAN(**{"epochs": epochs, "seed": seed, "device": device, **(hyper or {})})
    except ValueError as exc:
        raise ShopfloorError(f"--device: {exc}") from None


def fit_gan(
    gan: ConditionalGAN,
    task: Task,
    table: pa.Table,
    condition: str,
    progress: Progress | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ConditionalGAN:
    """Fit ``gan`` on the task's rows of ``table``, conditioned on ``condition`` + station and product."""
    data = gan_table(task, table, condition)
    context = [c for c in CONTEXT if c in data.column_names]
    columns = [c for c in data.column_names if c != condition and c not in context]
    return gan.fit(
        data, columns, condition=[condition, *context], group="station", progress=progress, metadata=metadata
    )


def sample_positives(gan: ConditionalGAN, task: Task, n: int, seed: int) -> pa.Table:
    """``n`` synthetic rows of the task's positive class, in the schema of the real feature columns."""
    condition = {"defect": True} if task.defect_type is None else {"defect_type": task.defect_type}
    return gan.sample(n, condition=condition, seed=seed).select(list(task.features))


def card_hash(folder: Path) -> str:
    """SHA-256 of a dataset card's bytes: which data a model was fitted on."""
    return hashlib.sha256((Path(folder) / "dataset.json").read_bytes()).hexdigest()


def fit_command(
    dataset: Path,
    condition: str,
    out: Path,
    seed: int = 0,
    device: str = "auto",
    epochs: int | None = None,
    progress: Progress | None = None,
) -> ConditionalGAN:
    """``augment fit``: fit a GAN on a dataset folder's operations and save it in ``out``."""
    card, table = load_operations(dataset)
    scenario = scenario_of(card, dataset)
    task, rows = task_rows(scenario, table, card)
    gan = new_gan(seed, device, epochs)
    metadata = {"dataset": str(dataset), "card_sha256": card_hash(dataset), "scenario_hash": card.scenario_hash}
    fit_gan(gan, task, rows, condition, progress, metadata)
    gan.save(out)
    return gan


def parse_where(items: Sequence[str]) -> dict[str, Any]:
    """``["defect=true", "station=reflow"]`` -> ``{"defect": True, "station": "reflow"}``."""
    condition: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ShopfloorError(f"--where {item!r}: expected column=value, e.g. defect=true")
        text = value.strip()
        condition[name.strip()] = {"true": True, "false": False}.get(text.lower(), text)
    return condition


def sample_command(
    model: Path, n: int, where: Sequence[str], out: Path, seed: int = 0, device: str = "auto"
) -> pa.Table:
    """``augment sample``: ``n`` rows from a saved GAN meeting the ``--where`` condition, written to ``out``."""
    if n < 1:
        raise ShopfloorError(f"--n must be ≥ 1, got {n}")
    try:
        gan = ConditionalGAN.load(model, device=device)
    except (OSError, ValueError) as exc:
        raise ShopfloorError(f"{model}: not a loadable shopfloor GAN ({exc})") from None
    try:
        table = gan.sample(n, condition=parse_where(where), seed=seed)
    except ValueError as exc:
        raise ShopfloorError(f"--where: {exc}") from None
    write_parquet(out, table)
    return table


def epoch_printer(write: Callable[[str], None]) -> Progress:
    """A progress callback that writes one line per epoch (for a log, when there is no terminal)."""

    def report(epoch: int, epochs: int, log: Any) -> None:
        losses = ", ".join(f"{k} {v:.3f}" for k, v in log.losses.items())
        write(f"epoch {epoch}/{epochs}: {losses} ({log.seconds:.1f} s)")

    return report


def share_met(table: pa.Table, condition: Mapping[str, Any]) -> float:
    """Share of rows whose condition columns equal the requested values."""
    met = np.ones(table.num_rows, dtype=bool)
    for name, value in condition.items():
        met &= np.asarray(table.column(name).to_pylist(), dtype=object) == value
    return float(met.mean()) if table.num_rows else float("nan")
