"""Job-shop instance import: the standard ``n_jobs n_machines`` text format -> a scenario.

The format (OR-Library, Taillard's "standard specification")::

    # optional comment lines
    6 6                    <- n_jobs n_machines
    2 1 0 3 1 6 3 7 5 3 4 6  <- one line per job: (machine duration) pairs in route order, machines from 0
    ...

Blank lines and comments (from ``#`` to the end of a line) are ignored. Lines before the size line that are not
made of numbers only (an OR-Library description such as ``instance ft06`` or ``+++++``) are skipped; the first line
made of numbers only must be the size line, so a header is recognised only where that is unambiguous.

``jssp_scenario`` turns an instance into a scenario dict: one single-machine station per machine, one product and
one order (released at 0) per job, constant operation times. Its makespan KPI is the schedule's makespan. A best
known makespan (given, or looked up for a known benchmark such as ft06) is written into the scenario's description
as ``best known makespan: 55``, the one free-text field of a scenario; :func:`known_optimum` reads it back.

:func:`makespan_lower_bound` bounds the makespan of any order book with constant operation times from below, from
its canonical scenario dict (as in ``scenario.json``): nothing here needs the simulator.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from sim.errors import ScenarioError
from sim.files import read_text, write_atomic

JobRoute = tuple[tuple[int, float], ...]  # (machine, duration) pairs in processing order

# Best known (here: proven optimal) makespans of classic benchmarks: name -> (n_jobs, n_machines, makespan).
# Fisher & Thompson (1963) ft06/ft10/ft20 (alias mt06/mt10/mt20), Lawrence (1984) la01 and la16.
KNOWN_OPTIMA: dict[str, tuple[int, int, float]] = {
    "ft06": (6, 6, 55.0),
    "ft10": (10, 10, 930.0),
    "ft20": (20, 5, 1165.0),
    "la01": (10, 5, 666.0),
    "la16": (10, 10, 945.0),
}
_ALIASES = {"mt06": "ft06", "mt10": "ft10", "mt20": "ft20"}
OPTIMUM_TEXT = "best known makespan"
_OPTIMUM_RE = re.compile(rf"{OPTIMUM_TEXT}:\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)", re.IGNORECASE)


@dataclass(frozen=True)
class JobShopInstance:
    """``jobs[j]`` is job ``j``'s route: ``(machine, duration)`` pairs in processing order."""

    n_jobs: int
    n_machines: int
    jobs: tuple[JobRoute, ...]
    source: str = field(default="", compare=False)  # where it was read from, for descriptions and headers

    @property
    def n_operations(self) -> int:
        return sum(len(job) for job in self.jobs)

    @property
    def total_work(self) -> float:
        """Sum of all operation durations."""
        return sum(duration for job in self.jobs for _, duration in job)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _parse_int(token: str) -> int | None:
    try:
        return int(token)
    except ValueError:
        return None


def _parse_job(tokens: list[str], n_machines: int) -> tuple[JobRoute | None, list[str]]:
    """One job line -> its operations, or None and the problems found."""
    expected = 2 * n_machines
    bad = [t for t in tokens if not _is_number(t)]
    if bad:
        return None, [f"not a number: {', '.join(repr(t) for t in bad[:3])}"]
    if len(tokens) != expected:
        return None, [f"expected {expected} numbers ({n_machines} machine/duration pairs), got {len(tokens)}"]
    ops: list[tuple[int, float]] = []
    problems: list[str] = []
    for i in range(n_machines):
        machine, duration = _parse_int(tokens[2 * i]), float(tokens[2 * i + 1])
        if machine is None:
            problems.append(f"operation {i}: machine must be an integer, got {tokens[2 * i]!r}")
        elif not 0 <= machine < n_machines:
            problems.append(f"operation {i}: machine {machine} out of range 0..{n_machines - 1}")
        if not math.isfinite(duration):
            problems.append(f"operation {i}: duration must be a finite number, got {tokens[2 * i + 1]!r}")
        elif duration < 0:
            problems.append(f"operation {i}: negative duration {tokens[2 * i + 1]}")
        if machine is not None and not problems:
            ops.append((machine, duration))
    return (None, problems) if problems else (tuple(ops), [])


