"""The one measurement policy: what `run`, `whatif`, `sweep`, `generate` and the evaluation cache measure.

- **Window.** A replication is measured in ``[d, d + horizon]`` (an order book without horizon until its last job
  leaves), ``d`` being the warm-up.
- **Warm-up.** A fixed ``scenario.warmup``, or ``"auto"``: every replication then runs ``2 × horizon`` and ``d`` is
  MSER-5 on the mean WIP series of the *pilot*, the first ``scenario.warmup_pilot`` replications (Welch-style
  pooling: truncating each replication on its own series also cuts after that replication's upward excursions and
  biases heavy-traffic waits low). ``d`` depends on the scenario and the seed only, so replication r has the same
  KPIs whichever command runs it and however many replications it runs. The pilot's records are measured as they
  are (nothing is simulated twice); only the pilot's WIP series travel back from workers, and the full records of
  those pilot replications that are measured too.
- **Deadlocks.** A replication that ends in a deadlock (``sim.deadlock``) is flagged (KPIs ``deadlocked``,
  ``deadlock_time``); ``scenario.deadlocks`` decides what estimates do with it: ``"exclude"`` (default) leaves it out
  of every estimate, comparison and dataset and reports it, ``"include"`` averages it in (flagged), ``"fail"`` stops
  with an error. A deadlocked pilot replication does not enter the pooled WIP series.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa

from sim.errors import ShopfloorError
from sim.executors import Executor
from sim.kpi import replication_kpis
from sim.limits import RunLimits
from sim.plant import simulate
from sim.records import Deadlock
from sim.spec import Scenario
from sim.warmup import mser5, run_length, wip_series


class DeadlockError(ShopfloorError):
    """A replication deadlocked and the scenario says ``deadlocks = "fail"``."""


@dataclass
class Replication:
    """One measured replication: its KPIs, its deadlock if it had one, and its records if they were kept."""

    index: int
    kpis: dict[str, float]
    tables: dict[str, pa.Table] | None = None
    deadlock: Deadlock | None = None


@dataclass
class PilotRun:
    """A pilot replication of ``warmup = "auto"``: its binned WIP series, and its records if it is measured too."""

    replication: int
    wip: np.ndarray
    deadlocked: bool
    tables: dict[str, pa.Table] | None


def deadlock_of(tables: Mapping[str, pa.Table]) -> Deadlock | None:
    """The deadlock recorded in a replication's ``deadlocks`` table, if any."""
    table = tables.get("deadlocks")
    if table is None or table.num_rows == 0:
        return None
    row = table.slice(0, 1).to_pylist()[0]
    return Deadlock(row["time"], row["kind"], tuple(row["stations"].split(" → ")))


def measured(scenario: Scenario, replication: int, tables: dict[str, pa.Table], warmup: float | None, keep: bool):
    """The ``Replication`` of records already simulated (pilot records, or a worker's)."""
    deadlock = deadlock_of(tables)
    check_deadlock(scenario, replication, deadlock)
    kpis = replication_kpis(scenario, tables, warmup)
    return Replication(replication, kpis, tables if keep else None, deadlock)


def check_deadlock(scenario: Scenario, replication: int, deadlock: Deadlock | None) -> None:
    """Raise ``DeadlockError`` for a deadlocked replication when the scenario says ``deadlocks = "fail"``."""
    if deadlock is not None and scenario.scenario.deadlocks == "fail":
        raise DeadlockError(
            f'{scenario.source}: replication {replication}: {deadlock.describe()} (scenario.deadlocks = "fail")'
        )


def measure_replication(
    replication: int, scenario: Scenario, seed: int, warmup: float | None, keep_tables: bool, limits: RunLimits | None
) -> Replication:
    """Simulate and measure one replication (in a worker process or here); ``warmup`` None: the scenario's."""
    tables = simulate(scenario, replication, seed, limits).tables()
    return measured(scenario, replication, tables, warmup, keep_tables)


