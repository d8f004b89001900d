"""Overall equipment effectiveness (OEE) of each station, from its machine states and operations.

Definitions (one choice among several in use; here OEE = good × ideal time / planned time):

- machine time ``M`` = machines × window length (time without any state row counts as starved);
- planned time ``P = M − off_shift − maintenance`` (shift calendars and preventive maintenance are planned);
- run time ``R = P − down − setup`` (failures and change-overs are availability losses);
- ``availability = R / P``;
- ``performance = W / R``, where ``W`` is the nominal (ideal) work of the station's operations that end in the
  window: the sum of their ``nominal_time``. At a batch station (rows with ``batch`` ≥ 0) a batch counts once,
  scaled by how full it was: ``nominal_time × batch size / max batch size``, where a batch's nominal time is that
  of its longest job (a batch takes as long as its longest job) and the maximum comes from the scenario's
  ``batch.max`` (without one, each batch counts once at its nominal time). Starved, blocked and idle time and
  slower-than-nominal processing all show as performance losses. Performance may exceed 1 in a short window: an
  operation counts wholly in the window in which it ends, and actual times scatter around the nominal one;
- ``quality`` = share of those operations (one per job, also at batch stations) that did not create a defect and
  whose part a breakdown did not destroy (``destroyed``, with ``on_failure = "scrap"``): a destroyed part counts
  as produced and bad, and in ``W`` only with the working time it got before the failure, so performance does not
  credit work that was never done (1 where the records have no ``defect`` column: no quality model; NaN when no
  operation ended in the window);
- ``oee = availability × performance × quality`` (= quality × W / P); 0 when nothing ended in the window.

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
_OFF_SHIFT, _MAINTENANCE, _DOWN, _SETUP = (
    MachineState.OFF_SHIFT,
    MachineState.MAINTENANCE,
    MachineState.DOWN,
    MachineState.SETUP,
)


def oee_factors(
    planned: float, down: float, setup: float, nominal_work: float, operations: int, defects: int
) -> dict[str, float]:
    """Availability, performance, quality and OEE from planned time, losses, nominal work and operation counts."""
    run = planned - down - setup
    availability = run / planned if planned > 0 else math.nan
    performance = nominal_work / run if run > 0 else math.nan
    quality = 1 - defects / operations if operations else math.nan
    oee = 0.0 if nominal_work == 0 and planned > 0 else availability * performance * quality
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
    machine_time: np.ndarray,
    lo: float,
    hi: float,
) -> dict[str, float]:
    """``station.X.{availability, performance, quality, oee}`` for every station of ``scenario``.

    ``state_time`` is the machine time per station (rows, scenario order) and state (columns, ``STATES`` order) in
    the window ``[lo, hi]``; ``machine_time`` the total machine time per station.
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
        planned = machine_time[i] - state_time[i, _OFF_SHIFT] - state_time[i, _MAINTENANCE]
        factors = oee_factors(
            planned, state_time[i, _DOWN], state_time[i, _SETUP], float(work[i]), int(count[i]), int(defects[i])
        )
        out.update({f"station.{name}.{key}": factors[key] for key in OEE_KPIS})
    return out
