"""Dispatching rules, pluggable by name.

A rule picks which waiting job a free machine takes next: ``rule(queue, now, machine) -> index``. The queue is
kept in arrival order, and ties go to the job that arrived first. Register a new rule with ``@register("name")`` on a
factory that receives the station's random generator and returns the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sim.job import Job

Rule = Callable[..., int]  # (queue: Sequence[Job], now: float, machine=None) -> index
RuleFactory = Callable[[np.random.Generator], Rule]

RULES: dict[str, RuleFactory] = {}


def register(name: str) -> Callable[[RuleFactory], RuleFactory]:
    """Decorator adding a rule factory to the registry under ``name``."""

    def add(factory: RuleFactory) -> RuleFactory:
        RULES[name] = factory
        return factory

    return add


def make_rule(name: str, rng: np.random.Generator) -> Rule:
    """Build the rule registered as ``name``."""
    return RULES[name](rng)


def _smallest(key: Callable[[Job, float], float]) -> RuleFactory:
    def factory(rng: np.random.Generator) -> Rule:
        def rule(queue: Sequence[Job], now: float, machine: Any = None) -> int:
            best, best_key = 0, key(queue[0], now)
            for i in range(1, len(queue)):
                k = key(queue[i], now)
                if k < best_key:
                    best, best_key = i, k
            return best

        return rule

    return factory


@register("fifo")
def _fifo(rng: np.random.Generator) -> Rule:
    return lambda queue, now, machine=None: 0


@register("lifo")
def _lifo(rng: np.random.Generator) -> Rule:
    return lambda queue, now, machine=None: len(queue) - 1


@register("random")
def _random(rng: np.random.Generator) -> Rule:
    return lambda queue, now, machine=None: int(rng.integers(len(queue))) if len(queue) > 1 else 0


def _critical_ratio(job: Job, now: float) -> float:
    """Time left until due per unit of remaining work; below 1 the job is already behind."""
    if job.remaining <= 0:
        return job.due - now
    return (job.due - now) / job.remaining


register("spt")(_smallest(lambda job, now: job.op_time))
register("lpt")(_smallest(lambda job, now: -job.op_time))
register("edd")(_smallest(lambda job, now: job.due))
register("cr")(_smallest(_critical_ratio))
register("srpt")(_smallest(lambda job, now: job.remaining))
register("mwkr")(_smallest(lambda job, now: -job.remaining))


@register("setup_aware")
def _setup_aware(rng: np.random.Generator) -> Rule:
    """The first arrived job of the family the machine is set up for; else the first arrived (FIFO)."""

    def rule(queue: Sequence[Job], now: float, machine: Any = None) -> int:
        family = getattr(machine, "family", None)
        if family is None:
            return 0
        family_of = machine.station.family_of
        for i, job in enumerate(queue):
            if family_of.get(job.product) == family:
                return i
        return 0

    return rule
