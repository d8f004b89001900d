"""The frozen defect classifiers: they learn a planted signal, are seeded, and only stop early on validation rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from surrogates.classifiers import BOOSTING, DefectClassifier, _matching_odds
from surrogates.utility import average_precision


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP threads spinning on a busy machine slow small fits many times over."""
    with threadpool_limits(1):
        yield


COLUMNS = ("product", "station", "machine", "x", "measured", "flag")


def _rows(n: int, seed: int) -> tuple[pa.Table, np.ndarray]:
    """Defects driven by ``x`` and product ``b``; ``measured`` exists only at station ``s1``."""
    rng = np.random.default_rng(seed)
    product = rng.choice(["a", "b"], n)
    station = rng.choice(["s1", "s2"], n)
    x = rng.normal(size=n)
    measured = np.where(station == "s1", rng.normal(size=n), np.nan)
    logit = -4.5 + 2.0 * x + 1.5 * (product == "b")
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    table = pa.table(
        {
            "product": pa.array(product).dictionary_encode(),
            "station": pa.array(station).dictionary_encode(),
            "machine": pa.array(rng.integers(0, 3, n), pa.int16()),
            "x": x,
            "measured": measured,
            "flag": rng.random(n) < 0.5,
        }
    )
    return table, y


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[pa.Table, np.ndarray]]:
    return {"train": _rows(4_000, 0), "validation": _rows(2_000, 1), "test": _rows(4_000, 2)}


@pytest.mark.parametrize("kind", ["strong", "weak"])
def test_learns_planted_signal_and_is_seeded(kind: str, data) -> None:
    (train, y), validation, (test, y_test) = data["train"], data["validation"], data["test"]
    first = DefectClassifier(kind, COLUMNS, seed=3).fit(train, y, validation=validation).predict_proba(test)
    again = DefectClassifier(kind, COLUMNS, seed=3).fit(train, y, validation=validation).predict_proba(test)
    assert first.shape == (test.num_rows,)
    assert np.array_equal(first, again)
    assert average_precision(y_test, first) > 4 * y_test.mean()


def test_validation_rows_only_stop_boosting(data) -> None:
    (train, y), (val, y_val) = data["train"], data["validation"]
    clf = DefectClassifier("strong", COLUMNS).fit(train, y, validation=(val, y_val))
    assert clf.n_iter < 500
    # the same model trained on the training rows alone for the iterations early stopping chose
    alone = HistGradientBoostingClassifier(
        **BOOSTING,
        max_iter=clf.n_iter,
        early_stopping=False,
        categorical_features=clf.features_.categorical_mask,
        random_state=0,
    ).fit(clf.features_.transform(train), y)
    assert np.allclose(clf.predict_proba(val), alone.predict_proba(clf.features_.transform(val))[:, 1])


def test_without_validation_boosting_runs_fixed_iterations(data) -> None:
    train, y = data["train"]
    assert DefectClassifier("strong", COLUMNS).fit(train, y).n_iter == 200


def test_weak_classifier_ignores_validation_and_takes_weights(data) -> None:
    (train, y), validation, (test, _) = data["train"], data["validation"], data["test"]
    plain = DefectClassifier("weak", COLUMNS).fit(train, y).predict_proba(test)
    assert np.array_equal(
        plain, DefectClassifier("weak", COLUMNS).fit(train, y, validation=validation).predict_proba(test)
    )
    weight = np.where(y, 10.0, 1.0)
    weighted = DefectClassifier("weak", COLUMNS).fit(train, y, weight=weight).predict_proba(test)
    assert weighted.mean() > 3 * plain.mean()


def test_validation_weights_match_training_odds() -> None:
    y = np.array([1, 0, 0, 0], dtype=bool)
    val_y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    w = _matching_odds(y, np.array([6.0, 1, 1, 1]), val_y)
    assert w[val_y].sum() / w[~val_y].sum() == pytest.approx(6.0 / 3.0)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        DefectClassifier("medium", COLUMNS)  # type: ignore[arg-type]
