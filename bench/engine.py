"""Engine speed: shopfloor against a minimal hand-written SimPy model of the same line, side by side in one run.

- **Anchor**: a tandem line of 5 stations, Poisson arrivals of rate 1, exponential service of mean 0.8, buffers of
  10 with blocking after service. The bare model records nothing; shopfloor runs *end to end* as
  ``run_experiment`` does per replication: simulate, convert every record (jobs, operation visits, machine states,
  WIP) to Arrow tables, compute the KPIs. Ratio = shopfloor visits/s ÷ bare visits/s (target ≥ 1.0, moonshot ≥ 1.3).
- **flow_line**: the same comparison on the bundled five-station line with two products.
- **Mechanisms**: the visit rate of ``electronics_line`` and ``machining_cell`` (breakdowns, setups, shifts,
  batches, transport, sensors, quality, inspection, faults: the full machine loop) ÷ that of the plain loop on the
  anchor, simulation only (target ≥ 0.4 for electronics_line); and electronics_line ÷ flow_line end to end.

Runs alternate between the models so that machine noise hits both alike; medians are printed.

    python bench/engine.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable

import numpy as np
import simpy

import scenarios
from sim.distributions import Constant, Exponential, Gamma, Lognormal, Normal, Triangular, Uniform
from sim.kpi import replication_kpis
from sim.plant import simulate
from sim.spec import Scenario, scenario_from_dict
from sim.warmup import run_length


def tandem_line(horizon: float = 20_000.0) -> Scenario:
    """The anchor: 5 stations in line, Poisson(1) arrivals, exponential(0.8) service, buffers of 10."""
    service = {"dist": "exponential", "mean": 0.8}
    return scenario_from_dict(
        {
            "scenario": {"name": "tandem", "horizon": horizon, "warmup": 0},
            "release": {"interarrival": {"dist": "exponential", "mean": 1.0}, "product_mix": {"job": 1.0}},
            "stations": {f"s{i}": {"buffer": 10} for i in range(5)},
            "products": {"job": {"route": [{"station": f"s{i}", "time": service} for i in range(5)]}},
        },
        "tandem",
    )


def _python_sampler(spec, rng: random.Random) -> Callable[[], float]:
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


def end_to_end(scenario: Scenario, seed: int = 1) -> int:
    """shopfloor as ``run_experiment`` runs a replication: simulate, Arrow tables, KPIs. Returns finished visits."""
    tables = simulate(scenario, 0, seed).tables()
    replication_kpis(scenario, tables)
    return _finished(tables["operations"]["depart"].to_numpy())


def simulation_only(scenario: Scenario, seed: int = 1) -> int:
    """The machine loops alone: simulate; returns the visits recorded (the few still open at the end included)."""
    return len(simulate(scenario, 0, seed).visits)


def _finished(depart: np.ndarray) -> int:
    return int((~np.isnan(depart)).sum())


def _rates(runs: dict[str, tuple[Callable[[Scenario, int], int], Scenario]], repeats: int) -> dict[str, float]:
    """Median visits per second of each run, measured in turns."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for seed in range(1, repeats + 1):
        for name, (run, scenario) in runs.items():
            started = time.perf_counter()
            visits = run(scenario, seed)
            rates[name].append(visits / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    anchor, flow = tandem_line(), scenarios.load("flow_line")
    electronics, machining = scenarios.load("electronics_line"), scenarios.load("machining_cell")
    rates = _rates(
        {
            "anchor bare SimPy": (bare_simpy, anchor),
            "anchor shopfloor end to end": (end_to_end, anchor),
            "anchor shopfloor simulation": (simulation_only, anchor),
            "flow_line bare SimPy": (bare_simpy, flow),
            "flow_line shopfloor end to end": (end_to_end, flow),
            "electronics_line shopfloor end to end": (end_to_end, electronics),
            "electronics_line simulation": (simulation_only, electronics),
            "machining_cell simulation": (simulation_only, machining),
        },
        args.repeats,
    )
    width = max(map(len, rates))
    for name, rate in rates.items():
        print(f"{name:<{width}}  {rate:>9,.0f} visits/s")
    plain = rates["anchor shopfloor simulation"]
    print()
    ratio = rates["anchor shopfloor end to end"] / rates["anchor bare SimPy"]
    print(f"anchor: shopfloor end to end / bare SimPy = {ratio:.2f} (target ≥ 1.0, moonshot ≥ 1.3)")
    ratio = rates["flow_line shopfloor end to end"] / rates["flow_line bare SimPy"]
    print(f"flow_line: shopfloor end to end / bare SimPy = {ratio:.2f}")
    for name in ("electronics_line", "machining_cell"):
        target = " (target ≥ 0.4)" if name == "electronics_line" else ""
        print(f"{name}: mechanisms loop / plain loop (simulation) = {rates[f'{name} simulation'] / plain:.2f}{target}")
    ratio = rates["electronics_line shopfloor end to end"] / rates["flow_line shopfloor end to end"]
    print(f"electronics_line / flow_line, both end to end = {ratio:.2f} (the ratio earlier notes quoted)")


if __name__ == "__main__":
    main()