def read_jssp(path: str | Path) -> JobShopInstance:
    """Read a job-shop instance file; every problem found is reported at once as a ``ScenarioError``."""
    source = str(path)
    text = read_text(path, source)  # a UTF-8 byte-order mark is tolerated
    lines = [(n, line.split("#", 1)[0].split()) for n, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, tokens) for n, tokens in lines if tokens]
    # header: skip description lines until the first line made of numbers only, which must be the size line
    first = next((i for i, (_, tokens) in enumerate(lines) if all(map(_is_number, tokens))), None)
    if first is None:
        raise ScenarioError(source, [("", "no size line 'n_jobs n_machines' (two integers) found")])
    size_line, size = lines[first]
    n_jobs, n_machines = (_parse_int(t) for t in size) if len(size) == 2 else (None, None)
    if n_jobs is None or n_machines is None or n_jobs < 1 or n_machines < 1:
        hint = f" (the {first} line(s) before it are not all numbers and were skipped as a header)" if first else ""
        message = f"expected 'n_jobs n_machines' (two positive integers), got {' '.join(size)!r}{hint}"
        raise ScenarioError(source, [(f"line {size_line}", message)])
    problems: list[tuple[str, str]] = []
    job_lines = lines[first + 1 : first + 1 + n_jobs]
    if len(job_lines) < n_jobs:
        end = job_lines[-1][0] if job_lines else size_line
        problems.append(
            (f"line {end}", f"missing job lines: n_jobs is {n_jobs} but only {len(job_lines)} job line(s) follow")
        )
    jobs = []
    for n, tokens in job_lines:
        job, messages = _parse_job(tokens, n_machines)
        problems.extend((f"line {n}", message) for message in messages)
        jobs.append(job)
    for n, _ in lines[first + 1 + n_jobs :][:1]:
        problems.append((f"line {n}", f"unexpected content after the {n_jobs} job lines (is n_jobs right?)"))
    if problems:
        raise ScenarioError(source, problems)
    return JobShopInstance(n_jobs, n_machines, tuple(jobs), source)


def benchmark_optimum(instance: JobShopInstance, name: str = "") -> float | None:
    """The best known makespan of ``instance`` if it is a known benchmark, else None.

    The benchmark is recognised by name (the file's stem or ``name``, e.g. ``ft06``, ``FT06.txt``, ``mt06``) and
    must have that benchmark's size, so a file merely named like one is not mistaken for it unless it matches.
    """
    stems = [Path(instance.source).stem if instance.source else "", name]
    for stem in stems:
        key = stem.strip().lower()
        key = _ALIASES.get(key, key)
        if key in KNOWN_OPTIMA:
            n_jobs, n_machines, optimum = KNOWN_OPTIMA[key]
            if (instance.n_jobs, instance.n_machines) == (n_jobs, n_machines):
                return optimum
    return None


def jssp_scenario(
    instance: JobShopInstance,
    name: str,
    dispatch: str = "spt",
    time_unit: str = "min",
    optimum: float | None = None,
) -> dict:
    """A scenario dict (TOML-ready) that runs ``instance`` as an order book with ``dispatch`` at every machine.

    Stations ``M0``.. have one machine and an unlimited buffer; product and order ``J{j}`` carry job ``j``'s route
    with constant times; all orders are released at 0. Validate it with ``sim.spec`` (unknown rules are caught there).
    ``optimum`` (default: :func:`benchmark_optimum`) is recorded in the description as ``best known makespan: N``.
    """
    if optimum is None:
        optimum = benchmark_optimum(instance, name)
    elif isinstance(optimum, bool) or not (math.isfinite(optimum) and optimum >= 0):
        message = f"the best known makespan must be a finite number ≥ 0, got {optimum!r}"
        raise ScenarioError(instance.source or name, [("optimum", message)])
    origin = f" from {Path(instance.source).name}" if instance.source else ""
    description = f"job-shop instance{origin}: {instance.n_jobs} jobs x {instance.n_machines} machines"
    if optimum is not None:
        description += f"; {OPTIMUM_TEXT}: {optimum:g}"
    return {
        "scenario": {
            "name": name,
            "description": description,
            "time_unit": time_unit,
            "warmup": 0.0,
            "seed": 0,
        },
        "release": {"orders": [{"id": f"J{j}", "product": f"J{j}", "release": 0.0} for j in range(instance.n_jobs)]},
        "stations": {f"M{m}": {"machines": 1, "dispatch": dispatch} for m in range(instance.n_machines)},
        "products": {
            f"J{j}": {"route": [{"station": f"M{m}", "time": float(d)} for m, d in job]}
            for j, job in enumerate(instance.jobs)
        },
    }


def write_scenario_toml(data: dict[str, Any], path: str | Path, source: str | None = None) -> Path:
    """Write a scenario dict as TOML (atomically), under a comment naming the source instance.

    ``source`` defaults to the scenario's description (or name).
    """
    meta = data.get("scenario", {})
    source = " ".join(str(source or meta.get("description") or meta.get("name", "?")).split())  # one comment line
    header = f"# Job-shop scenario generated by shopfloor (sim.jssp).\n# Source: {source}\n\n"
    text = header + tomli_w.dumps(data)
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def known_optimum(scenario: Mapping[str, Any]) -> float | None:
    """The best known makespan recorded in a scenario dict's description (``best known makespan: 55``), or None."""
    meta = scenario.get("scenario") or {}
    match = _OPTIMUM_RE.search(str(meta.get("description") or "")) if isinstance(meta, Mapping) else None
    return float(match.group(1)) if match else None


