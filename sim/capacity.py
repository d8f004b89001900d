"""Offered load per station and other warnings derived from the scenario alone (no simulation)."""

from __future__ import annotations

from sim.failures import availability
from sim.flow import mix_flow
from sim.shifts import Calendar
from sim.spec import Scenario


def offered_load(scenario: Scenario) -> dict[str, float]:
    """Expected utilisation of each station if every arrival were served.

    λ × E[work per job] / (machines × on-shift share × availability), where λ counts arrivals per unit of time
    (over the release calendar's on-shift time when arrivals follow a calendar), E[work per job] follows the expected
    visits of ``sim.flow.mix_flow`` (rework loops, re-inspections, scrap and replaced kit components included; defect
    rates approximated at the set-points) and availability is MTBF / (MTBF + MTTR) of stations with breakdowns; batch
    stations are assumed to run full batches. Setups and partial batches are not included, so the true load can be
    higher. An order book returns an empty dict.
    """
    release = scenario.release
    if release.interarrival is None:
        return {}
    unit = scenario.scenario.time_unit
    calendars = {name: Calendar(spec, unit) for name, spec in scenario.calendars.items()}
    rate = 1.0 / release.interarrival.mean
    if release.calendar is not None:
        rate *= calendars[release.calendar].on_share
    work = mix_flow(scenario).work
    loads = {}
    for name, spec in scenario.stations.items():
        calendar = calendars.get(spec.calendar or scenario.scenario.calendar)
        capacity = spec.machines * (calendar.on_share if calendar else 1.0)
        if spec.failures is not None:
            capacity *= availability(spec.failures)
        if spec.batch is not None:
            capacity *= spec.batch.max  # full batches: the lowest possible load
        loads[name] = float(rate * work[name] / capacity) if capacity > 0 else float("inf")
    return loads


def station_graph(scenario: Scenario) -> dict[str, list[str]]:
    """Station -> the stations a job may move to next: consecutive route steps and rework loops (both ways)."""
    graph: dict[str, list[str]] = {name: [] for name in scenario.stations}

    def link(origin: str, destination: str) -> None:
        if destination not in graph[origin]:
            graph[origin].append(destination)

    for product in scenario.products.values():
        for here, there in zip(product.route, product.route[1:], strict=False):
            link(here.station, there.station)
    for name, spec in scenario.stations.items():
        if spec.inspection is not None and spec.inspection.rework is not None:
            link(name, spec.inspection.rework)
            link(spec.inspection.rework, name)
    return graph


def _components(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each in the order its stations were first reached."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            found.append(sorted(members, key=index.__getitem__))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def buffer_loops(scenario: Scenario) -> list[list[str]]:
    """Loops of stations that all have a finite buffer, each as a closed walk (first station repeated at the end).

    A loop is a strongly connected group of such stations in ``station_graph`` (or one station that follows itself
    on a route); a station with an unlimited buffer breaks every loop through it. With blocking after service such
    a loop can deadlock once its buffers fill. Stations are listed in the order a walk from the first reaches them.
    """
    finite = {name for name, spec in scenario.stations.items() if spec.buffer is not None}
    graph = {name: [n for n in nxt if n in finite] for name, nxt in station_graph(scenario).items() if name in finite}
    loops = []
    for members in _components(graph):
        if len(members) > 1 or members[0] in graph[members[0]]:
            first = min(members, key=list(scenario.stations).index)
            order = _walk(graph, first, set(members))
            loops.append([*order, first])
    return sorted(loops, key=lambda loop: list(scenario.stations).index(loop[0]))


def _walk(graph: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    """The members in depth-first order from ``start`` (a simple cycle comes out in its own order)."""
    order: list[str] = []
    pending = [start]
    while pending:
        node = pending.pop()
        if node in order:
            continue
        order.append(node)
        pending.extend(reversed([n for n in graph[node] if n in members and n not in order]))
    return order


def capacity_warnings(scenario: Scenario) -> list[str]:
    """Warnings about scenarios that run but may not behave as intended: overloads and loops that can deadlock."""
    warnings = [
        f"station {name}: offered load {load:.2f} ≥ 1, arrivals exceed its capacity and its queue will keep growing"
        for name, load in offered_load(scenario).items()
        if load >= 1.0
    ]
    for loop in buffer_loops(scenario):
        buffers = ", ".join(str(scenario.stations[name].buffer) for name in loop[:-1])
        plural = "s" if len(loop) > 2 else ""
        warnings.append(
            f"stations {' → '.join(loop)} form a loop of finite buffer{plural} ({buffers}): the line can deadlock "
            "when they fill; make one buffer unlimited"
        )
    return warnings
