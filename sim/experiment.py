"""Replications of a scenario, run in this process, on a local pool of processes, or on a Dask cluster.

Replication ``r`` draws from streams rooted at ``(seed, r)``, so its numbers do not depend on which worker runs it
or in which order: results are identical whatever the executor and worker count. What is measured (window,
warm-up, deadlocked replications) is the one policy of ``sim.measurement``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sim.capacity import capacity_warnings
from sim.executors import default_workers, make_executor
from sim.limits import RunLimits
from sim.measurement import Replication, deadlock_warning, measure
from sim.results import RunResult
from sim.spec import Scenario


def run_experiment(
    scenario: Scenario,
    replications: int = 1,
    seed: int | None = None,
    workers: int | None = None,
    keep_tables: bool = False,
    progress: Callable[[int], None] | None = None,
    scheduler: str | None = None,
    limits: RunLimits | None = None,
) -> RunResult:
    """Run ``replications`` independent replications of ``scenario``.

    ``workers`` processes share the work (default: all cores; 1 runs in this process), or the Dask cluster at
    ``scheduler``. ``progress(done)`` is called after each finished replication; ``limits`` bound each one.
    """
    if replications < 1:
        raise ValueError("replications must be ≥ 1")
    seed = scenario.scenario.seed if seed is None else seed
    started = time.perf_counter()
    results: list[Replication] = []
    pilot = scenario.scenario.warmup_pilot if scenario.scenario.warmup == "auto" else 0
    with make_executor(min(workers or default_workers(), max(replications, pilot)), scheduler) as executor:
        for result in measure(scenario, seed, range(replications), executor, keep_tables, limits):
            results.append(result)
            if progress:
                progress(len(results))
    warnings = capacity_warnings(scenario)
    found = deadlock_warning(scenario, results)
    if found:
        warnings.append(found)
    return RunResult(scenario, seed, results, warnings, time.perf_counter() - started)
