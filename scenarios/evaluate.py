"""Evaluate many (scenario, seed, replication) tasks: cached results first, the rest on an executor.

Every task is measured under the one policy of ``sim.measurement``, so a task gives the same KPIs here as in
``shopfloor run``. Scenarios with ``warmup = "auto"`` need their pooled warm-up first: it comes from the cache, or
from their pilot replications, which run on the executor for all such scenarios at once and whose records are
measured directly where they are tasks too. Results come back in task order whatever the executor, and each new
result is stored in the cache by this (the parent) process as soon as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scenarios.cache import EvaluationCache
from sim.executors import Executor, default_workers, make_executor
from sim.limits import RunLimits
from sim.measurement import PilotRun, Replication, measure_replication, measured, pilot_run, pooled_warmup
from sim.spec import Scenario


@dataclass(frozen=True)
class Task:
    scenario: Scenario
    seed: int
    replication: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.scenario.content_hash, self.seed, self.replication)

    @property
    def group(self) -> tuple[str, int]:
        """Tasks of one group share their pooled warm-up."""
        return (self.scenario.content_hash, self.seed)


@dataclass
class Evaluation:
    replications: list[Replication]  # one per task, in task order
    simulated: int  # replications simulated now (the rest came from the cache)

    @property
    def kpis(self) -> list[dict[str, float]]:
        return [r.kpis for r in self.replications]


@dataclass(frozen=True)
class _Run:
    """One replication for a worker: a pilot run (``pilot``) or a measurement with a known warm-up."""

    scenario: Scenario
    seed: int
    replication: int
    warmup: float | None
    limits: RunLimits | None
    pilot: bool = False
    keep: bool = False  # pilot runs: also return the records, to measure them


def _execute(run: _Run) -> Replication | PilotRun:
    if run.pilot:
        keep = {run.replication} if run.keep else set()
        return pilot_run(run.replication, run.scenario, run.seed, keep, run.limits)
    return measure_replication(run.replication, run.scenario, run.seed, run.warmup, False, run.limits)


def evaluate(
    tasks: Sequence[Task],
    workers: int | None = None,
    scheduler: str | None = None,
    cache: EvaluationCache | None = None,
    progress: Callable[[int], None] | None = None,
    limits: RunLimits | None = None,
) -> Evaluation:
    """Measured replications of every task, from the cache where present, else simulated.

    ``progress(done)`` is called after each finished task; ``limits`` bound each simulated replication.
    """
    results: list[Replication | None] = [None] * len(tasks)
    if cache is not None:
        cached = cache.get_many(task.key for task in tasks)
        for i, task in enumerate(tasks):
            results[i] = cached.get(task.key)
    missing = [i for i, result in enumerate(results) if result is None]
    done = len(tasks) - len(missing)
    if progress:
        progress(done)
    if not missing:
        return Evaluation(results, 0)  # type: ignore[arg-type]

    def finish(i: int, result: Replication) -> None:
        nonlocal done
        results[i] = result
        if cache is not None:
            cache.put(tasks[i].key, tasks[i].scenario.canonical_json(), result)
        done += 1
        if progress:
            progress(done)

    with make_executor(min(workers or default_workers(), len(missing)), scheduler) as executor:
        warmups = _warmups(tasks, missing, executor, cache, limits, finish)
        rest = [i for i in missing if results[i] is None]
        runs = [_Run(tasks[i].scenario, tasks[i].seed, tasks[i].replication, warmups.get(tasks[i].group), limits)
                for i in rest]  # fmt: skip
        for i, result in zip(rest, executor.map(_execute, runs), strict=True):
            finish(i, result)
    return Evaluation(results, len(missing))  # type: ignore[arg-type]


def _warmups(
    tasks: Sequence[Task],
    missing: Sequence[int],
    executor: Executor,
    cache: EvaluationCache | None,
    limits: RunLimits | None,
    finish: Callable[[int, Replication], None],
) -> dict[tuple[str, int], float]:
    """The pooled warm-up of every ``warmup = "auto"`` group with missing tasks; pilot tasks are measured on the way."""
    warmups: dict[tuple[str, int], float] = {}
    pending: dict[tuple[str, int], list[int]] = {}  # group -> its missing task indices
    for i in missing:
        task = tasks[i]
        if task.scenario.scenario.warmup != "auto":
            continue
        known = cache.warmup(*task.group) if cache is not None else None
        if known is not None:
            warmups[task.group] = known
        else:
            pending.setdefault(task.group, []).append(i)
    if not pending:
        return warmups
    runs: list[_Run] = []
    for indices in pending.values():
        task = tasks[indices[0]]
        wanted = {tasks[i].replication for i in indices}
        for r in range(task.scenario.scenario.warmup_pilot):
            runs.append(_Run(task.scenario, task.seed, r, None, limits, pilot=True, keep=r in wanted))
    pilots = iter(executor.map(_execute, runs))
    for group, indices in pending.items():  # runs were submitted group by group, and come back in that order
        scenario = tasks[indices[0]].scenario
        group_pilots = [next(pilots) for _ in range(scenario.scenario.warmup_pilot)]
        warmup = pooled_warmup(scenario, group_pilots)
        warmups[group] = warmup
        if cache is not None:
            cache.put_warmup(*group, warmup)
        by_replication = {p.replication: p for p in group_pilots}
        for i in indices:
            pilot = by_replication.get(tasks[i].replication)
            if pilot is not None and pilot.tables is not None:
                finish(i, measured(scenario, tasks[i].replication, pilot.tables, warmup, False))
    return warmups
