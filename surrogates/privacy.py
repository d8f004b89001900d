"""Privacy of a synthetic table: does it copy the rows its generator was trained on?

Distance to closest record (DCR): each synthetic row's Euclidean distance to its nearest training row, set against
the same distance for real holdout rows the generator never saw. A generator that generalises puts its rows about as
far from the training rows as fresh real rows are; one that memorises puts them closer, at distance 0 for copies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from sklearn.neighbors import NearestNeighbors

from surrogates.features import FeatureMatrix
from surrogates.fidelity import subsample

COPY_TOLERANCE = 1e-6
"""Distances (in standardised units) at or below this count as exact copies: brute-force neighbour search
computes Euclidean distances through dot products, which leaves rounding noise where the true distance is 0."""


@dataclass(frozen=True)
class Privacy:
    """DCR privacy of a synthetic table (goal: ``ratio`` near 1 or above, ``exact_copies`` and ``closer_share`` low).

    ``dcr_synthetic`` / ``dcr_holdout``: median distance from each synthetic / holdout row to its closest training
    row. ``ratio``: their quotient (≈ 1 fine, ≪ 1 synthetic rows copy training rows; NaN if the holdout median is 0).
    ``exact_copies`` / ``holdout_exact_copies``: share of synthetic / holdout rows at distance 0 from a training row
    (the holdout share is the reference for tables whose rows repeat naturally). ``closer_share``: share of synthetic
    rows closer to the training rows than the holdout's 5th percentile distance (≈ 0.05 when fine).
    """

    dcr_synthetic: float
    dcr_holdout: float
    ratio: float
    exact_copies: float
    holdout_exact_copies: float
    closer_share: float

    def to_dict(self) -> dict:
        return {name: (value if math.isfinite(value) else None) for name, value in vars(self).items()}


def distance_to_closest_record(
    train: pa.Table,
    synth: pa.Table,
    holdout: pa.Table,
    columns: Sequence[str],
    seed: int = 0,
    max_rows: int = 5_000,
    max_train_rows: int | None = None,
) -> Privacy:
    """DCR of ``synth`` and ``holdout`` (real rows never trained on) against ``train`` on ``columns``.

    Rows become vectors in the one-hot layout of ``FeatureMatrix`` fitted on the training rows (standardised numbers,
    missing indicators, one-hot categories). The synthetic and holdout rows are subsampled to at most ``max_rows``
    (seeded); the training rows searched are all of them unless ``max_train_rows`` caps them. A cap hides copies:
    a synthetic row copying a training row left out is as far away as a fresh one (with train 4 × the cap, a
    generator that only copies shows ``exact_copies`` ≈ 0.25 and ``ratio`` ≈ 0.9).
    """
    if not columns:
        raise ValueError("no columns to compare")
    for name, table in (("train", train), ("synthetic", synth), ("holdout", holdout)):
        if table.num_rows == 0:
            raise ValueError(f"the {name} table is empty")
    rng = np.random.default_rng(seed)
    synth, holdout = subsample(synth, max_rows, rng), subsample(holdout, max_rows, rng)
    if max_train_rows is not None:
        train = subsample(train, max_train_rows, rng)
    features = FeatureMatrix(columns, "onehot").fit(train)
    neighbours = NearestNeighbors(n_neighbors=1).fit(features.transform(train))
    d_synth = neighbours.kneighbors(features.transform(synth))[0][:, 0]
    d_holdout = neighbours.kneighbors(features.transform(holdout))[0][:, 0]
    dcr_synth, dcr_holdout = float(np.median(d_synth)), float(np.median(d_holdout))
    return Privacy(
        dcr_synthetic=dcr_synth,
        dcr_holdout=dcr_holdout,
        ratio=dcr_synth / dcr_holdout if dcr_holdout > 0 else math.nan,
        exact_copies=float(np.mean(d_synth <= COPY_TOLERANCE)),
        holdout_exact_copies=float(np.mean(d_holdout <= COPY_TOLERANCE)),
        closer_share=float(np.mean(d_synth < np.quantile(d_holdout, 0.05))),
    )
