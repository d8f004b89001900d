"""The simulator's true defect model applied to a table of operation rows: the oracle and the physics check.

``sim.quality`` documents the mechanism: logit p = logit(base_rate) + Σ_k weight_k · z_k² + wear_weight · wear
(+ a degradation fault's logit), z_k = (value_k − best_k) / tolerance_k, and given a defect its type is drawn
∝ share × (1 + weight · z² of the type's driver). Applied here to what a row *shows* (its recorded parameter
readings and wear), so it can score any row, real or synthetic. On rows without an active fault the readings
are the true values and this equals the recorded ``defect_prob`` exactly: the ceiling is reachable in principle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
from sklearn.linear_model import LogisticRegression

from sim.spec import Scenario
from surrogates.features import category_values, numeric_values


def quality_stations(scenario: Scenario) -> list[str]:
    """Stations whose operations can create defects (they have a quality model)."""
    return [name for name, st in scenario.stations.items() if st.quality is not None]


def _z(station_spec, table: pa.Table, rows: np.ndarray) -> dict[str, np.ndarray]:
    return {
        name: (numeric_values(table.column(name))[rows] - p.optimum) / p.tolerance
        for name, p in station_spec.parameters.items()
    }


def _wear(table: pa.Table, rows: np.ndarray) -> np.ndarray:
    wear = numeric_values(table.column("wear"))[rows] if "wear" in table.column_names else np.zeros(len(rows))
    return np.nan_to_num(wear, nan=0.0)


def true_probability(scenario: Scenario, table: pa.Table, defect_type: str | None = None) -> np.ndarray:
    """Per row, the true probability of a defect (of ``defect_type`` if given) under the scenario's mechanism.

    Rows at stations without a quality model get 0, as do rows at stations that cannot create that type.
    """
    stations = category_values(table.column("station"))
    p = np.zeros(table.num_rows)
    for name in quality_stations(scenario):
        spec = scenario.stations[name]
        rows = np.flatnonzero(stations == name)
        if not rows.size or (defect_type is not None and defect_type not in spec.quality.types):
            continue
        z = _z(spec, table, rows)
        base = spec.quality.base_rate
        logit = np.log(base / (1 - base)) + spec.quality.wear_weight * _wear(table, rows)
        for param, values in z.items():
            logit += spec.parameters[param].weight * values**2
        prob = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 35)))
        prob[logit > 35] = 1.0
        if defect_type is not None:
            weights = {
                kind: t.share * (1.0 + (spec.parameters[t.driver].weight * z[t.driver] ** 2 if t.driver else 0.0))
                for kind, t in spec.quality.types.items()
            }
            prob = prob * weights[defect_type] / sum(weights.values())
        p[rows] = prob
    return p


@dataclass(frozen=True)
class Coefficient:
    """One term of a station's defect logit: the scenario's value and the values refitted on real and on synthetic
    rows (real negatives with real or synthetic positives)."""

    station: str
    term: str  # "intercept", "wear" or "<parameter>²"
    true: float
    real: float | None
    synthetic: float | None


def _design(spec, table: pa.Table, rows: np.ndarray) -> tuple[list[str], np.ndarray]:
    z = _z(spec, table, rows)
    columns = [z[name] ** 2 for name in spec.parameters]
    names = [f"{name}²" for name in spec.parameters]
    if spec.quality.wear_weight:
        columns.append(_wear(table, rows))
        names.append("wear")
    return names, np.column_stack(columns) if columns else np.zeros((len(rows), 0))


def _refit(spec, negatives: pa.Table, positives: pa.Table, real_positives: int, station: str) -> dict[str, float]:
    """Logistic refit of a station's logit terms; positives are weighted back to the real defect share."""
    rows_neg = np.flatnonzero(category_values(negatives.column("station")) == station)
    rows_pos = np.flatnonzero(category_values(positives.column("station")) == station)
    if rows_pos.size < 5 or rows_neg.size < 5:
        return {}
    names, x_neg = _design(spec, negatives, rows_neg)
    _, x_pos = _design(spec, positives, rows_pos)
    x = np.vstack([x_neg, x_pos])
    y = np.r_[np.zeros(len(x_neg)), np.ones(len(x_pos))]
    weight = np.r_[np.ones(len(x_neg)), np.full(len(x_pos), real_positives / len(x_pos))]
    finite = np.isfinite(x).all(axis=1)
    model = LogisticRegression(C=1e4, max_iter=5000).fit(x[finite], y[finite], sample_weight=weight[finite])
    return {"intercept": float(model.intercept_[0]), **dict(zip(names, map(float, model.coef_[0]), strict=True))}


def refit_mechanism(
    scenario: Scenario, real: pa.Table, y: np.ndarray, synthetic_positives: pa.Table
) -> list[Coefficient]:
    """Refit the defect logit per quality station on real rows, and on real negatives + synthetic positives."""
    negatives, positives = real.filter(pa.array(~y)), real.filter(pa.array(y))
    stations = category_values(positives.column("station"))
    out: list[Coefficient] = []
    for name in quality_stations(scenario):
        spec = scenario.stations[name]
        real_pos = int((stations == name).sum())
        fitted_real = _refit(spec, negatives, positives, real_pos, name)
        fitted_synth = _refit(spec, negatives, synthetic_positives, real_pos, name)
        base = spec.quality.base_rate
        true = {"intercept": float(np.log(base / (1 - base)))}
        true |= {f"{p}²": spec.parameters[p].weight for p in spec.parameters}
        if spec.quality.wear_weight:
            true["wear"] = spec.quality.wear_weight
        for term, value in true.items():
            out.append(Coefficient(name, term, value, fitted_real.get(term), fitted_synth.get(term)))
    return out


@dataclass(frozen=True)
class PhysicsCheck:
    """Mean true defect probability of synthetic defect rows against real defect rows and all real rows."""

    synthetic_defects: float
    real_defects: float
    all_rows: float
    relative_gap: float  # synthetic / real − 1
    coefficients: tuple[Coefficient, ...]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["coefficients"] = [asdict(c) for c in self.coefficients]
        return data


def physics_check(
    scenario: Scenario,
    real: pa.Table,
    y: np.ndarray,
    synthetic_positives: pa.Table,
    defect_type: str | None = None,
) -> PhysicsCheck:
    """Apply the true mechanism to synthetic positive rows, and refit it on them (see the module docstring)."""
    p_synth = true_probability(scenario, synthetic_positives, defect_type)
    p_real = true_probability(scenario, real, defect_type)
    synth, real_pos = float(p_synth.mean()), float(p_real[y].mean())
    return PhysicsCheck(
        synthetic_defects=synth,
        real_defects=real_pos,
        all_rows=float(p_real.mean()),
        relative_gap=synth / real_pos - 1.0 if real_pos > 0 else float("nan"),
        coefficients=tuple(refit_mechanism(scenario, real, y, synthetic_positives)),
    )


def fault_free(table: pa.Table) -> np.ndarray:
    """Rows with no injected fault active (their readings are the true process values)."""
    if "fault" not in table.column_names:
        return np.ones(table.num_rows, dtype=bool)
    return category_values(table.column("fault")) == "none"


def stations_mask(table: pa.Table, stations: Sequence[str]) -> np.ndarray:
    """Rows at the given stations."""
    return np.isin(category_values(table.column("station")), list(stations))
