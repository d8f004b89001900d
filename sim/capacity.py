"""Offered load per station and other warnings derived from the scenario alone (no simulation)."""

from __future__ import annotations

from sim.failures import availability
from sim.shifts import Calendar
from sim.spec import Scenario


def offered_load(scenario: Scenario) -> dict[str, float]:
    """Expected utilisation of each station if every arrival were served.

    λ × E[work per job] / (machines × on-shift share × availability), where λ counts arrivals per unit of time
    (over the release calendar's on-shift time when arrivals follow a calendar) and availability is
    MTBF / (MTBF + MTTR) of stations with breakdowns; batch stations are assumed to run full batches. Setups,
    partial batches and rework are not included, so the true load can be higher. An order book returns an empty dict.
    """
    release = scenario.release
    if release.interarrival is None:
        return {}
    unit = scenario.scenario.time_unit
    calendars = {name: Calendar(spec, unit) for name, spec in scenario.calendars.items()}
    rate = 1.0 / release.interarrival.mean
    if release.calendar is not None:
        rate *= calendars[release.calendar].on_share
    work = dict.fromkeys(scenario.stations, 0.0)
    for product, share in release.product_mix.items():
        for op in scenario.products[product].route:
            work[op.station] += share * op.time.mean
            for component, count in (op.kit or {}).items():
                for component_op in scenario.products[component].route:
                    work[component_op.station] += share * count * component_op.time.mean
    loads = {}
    for name, spec in scenario.stations.items():
        calendar = calendars.get(spec.calendar or scenario.scenario.calendar)
        capacity = spec.machines * (calendar.on_share if calendar else 1.0)
        if spec.failures is not None:
            capacity *= availability(spec.failures)
        if spec.batch is not None:
            capacity *= spec.batch.max  # full batches: the lowest possible load
        loads[name] = rate * work[name] / capacity if capacity > 0 else float("inf")
    return loads


def capacity_warnings(scenario: Scenario) -> list[str]:
    """Warnings about scenarios that run but may not behave as intended."""
    warnings = [
        f"station {name}: offered load {load:.2f} ≥ 1, arrivals exceed its capacity and its queue will keep growing"
        for name, load in offered_load(scenario).items()
        if load >= 1.0
    ]
    for product, spec in scenario.products.items():
        visited: set[str] = set()
        for op in spec.route:
            if op.station in visited and scenario.stations[op.station].buffer is not None:
                warnings.append(
                    f"product {product} visits station {op.station} twice through a finite buffer: "
                    "the line can deadlock when that buffer fills"
                )
            visited.add(op.station)
    return warnings
