"""``latents fit`` and ``latents score``: a VAE fitted on a dataset's normal operations, and rows scored by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from scenarios.augment import card_hash
from scenarios.augment_data import load_operations, scenario_of
from scenarios.latents_data import Monitored, monitored
from sim.errors import ShopfloorError
from sim.files import write_parquet
from surrogates.features import category_values
from surrogates.training import Progress
from surrogates.vae import ProcessVAE


def _rows(dataset: Path) -> tuple[Monitored, str]:
    card, table = load_operations(dataset)
    return monitored(scenario_of(card, dataset), table), card.scenario_hash


def fit_command(
    dataset: Path,
    out: Path,
    latent_dim: int = 8,
    beta: float = 1.0,
    window: int = 1,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: Progress | None = None,
) -> ProcessVAE:
    """Fit a VAE on the dataset's operations after the warm-up without an active injected fault; save it in ``out``."""
    if out.exists() and not out.is_dir():
        raise ShopfloorError(f"--out {out}: exists and is not a folder (a model is a folder of two files)")
    rows, scenario_hash = _rows(dataset)
    normal = category_values(rows.table["fault"]) == "none"
    if not normal.any():
        raise ShopfloorError(f"{dataset}: every operation has an injected fault active; nothing normal to learn")
    keep = pa.array(np.flatnonzero(normal))
    table, streams = rows.table.take(keep), rows.streams[normal]
    vae = ProcessVAE(latent_dim=latent_dim, beta=beta, window=window, epochs=epochs, seed=seed, device=device)
    metadata = {
        "dataset": str(dataset),
        "card_sha256": card_hash(dataset),
        "scenario_hash": scenario_hash,
        "columns": list(rows.columns),
    }
    try:
        vae.fit(table, rows.columns, group="station", streams=streams, progress=progress, metadata=metadata)
    except ValueError as exc:
        raise ShopfloorError(f"{dataset}: {exc}") from None
    try:
        vae.save(out)
    except (OSError, ValueError) as exc:
        raise ShopfloorError(f"--out {out}: cannot write the model ({exc})") from None
    return vae


def score_command(model: Path, dataset: Path, out: Path, device: str = "auto") -> pa.Table:
    """The dataset's operations after the warm-up (sorted by machine and time) with latent and score columns."""
    if out.is_dir():
        raise ShopfloorError(f"--out {out}: is a folder; give the Parquet file to write")
    try:
        vae = ProcessVAE.load(model, device=device)
    except (OSError, ValueError) as exc:
        raise ShopfloorError(f"{model}: not a loadable shopfloor VAE ({exc})") from None
    rows, _ = _rows(dataset)
    absent = [c for c in vae.encoder.columns if c not in rows.table.column_names]
    if absent:
        raise ShopfloorError(f"{dataset}: the operations lack column(s) {absent} that the model {model} was fitted on")
    try:
        codes = vae.encode(rows.table, rows.streams)
        scores = vae.score(rows.table, rows.streams)
    except ValueError as exc:
        raise ShopfloorError(f"{dataset}: {exc}") from None
    table = rows.table
    for k in range(vae.latent_dim):
        table = table.append_column(f"latent_{k}", pa.array(codes.mean[:, k]))
    for k in range(vae.latent_dim):
        table = table.append_column(f"latent_var_{k}", pa.array(codes.variance[:, k]))
    table = table.append_column("score", pa.array(scores))
    write_parquet(out, table)
    return table