def pilot_run(replication: int, scenario: Scenario, seed: int, keep: Collection[int], limits: RunLimits | None):
    """Run one pilot replication; its records come back only if it is also one of the replications measured."""
    tables = simulate(scenario, replication, seed, limits).tables()
    series = wip_series(tables["wip"], run_length(scenario))
    deadlocked = tables["deadlocks"].num_rows > 0
    return PilotRun(replication, series, deadlocked, tables if replication in keep else None)


def pooled_warmup(scenario: Scenario, pilots: Sequence[PilotRun]) -> float:
    """MSER-5 on the mean WIP series of the pilot replications that did not deadlock (all, if every one did)."""
    usable = [p.wip for p in pilots if not p.deadlocked] or [p.wip for p in pilots]
    mean = np.mean(usable, axis=0)
    return mser5(mean, limit=mean.size // 2) * run_length(scenario) / mean.size


def resolve_warmup(
    scenario: Scenario, seed: int, executor: Executor, keep: Collection[int] = (), limits: RunLimits | None = None
) -> tuple[float | None, dict[int, dict[str, pa.Table]]]:
    """With ``warmup = "auto"``: the pooled warm-up and the records of the pilot replications in ``keep``.

    A fixed warm-up returns ``(None, {})``: nothing to run.
    """
    if scenario.scenario.warmup != "auto":
        return None, {}
    task = partial(pilot_run, scenario=scenario, seed=seed, keep=frozenset(keep), limits=limits)
    pilots = list(executor.map(task, range(scenario.scenario.warmup_pilot)))
    return pooled_warmup(scenario, pilots), {p.replication: p.tables for p in pilots if p.tables is not None}


def measure(
    scenario: Scenario,
    seed: int,
    replications: Sequence[int],
    executor: Executor,
    keep_tables: bool = False,
    limits: RunLimits | None = None,
    warmup: float | None = None,
) -> Iterator[Replication]:
    """Measure ``replications`` (ascending) of ``scenario`` under the policy, yielding them in order.

    ``warmup`` is the pooled warm-up if already known (from a cache); otherwise ``warmup = "auto"`` runs the pilot
    first and measures the pilot replications among ``replications`` from the pilot's records.
    """
    kept: dict[int, dict[str, pa.Table]] = {}
    if warmup is None and scenario.scenario.warmup == "auto":
        warmup, kept = resolve_warmup(scenario, seed, executor, set(replications), limits)
    rest = [r for r in replications if r not in kept]
    for r in sorted(kept):  # pilot replications are the first ones: order is kept
        yield measured(scenario, r, kept.pop(r), warmup, keep_tables)
    task = partial(measure_replication, scenario=scenario, seed=seed, warmup=warmup, keep_tables=keep_tables,
                   limits=limits)  # fmt: skip
    yield from executor.map(task, rest)


def counts(kpis: Mapping[str, float], policy: str) -> bool:
    """Whether a replication with these KPIs enters estimates: always with ``deadlocks = "include"``, else only
    if it did not deadlock."""
    return policy == "include" or not kpis.get("deadlocked", 0.0)


def counted(replications: Sequence[Replication], policy: str) -> list[Replication]:
    """The replications that estimates use under the deadlock ``policy``."""
    return [r for r in replications if counts(r.kpis, policy)]


def deadlock_summary(replications: Sequence[Replication], policy: str) -> dict[str, Any]:
    """What happened to deadlocked replications, for summaries and warnings."""
    found = [r for r in replications if r.deadlock is not None]
    return {
        "policy": policy,
        "count": len(found),
        "replications": [
            {"replication": r.index, "time": r.deadlock.time, "kind": r.deadlock.kind, "stations": r.deadlock.stations}
            for r in found
        ],
    }


def deadlock_warning(scenario: Scenario, replications: Sequence[Replication]) -> str | None:
    """One warning line about deadlocked replications, or None."""
    found = [r for r in replications if r.deadlock is not None]
    if not found:
        return None
    first = found[0].deadlock
    what = "left out of the estimates" if scenario.scenario.deadlocks == "exclude" else "averaged in, flagged"
    return (
        f"{len(found)} of {len(replications)} replications ended early ({what}); replication "
        f"{found[0].index}: {first.describe()}"
    )