# ------------------------------------------------------------------------------------------------ lower bounds

# mechanisms under which the bound does not hold: a batch runs several jobs at once on one machine; inspection and
# quality, and breakdowns that scrap the part in process, can end a job before its route ends; injected faults may
# change processing times
_UNBOUNDED_STATION_KEYS = ("batch", "inspection", "quality")


def _scraps_on_failure(station: Mapping[str, Any]) -> bool:
    failures = station.get("failures")
    return isinstance(failures, Mapping) and failures.get("on_failure") == "scrap"


def _constant(time: Any) -> float | None:
    """A route time that is a number or a constant distribution -> its value; anything random -> None."""
    if isinstance(time, bool):
        return None
    if isinstance(time, int | float):
        return float(time)
    if isinstance(time, Mapping) and time.get("dist") == "constant" and isinstance(time.get("value"), int | float):
        return float(time["value"])
    return None


@dataclass(frozen=True)
class BoundTerm:
    """One term of the makespan lower bound: its kind, the job or station it is about, and its parts."""

    kind: str  # "job" (release + route length), "load" (work / machines) or "head-load-tail" (one-machine bound)
    subject: str  # order id or station name
    value: float
    head: float = 0.0  # earliest possible start of the subject's work, from the first release
    work: float = 0.0  # the job's route length, or the station's load per machine
    tail: float = 0.0  # shortest route remainder after the station


def lower_bound_terms(scenario: Mapping[str, Any]) -> list[BoundTerm] | None:
    """Every term of :func:`makespan_lower_bound`, largest first; None where no bound is known.

    Terms: per order, its release (from the first release) plus its route's total time; per station, its load
    (total time of the operations it serves) divided by its machine count; and per station, the one-machine bound
    ``min head + load / machines + min tail``, where an operation's head is its order's release plus the time of
    the operations before it on its route and its tail the time of those after it. Every operation runs in
    ``[head, makespan - tail]``, so ``machines × (makespan - min tail - min head) ≥ load``.
    """
    release = scenario.get("release") or {}
    orders = release.get("orders") if isinstance(release, Mapping) else None
    if not orders or scenario.get("faults"):
        return None
    stations = scenario.get("stations") or {}
    products = scenario.get("products") or {}
    if any(
        isinstance(s, Mapping) and (any(s.get(k) for k in _UNBOUNDED_STATION_KEYS) or _scraps_on_failure(s))
        for s in stations.values()
    ):
        return None
    first = min(float(order.get("release", 0.0)) for order in orders)
    load: dict[str, float] = {}
    heads: dict[str, float] = {}
    tails: dict[str, float] = {}
    terms: list[BoundTerm] = []
    for order in orders:
        route = (products.get(order.get("product")) or {}).get("route") or []
        times = [_constant(op.get("time")) for op in route]
        if not route or any(t is None for t in times):
            return None
        head = float(order.get("release", 0.0)) - first
        total = sum(times)
        terms.append(BoundTerm("job", str(order.get("id", "?")), head + total, head=head, work=total))
        done = 0.0
        for op, t in zip(route, times, strict=True):
            station = str(op.get("station"))
            load[station] = load.get(station, 0.0) + t
            heads[station] = min(heads.get(station, math.inf), head + done)
            done += t
            tails[station] = min(tails.get(station, math.inf), total - done)
    for station, work in load.items():
        machines = (stations.get(station) or {}).get("machines", 1)
        per_machine = work / max(int(machines), 1)
        terms.append(BoundTerm("load", station, per_machine, work=per_machine))
        head, tail = heads[station], max(tails[station], 0.0)
        terms.append(BoundTerm("head-load-tail", station, head + per_machine + tail, head, per_machine, tail))
    return sorted(terms, key=lambda term: -term.value)


def makespan_lower_bound(scenario: Mapping[str, Any]) -> float:
    """A lower bound on the makespan of an order book with constant operation times; NaN where none is known.

    ``scenario`` is a canonical scenario dict (``Scenario.to_dict()``, ``scenario.json``) or one written by
    :func:`jssp_scenario`. The bound is the largest of :func:`lower_bound_terms`: the longest job, the most loaded
    station and the one-machine head + load + tail bound. It holds whatever the dispatching rules, and also with
    setups, breakdowns that resume, shifts or transport (they only add time). NaN: no order book, a random operation
    time, or batching, inspection, quality, breakdowns that scrap the part, or injected faults (under which a job may
    skip work or share a machine).
    """
    terms = lower_bound_terms(scenario)
    return terms[0].value if terms else math.nan
