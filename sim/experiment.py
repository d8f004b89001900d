"""Replications of a scenario, run in-process or on a pool of worker processes.

Replication ``r`` draws from streams rooted at ``(seed, r)``, so its numbers do not depend on which worker runs it
or in which order: results are identical whatever the worker count.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from sim.capacity import capacity_warnings
from sim.kpi import replication_kpis
from sim.plant import simulate
from sim.results import Replication, RunResult
from sim.spec import Scenario


def run_replication(scenario: Scenario, replication: int, seed: int, keep_tables: bool = False) -> Replication:
    """Simulate one replication and compute its KPIs (and keep its record tables if asked)."""
    tables = simulate(scenario, replication, seed).tables()
    return Replication(replication, replication_kpis(scenario, tables), tables if keep_tables else None)


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def run_experiment(
    scenario: Scenario,
    replications: int = 1,
    seed: int | None = None,
    workers: int | None = None,
    keep_tables: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Run ``replications`` independent replications of ``scenario``.

    ``workers`` processes share the work (default: all cores; 1 runs in this process). ``progress(done)`` is called
    after each finished replication.
    """
    if replications < 1:
        raise ValueError("replications must be ≥ 1")
    seed = scenario.scenario.seed if seed is None else seed
    workers = min(workers or default_workers(), replications)
    started = time.perf_counter()
    results: list[Replication] = []
    if workers <= 1:
        for r in range(replications):
            results.append(run_replication(scenario, r, seed, keep_tables))
            if progress:
                progress(len(results))
    else:
        # fork: workers start in milliseconds and scripts need no ``if __name__ == "__main__"`` guard
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(run_replication, scenario, r, seed, keep_tables) for r in range(replications)]
            for future in as_completed(futures):
                results.append(future.result())
                if progress:
                    progress(len(results))
        results.sort(key=lambda rep: rep.index)
    return RunResult(scenario, seed, results, capacity_warnings(scenario), time.perf_counter() - started)
