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
one order (released at 0) per job, constant operation times. Its makespan KPI is the schedule's makespan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from sim.errors import ScenarioError
from sim.files import read_text, write_atomic

JobRoute = tuple[tuple[int, float], ...]  # (machine, duration) pairs in processing order


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


def jssp_scenario(instance: JobShopInstance, name: str, dispatch: str = "spt", time_unit: str = "min") -> dict:
    """A scenario dict (TOML-ready) that runs ``instance`` as an order book with ``dispatch`` at every machine.

    Stations ``M0``.. have one machine and an unlimited buffer; product and order ``J{j}`` carry job ``j``'s route
    with constant times; all orders are released at 0. Validate it with ``sim.spec`` (unknown rules are caught there).
    """
    origin = f" from {Path(instance.source).name}" if instance.source else ""
    return {
        "scenario": {
            "name": name,
            "description": f"job-shop instance{origin}: {instance.n_jobs} jobs x {instance.n_machines} machines",
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
