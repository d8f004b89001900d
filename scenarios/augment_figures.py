"""Plain data behind the augmentation report's figures (the report draws; it computes nothing)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from scenarios.defect_model import quality_stations
from sim.spec import Scenario
from surrogates.features import category_values, numeric_values

BINS = 30


def marginals(real: pa.Table, synthetic: pa.Table, scenario: Scenario) -> list[dict[str, Any]]:
    """Per quality station and process parameter: histogram densities of real and synthetic rows on shared bins.

    Bins span the 0.5–99.5 % quantiles of both together, so a synthetic tail shows as mass in the end bins.
    """
    out: list[dict[str, Any]] = []
    real_station = category_values(real.column("station"))
    synth_station = category_values(synthetic.column("station"))
    for station in quality_stations(scenario):
        for name, spec in scenario.stations[station].parameters.items():
            r = numeric_values(real.column(name))[real_station == station]
            s = numeric_values(synthetic.column(name))[synth_station == station]
            r, s = r[~np.isnan(r)], s[~np.isnan(s)]
            if r.size < 2 or s.size < 2:
                continue
            low, high = np.quantile(np.r_[r, s], [0.005, 0.995])
            if not high > low:
                continue
            edges = np.linspace(low, high, BINS + 1)
            out.append(
                {
                    "station": station,
                    "column": name,
                    "unit": spec.unit,
                    "best": spec.optimum,
                    "edges": edges.tolist(),
                    "real": np.histogram(np.clip(r, low, high), edges, density=True)[0].tolist(),
                    "synthetic": np.histogram(np.clip(s, low, high), edges, density=True)[0].tolist(),
                    "rows": {"real": int(r.size), "synthetic": int(s.size)},
                }
            )
    return out
