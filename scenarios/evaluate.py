"""Evaluate many (scenario, seed, replication) tasks: cached results first, the rest on an executor.

Results come back in task order whatever the executor, and each new result is stored in the cache by this (the
parent) process as soon as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scenarios.cache import EvaluationCache
from sim.executors import default_workers, make_executor
from sim.experiment import run_replication
from sim.spec import Scenario


@dataclass(frozen=True)
class Task:
    scenario: Scenario
    seed: int
    replication: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.scenario.content_hash, self.seed, self.replication)


@dataclass
class Evaluation:
    kpis: list[dict[str, float]]  # one per task, in task order
    simulated: int  # tasks simulated now (the rest came from the cache)


def simulate_task(task: Task) -> dict[str, float]:
    """KPIs of one replication (runs in a worker process or on a Dask worker)."""
    return run_replication(task.scenario, task.replication, task.seed).kpis


def evaluate(
    tasks: Sequence[Task],
    workers: int | None = None,
    scheduler: str | None = None,
    cache: EvaluationCache | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """KPIs of every task, from the cache where present, else simulated; ``progress(done)`` after each task."""
    results: list[dict[str, float] | None] = [None] * len(tasks)
    if cache is not None:
        cached = cache.get_many(task.key for task in tasks)
        for i, task in enumerate(tasks):
            results[i] = cached.get(task.key)
    missing = [i for i, result in enumerate(results) if result is None]
    done = len(tasks) - len(missing)
    if progress:
        progress(done)
    if missing:
        with make_executor(min(workers or default_workers(), len(missing)), scheduler) as executor:
            for i, kpis in zip(missing, executor.map(simulate_task, [tasks[i] for i in missing]), strict=True):
                results[i] = kpis
                if cache is not None:
                    cache.put(tasks[i].key, tasks[i].scenario.canonical_json(), kpis)
                done += 1
                if progress:
                    progress(done)
    return Evaluation([r for r in results if r is not None], len(missing))
