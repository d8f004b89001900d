"""Replications of a scenario, run in this process, on a local pool of processes, or on a Dask cluster.

Replication ``r`` draws from streams rooted at ``(seed, r)``, so its numbers do not depend on which worker runs it
or in which order: results are identical whatever the executor and worker count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from sim.capacity import capacity_warnings
from sim.executors import default_workers, make_executor
from sim.kpi import replication_kpis
from sim.plant import simulate
from sim.results import Replication, RunResult
from sim.spec import Scenario


def run_replication(scenario: Scenario, replication: int, seed: int, keep_tables: bool = False) -> Replication:
    """Simulate one replication and compute its KPIs (and keep its record tables if asked)."""
    tables = simulate(scenario, replication, seed).tables()
    return Replication(replication, replication_kpis(scenario, tables), tables if keep_tables else None)


def _replication(replication: int, scenario: Scenario, seed: int, keep_tables: bool) -> Replication:
    return run_replication(scenario, replication, seed, keep_tables)


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
    task = partial(_replication, scenario=scenario, seed=seed, keep_tables=keep_tables)
    results: list[Replication] = []
    with make_executor(min(workers or default_workers(), replications), scheduler) as executor:
        for result in executor.map(task, range(replications)):
            results.append(result)
            if progress:
                progress(len(results))
    return RunResult(scenario, seed, results, capacity_warnings(scenario), time.perf_counter() - started)
