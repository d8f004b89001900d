"""Overall equipment effectiveness (OEE) of each station, from its machine states and operations.

Definitions: the OEE index of ISO 22400-2 (OEE = availability × effectiveness × quality ratio), with the time
elements taken from the machine states:

- machine time ``M`` = machines × window length (time without any state row counts as starved);
- planned busy time ``PBT = M − off_shift − maintenance − starved − idle − blocked``: the time the machine has an
  order it can execute. Off-shift time and preventive maintenance are planned; waiting for work (``starved``), for a
  batch or kit to fill (``idle``) and for the line to take a finished part (``blocked``) are losses of the line, not
  of the machine: they show in the state shares and the bottleneck analysis, not in OEE;
- actual production time ``APT = busy``; ``availability = APT / PBT`` (failures and change-overs are its losses,
  so ``PBT = busy + setup + down``);
- ``performance`` (ISO 22400 effectiveness) ``= W / APT``, where ``W`` is the nominal (ideal) work of the station's
  operations that end in the window: the sum of their ``nominal_time``. At a batch station (rows with ``batch`` ≥ 0)
  a batch counts once, scaled by how full it was: ``nominal_time × batch size / max batch size``, where a batch's
  nominal time is that of its longest job (a batch takes as long as its longest job) and the maximum comes from the
  scenario's ``batch.max`` (without one, each batch counts once at its nominal time). Slower-than-nominal
  processing (a slowdown fault, part-full batches) is its loss. It may exceed 1 slightly in a short window: an
  operation counts wholly in the window in which it ends, and actual times scatter around the nominal one;
- ``quality`` (quality ratio) = share of those operations (one per job, also at batch stations) that did not create
  a defect and whose part a breakdown did not destroy (``destroyed``, with ``on_failure = "scrap"``): a destroyed
  part counts as produced and bad, and in ``W`` only with the working time it got before the failure, so
  performance does not credit work that was never done (1 where the records have no ``defect`` column: no quality
  model; NaN when no operation ended in the window);
- ``oee = availability × performance × quality`` (= quality × W / PBT); 0 when the machine had planned busy time
  and nothing ended in the window, NaN without planned busy time.

Records without ``nominal_time`` (the old schema) take the mean of the scenario's processing-time distribution of
each route step; without ``batch`` no station batches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from sim.spec import Scenario
from sim.states import MachineState
from sim.tables import codes, floats

OEE_KPIS = ("availability", "performance", "quality", "oee")
OEE_DEFINITION = "ISO 22400-2"  # recorded in summary.json: runs of older versions counted waiting as a loss
_BUSY, _DOWN, _SETUP = MachineState.BUSY, MachineState.DOWN, MachineState.SETUP


def oee_factors(
    production: float, setup: float, down: float, nominal_work: float, operations: int, defects: int
) -> dict[str, float]:
    """Availability, performance, quality and OEE (ISO 22400) from the production, set-up and down time in the
    planned busy time, the nominal work and the operation counts."""
    planned_busy = production + setup + down
    availability = production / planned_busy if planned_busy > 0 else math.nan
    performance = nominal_work / production if production > 0 else math.nan
    quality = 1 - defects / operations if operations else math.nan
    oee = 0.0 if nominal_work == 0 and planned_busy > 0 else availability * performance * quality
    return {"availability": availability, "performance": performance, "quality": quality, "oee": oee}


def max_batch(scenario: Scenario, station: str) -> float:
    """The station's maximum batch size from the scenario (``batch.max``), NaN where it has none."""
    spec = scenario.stations.get(station)
    batch = getattr(spec, "batch", None)
    if batch is None:
        return math.nan
    size = batch.get("max") if isinstance(batch, Mapping) else getattr(batch, "max", None)
    try:
        return float(size) if size is not None and float(size) > 0 else math.nan
    except (TypeError, ValueError):
        return math.nan


def nominal_times(scenario: Scenario, operations: pa.Table) -> np.ndarray:
    """``nominal_time`` of each operation, or (old schema) the mean processing time of its product's route step."""
    if "nominal_time" in operations.column_names:
        return floats(operations, "nominal_time", math.nan)
    products = list(scenario.products)
    longest = max(len(p.route) for p in scenario.products.values())
    means = np.full((len(products), longest), math.nan)
    for i, product in enumerate(scenario.products.values()):
        means[i, : len(product.route)] = [op.time.mean for op in product.route]
    product = codes(operations["product"], products)
    step = operations["step"].to_numpy(zero_copy_only=False).astype(np.int64)
    known = (product >= 0) & (step >= 0) & (step < longest)
    return np.where(known, means[np.maximum(product, 0), np.clip(step, 0, longest - 1)], math.nan)


def station_oee(
    scenario: Scenario,
    operations: pa.Table,
    state_time: np.ndarray,
    lo: float,
    hi: float,
) -> dict[str, float]:
    """``station.X.{availability, performance, quality, oee}`` for every station of ``scenario``.

    ``state_time`` is the machine time per station (rows, scenario order) and state (columns, ``STATES`` order) in
    the window ``[lo, hi]``.
    """
    names = list(scenario.stations)
    station = codes(operations["station"], names)
    end = floats(operations, "end", math.nan)
    ended = (station >= 0) & (end > lo) & (end <= hi)
    if lo == 0:
        ended |= (station >= 0) & (end == 0)
    station = station[ended]
    nominal = np.nan_to_num(nominal_times(scenario, operations)[ended])
    batch = np.nan_to_num(floats(operations, "batch", -1)[ended], nan=-1).astype(np.int64)
    destroyed = floats(operations, "destroyed", 0)[ended] > 0
    defect = (floats(operations, "defect", 0)[ended] > 0) | destroyed
    # a part destroyed by a breakdown got only part of its work: credit the working time it had, not the nominal
    worked = (floats(operations, "end", math.nan) - floats(operations, "start", math.nan))[ended]
    worked -= floats(operations, "interrupted", 0)[ended]
    nominal = np.where(destroyed, np.minimum(np.nan_to_num(worked), nominal), nominal)

    # each operation's share of the nominal work: a batch counts once, its nominal time (that of its longest job)
    # × its size / the station's max batch size, shared equally by its jobs
    credit = nominal.copy()
    batched = batch >= 0
    if batched.any():
        pairs = np.stack([station[batched], batch[batched]])
        groups, inverse, size = np.unique(pairs, axis=1, return_inverse=True, return_counts=True)
        longest = np.full(size.size, 0.0)
        np.maximum.at(longest, inverse.ravel(), nominal[batched])
        capacity = np.array([max_batch(scenario, name) for name in names])[groups[0]]
        full = np.where(np.isnan(capacity), size, capacity)
        credit[batched] = (longest / full)[inverse.ravel()]
    work = np.bincount(station, weights=credit, minlength=len(names)).astype(float)
    count = np.bincount(station, minlength=len(names))
    defects = np.bincount(station, weights=defect, minlength=len(names))

    out: dict[str, float] = {}
    for i, name in enumerate(names):
        factors = oee_factors(
            state_time[i, _BUSY],
            state_time[i, _SETUP],
            state_time[i, _DOWN],
            float(work[i]),
            int(count[i]),
            int(defects[i]),
        )
        out.update({f"station.{name}.{key}": factors[key] for key in OEE_KPIS})
    return out
