"""Engine speed: shopfloor against a minimal hand-written SimPy model of the same line, side by side.

Both models simulate the bundled ``flow_line`` (same stations, buffers with blocking after service, routings and
processing-time distributions). The bare model records nothing; shopfloor records every job, operation visit,
machine state change and WIP change and converts them to Arrow tables. The figure of merit is station visits per
second of wall time, and the ratio shopfloor / bare SimPy (target ≥ 0.5).

    python bench/engine.py [--repeats 5] [--scenario flow_line ...]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

import numpy as np
import simpy

import scenarios
from sim.distributions import Constant, Exponential, Gamma, Lognormal, Normal, Triangular, Uniform
from sim.kpi import replication_kpis
from sim.plant import Plant, simulate
from sim.spec import Scenario
from sim.warmup import run_length


def _python_sampler(spec, rng: random.Random):
    """The natural scalar draw of a hand-written model (Python's ``random``)."""
    if isinstance(spec, Constant):
        return lambda: spec.value
    if isinstance(spec, Exponential):
        return lambda: rng.expovariate(1 / spec.mean)
    if isinstance(spec, Lognormal):
        sigma = math.sqrt(math.log1p(spec.cv**2))
        mu = math.log(spec.mean) - sigma**2 / 2
        return lambda: rng.lognormvariate(mu, sigma)
    if isinstance(spec, Gamma):
        shape = 1 / spec.cv**2
        return lambda: rng.gammavariate(shape, spec.mean / shape)
    if isinstance(spec, Triangular):
        return lambda: rng.triangular(spec.low, spec.high, spec.mode)
    if isinstance(spec, Uniform):
        return lambda: rng.uniform(spec.low, spec.high)
    if isinstance(spec, Normal):
        return lambda: max(0.0, rng.gauss(spec.mean_, spec.sd))
    raise NotImplementedError(type(spec).__name__)


def bare_simpy(scenario: Scenario, seed: int = 1) -> int:
    """A minimal SimPy model of a flow line: one Store per buffer, one process per machine. Returns visits."""
    env = simpy.Environment()
    rng = random.Random(seed)
    stores = {
        name: simpy.Store(env, capacity=spec.buffer if spec.buffer is not None else float("inf"))
        for name, spec in scenario.stations.items()
    }
    routes = {
        p: [(op.station, _python_sampler(op.time, rng)) for op in spec.route] for p, spec in scenario.products.items()
    }
    visits = 0

    def machine(store):
        nonlocal visits
        while True:
            job = yield store.get()
            route, step = job
            yield env.timeout(route[step][1]())
            visits += 1
            if step + 1 < len(route):
                yield stores[route[step + 1][0]].put((route, step + 1))  # blocks while the next buffer is full

    def source():
        mix = scenario.release.product_mix
        products, weights = list(mix), list(mix.values())
        interarrival = _python_sampler(scenario.release.interarrival, rng)
        while True:
            yield env.timeout(interarrival())
            route = routes[rng.choices(products, weights)[0]]
            env.process(enter(route))

    def enter(route):
        yield stores[route[0][0]].put((route, 0))

    for name, spec in scenario.stations.items():
        for _ in range(spec.machines):
            env.process(machine(stores[name]))
    env.process(source())
    env.run(until=run_length(scenario))
    return visits


def shopfloor_run(scenario: Scenario, seed: int = 1) -> int:
    """shopfloor with full recording and conversion to Arrow tables. Returns completed visits."""
    tables = simulate(scenario, 0, seed).tables()
    depart = tables["operations"]["depart"].to_numpy()
    return int((~np.isnan(depart)).sum())


def _rate(run, scenario: Scenario, seed: int) -> float:
    started = time.perf_counter()
    visits = run(scenario, seed)
    return visits / (time.perf_counter() - started)


def _has_mechanisms(scenario: Scenario) -> bool:
    """Whether any machine runs more than queueing, dispatching and blocking (the bare model has only those)."""
    return not all(machine.plain for station in Plant(scenario).stations.values() for machine in station.machines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenario", nargs="+", default=["flow_line", "electronics_line", "machining_cell"])
    args = parser.parse_args()
    reference = None
    for name in ["flow_line", *(n for n in args.scenario if n != "flow_line")]:
        scenario = scenarios.load(name)
        mechanisms = _has_mechanisms(scenario)
        bare, ours = [], []
        for seed in range(1, args.repeats + 1):  # alternate so that machine noise hits both alike
            if not mechanisms:
                bare.append(_rate(bare_simpy, scenario, seed))
            ours.append(_rate(shopfloor_run, scenario, seed))
        tables = simulate(scenario, 0, 1).tables()
        started = time.perf_counter()
        replication_kpis(scenario, tables)
        kpi_ms = (time.perf_counter() - started) * 1e3
        o = statistics.median(ours)
        reference = reference or o
        if mechanisms:
            print(
                f"{name}: shopfloor {o:,.0f} visits/s = {o / reference:.2f} × the plain flow_line rate (mechanisms on)"
            )
        else:
            b = statistics.median(bare)
            print(
                f"{name}: bare SimPy {b:,.0f} visits/s | shopfloor {o:,.0f} visits/s | ratio {o / b:.2f} (target ≥ 0.5)"
            )
        print(f"{name}: KPI computation from the records takes {kpi_ms:.1f} ms per replication")


if __name__ == "__main__":
    main()
