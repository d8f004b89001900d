"""Offered load per station, from the scenario alone (no simulation)."""

from __future__ import annotations

from sim.spec import Scenario


def offered_load(scenario: Scenario) -> dict[str, float]:
    """Expected utilisation of each station if every arrival were served: λ × E[work per job] / machines.

    Only defined for a stream of arrivals; an order book returns an empty dict.
    """
    release = scenario.release
    if release.interarrival is None:
        return {}
    rate = 1.0 / release.interarrival.mean
    work = dict.fromkeys(scenario.stations, 0.0)
    for product, share in release.product_mix.items():
        for op in scenario.products[product].route:
            work[op.station] += share * op.time.mean
    return {name: rate * work[name] / spec.machines for name, spec in scenario.stations.items()}


def capacity_warnings(scenario: Scenario) -> list[str]:
    """One warning per station whose offered load reaches 1 (its queue grows without bound)."""
    return [
        f"station {name}: offered load {load:.2f} ≥ 1, arrivals exceed its capacity and its queue will keep growing"
        for name, load in offered_load(scenario).items()
        if load >= 1.0
    ]
