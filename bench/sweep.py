"""Parallel speed-up of a sweep: the same design on 1 and on 2 worker processes, side by side.

    python bench/sweep.py [--points 16] [--replications 2] [--repeats 2]

Prints wall times, simulations per second and the speed-up (target ≥ 1.8× with 2 workers on 2 cores). No cache,
so every point is simulated each time; the results of both runs are checked to be identical.
"""

from __future__ import annotations

import argparse
import statistics
import time

import scenarios
from scenarios.study import SweepSpec
from scenarios.sweep import sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=16)
    parser.add_argument("--replications", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    base = scenarios.load("flow_line")
    spec = SweepSpec.model_validate(
        {
            "design": "lhs",
            "points": args.points,
            "variables": {
                "stations.weld.machines": {"type": "int", "low": 2, "high": 3},
                "stations.weld.buffer": {"type": "int", "low": 2, "high": 15},
                "release.interarrival.mean": {"type": "float", "low": 1.2, "high": 1.6},
            },
        }
    )
    times: dict[int, list[float]] = {1: [], 2: []}
    tables = {}
    for _ in range(args.repeats):
        for workers in (1, 2):  # alternate so that machine noise hits both alike
            started = time.perf_counter()
            result = sweep(base, spec, args.replications, 42, workers=workers)
            times[workers].append(time.perf_counter() - started)
            tables[workers] = result.table
    assert tables[1].equals(tables[2]) or tables[1].to_pylist() == tables[2].to_pylist(), "results differ"
    n = args.points * args.replications
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"sweep of {args.points} points × {args.replications} replications of flow_line ({n} simulations)")
    print(f"1 worker : {one:6.2f} s  ({n / one:5.2f} simulations/s)")
    print(f"2 workers: {two:6.2f} s  ({n / two:5.2f} simulations/s)")
    print(f"speed-up {one / two:.2f}× (target ≥ 1.8×); identical results: yes")


if __name__ == "__main__":
    main()
