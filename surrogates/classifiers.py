"""The two frozen defect classifiers of the utility protocol, on Arrow tables.

``strong``: histogram gradient boosting on the ordinal layout (categories as native categorical splits, NaN kept).
``weak``: L2 logistic regression on the one-hot layout (standardised, NaN -> 0 plus a missing indicator).
Hyper-parameters are fixed so that the arms of the protocol differ only in the rows and weights trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from surrogates.features import FeatureMatrix

Kind = Literal["strong", "weak"]

BOOSTING = {"learning_rate": 0.1, "max_leaf_nodes": 31, "l2_regularization": 0.0}
BOOSTING_MAX_ITER = 500  # with a validation set: early stopping decides
BOOSTING_FIXED_ITER = 200  # without one
BOOSTING_PATIENCE = 10
LOGISTIC = {"C": 1.0, "solver": "lbfgs", "max_iter": 2000}


class DefectClassifier:
    """P(defect) from the given feature ``columns`` of an operations table."""

    def __init__(self, kind: Kind, columns: Sequence[str], seed: int = 0):
        if kind not in ("strong", "weak"):
            raise ValueError(f"kind must be 'strong' or 'weak', got {kind!r}")
        self.kind = kind
        self.columns = tuple(columns)
        self.seed = seed

    def fit(
        self,
        table: pa.Table,
        y: np.ndarray,
        weight: np.ndarray | None = None,
        validation: tuple[pa.Table, np.ndarray] | None = None,
    ) -> DefectClassifier:
        """Train on ``table`` (features fitted on these rows); ``validation`` only stops boosting early.

        The weak classifier has nothing to stop and ignores ``validation``.
        """
        y = np.asarray(y, dtype=bool)
        if weight is not None:
            weight = np.asarray(weight, dtype=np.float64)
            # unit weights as None: boosting bins weighted data with a much slower percentile routine
            weight = None if np.all(weight == 1.0) else weight
        layout = "ordinal" if self.kind == "strong" else "onehot"
        self.features_ = FeatureMatrix(self.columns, layout).fit(table)
        x = self.features_.transform(table)
        if self.kind == "weak":
            self.model_ = LogisticRegression(**LOGISTIC, random_state=self.seed).fit(x, y, sample_weight=weight)
            return self
        mask = self.features_.categorical_mask
        model = HistGradientBoostingClassifier(
            **BOOSTING,
            max_iter=BOOSTING_MAX_ITER if validation is not None else BOOSTING_FIXED_ITER,
            early_stopping=validation is not None,
            n_iter_no_change=BOOSTING_PATIENCE,
            categorical_features=mask if mask.any() else None,
            random_state=self.seed,
        )
        if validation is None:
            self.model_ = model.fit(x, y, sample_weight=weight)
            return self
        val_table, val_y = validation
        val_y = np.asarray(val_y, dtype=bool)
        self.model_ = model.fit(
            x,
            y,
            sample_weight=weight,
            X_val=self.features_.transform(val_table),
            y_val=val_y,
            sample_weight_val=_matching_odds(y, weight, val_y),
        )
        return self

    def predict_proba(self, table: pa.Table) -> np.ndarray:
        """P(y = 1) for each row, on the class prior the model was trained on."""
        return self.model_.predict_proba(self.features_.transform(table))[:, 1]

    @property
    def n_iter(self) -> int | None:
        """Boosting iterations used (None for the weak classifier)."""
        return int(self.model_.n_iter_) if self.kind == "strong" else None


def _matching_odds(y: np.ndarray, weight: np.ndarray | None, val_y: np.ndarray) -> np.ndarray:
    """Validation weights giving the validation rows the training rows' weighted class odds.

    Oversampling and class weights move the prior the model learns; scoring its log loss on validation rows at the
    real prior would stop boosting for the wrong reason (miscalibration, not overfitting).
    """
    val_weight = np.ones(len(val_y))
    if weight is None:
        weight = np.ones(len(y))
    positive, negative = weight[y].sum(), weight[~y].sum()
    val_positive, val_negative = val_y.sum(), (~val_y).sum()
    if min(positive, negative, val_positive, val_negative) > 0:
        val_weight[val_y] = (positive / negative) / (val_positive / val_negative)
    return val_weight
