"""Replications of a scenario, run in this process, on a local pool of processes, or on a Dask cluster.

Replication ``r`` draws from streams rooted at ``(seed, r)``, so its numbers do not depend on which worker runs it
or in which order: results are identical whatever the executor and worker count. With ``warmup = "auto"`` a pilot
pass picks one MSER-5 warm-up from the replications' mean WIP series, then every replication is measured in the
same window ``[d, d + horizon]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import numpy as np

from sim.capacity import capacity_warnings
from sim.executors import Executor, default_workers, make_executor
from sim.kpi import replication_kpis
from sim.plant import simulate
from sim.results import Replication, RunResult
from sim.spec import Scenario
from sim.warmup import mser5, run_length, wip_series


def run_replication(scenario: Scenario, replication: int, seed: int, keep_tables: bool = False) -> Replication:
    """Simulate one replication and compute its KPIs (and keep its record tables if asked)."""
    tables = simulate(scenario, replication, seed).tables()
    return Replication(replication, replication_kpis(scenario, tables), tables if keep_tables else None)


def _replication(replication: int, scenario: Scenario, seed: int, keep_tables: bool) -> Replication:
    return run_replication(scenario, replication, seed, keep_tables)


def _pilot_wip(replication: int, scenario: Scenario, seed: int) -> np.ndarray:
    """The binned WIP series of one replication run for ``2 × horizon`` (the pilot of ``warmup = "auto"``)."""
    return wip_series(simulate(scenario, replication, seed).tables()["wip"], run_length(scenario))


def pooled_warmup(scenario: Scenario, replications: int, seed: int, executor: Executor) -> float:
    """One MSER-5 warm-up for all replications, from their mean WIP series (Welch-style pooling).

    Truncating each replication on its own series tends to cut after that replication's high excursions as well as
    after the start-up, which biases heavy-traffic waits low; the mean series of all replications keeps only the
    start-up transient that they share.
    """
    task = partial(_pilot_wip, scenario=scenario, seed=seed)
    mean = np.mean(list(executor.map(task, range(replications))), axis=0)
    return mser5(mean, limit=mean.size // 2) * run_length(scenario) / mean.size


def run_experiment(
    scenario: Scenario,
    replications: int = 1,
    seed: int | None = None,
    workers: int | None = None,
    keep_tables: bool = False,
    progress: Callable[[int], None] | None = None,
    scheduler: str | None = None,
) -> RunResult:
    """Run ``replications`` independent replications of ``scenario``.

    ``workers`` processes share the work (default: all cores; 1 runs in this process), or the Dask cluster at
    ``scheduler``. ``progress(done)`` is called after each finished replication.
    """
    if replications < 1:
        raise ValueError("replications must be ≥ 1")
    seed = scenario.scenario.seed if seed is None else seed
    started = time.perf_counter()
    results: list[Replication] = []
    with make_executor(min(workers or default_workers(), replications), scheduler) as executor:
        measured, warmup = scenario, None
        if scenario.scenario.warmup == "auto":
            warmup = pooled_warmup(scenario, replications, seed, executor)
            measured = scenario.with_overrides({"scenario.warmup": warmup})  # same streams, shorter run
        task = partial(_replication, scenario=measured, seed=seed, keep_tables=keep_tables)
        for result in executor.map(task, range(replications)):
            if warmup is not None:
                result.kpis["warmup"] = warmup
            results.append(result)
            if progress:
                progress(len(results))
    return RunResult(scenario, seed, results, capacity_warnings(scenario), time.perf_counter() - started)
