"""Schedule search for a job-shop scenario: the simulator decodes machine sequences, a tabu search improves them.

A job-shop scenario is an order book released at one time onto stations of one machine each (``sim.jssp`` writes
them). Its schedule is a decision the simulator decodes: each station's ``sequence`` of order ids, started in that
order as soon as the job and the machine are free (a semi-active schedule). The makespan of a schedule is always the
simulator's (``sim.kpi``'s definition: first release to last completion), averaged over ``replications`` under
common random numbers (replication r has the same draws for every candidate) where times are random or machines
break down.

- :func:`best_rule`: every dispatching rule of ``sim.dispatch`` simulated; the best one and its machine sequences.
- :func:`search_schedule`: a tabu search (Nowicki & Smutnicki's N5 critical-block swaps, a tabu list of reversed
  swaps, ties broken by the sum of completion times, back jumps to elite schedules and then random N1 walks when it
  stops improving) from the best rule's schedule, each candidate simulated. The critical path comes from the
  simulated start and end times; with replications, the moves on the critical paths of most replications are tried
  first. Deterministic for a seed and an evaluation limit (a time limit stops it wherever it is then).
- :func:`apply_schedule`: the scenario with a schedule's sequences, validated, to simulate or draw as a Gantt chart.

Candidates skip re-validation (the scenario is built once and only the sequences are swapped in) and the garbage
collector's full collections are held off while searching: both only make the same simulations faster.
"""

from __future__ import annotations

import gc
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from scenarios.jobshop_moves import Move, critical_blocks, n1_moves, n5_moves, timed_schedule
from sim.dispatch import RULES
from sim.distributions import Constant
from sim.errors import ScenarioError
from sim.jssp import known_optimum, makespan_lower_bound
from sim.plant import Plant
from sim.records import Records
from sim.spec import Scenario
from sim.states import JobStatus

Sequences = dict[str, tuple[str, ...]]  # station -> order ids in processing order
STOCHASTIC_REPLICATIONS = 10  # default replications of a scenario with random times or breakdowns


# ------------------------------------------------------------------------------------------------ what it applies to


def job_shop_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """Why ``scenario`` is not a job shop (``(field, message)`` pairs); empty if it is one."""
    problems: list[tuple[str, str]] = []
    orders = scenario.release.orders
    if not orders:
        problems.append(("release", "a job shop is an order book: give release.orders, not a stream of arrivals"))
    elif len({order.release for order in orders}) > 1:
        releases = [order.release for order in orders]
        problems.append(("release.orders", f"all orders must be released at one time, got {min(releases):g} to "
                                           f"{max(releases):g}"))  # fmt: skip
    if scenario.scenario.horizon is not None:
        problems.append(("scenario.horizon", "a job shop runs its order book out: leave the horizon out"))
    for name, station in scenario.stations.items():
        where = f"stations.{name}"
        if station.machines != 1:
            problems.append((f"{where}.machines", f"a job-shop station has one machine, got {station.machines}"))
        for key in ("batch", "inspection"):
            if getattr(station, key) is not None:
                problems.append((f"{where}.{key}", f"a job shop has no {key}"))
        if station.failures is not None and station.failures.on_failure == "scrap":
            problems.append((f"{where}.failures.on_failure", "breakdowns must not scrap jobs in a job shop"))
    for product, spec in scenario.products.items():
        for i, op in enumerate(spec.route):
            if op.kit:
                problems.append((f"products.{product}.route[{i}].kit", "a job shop has no assembly kits"))
    if scenario.transport is not None:
        problems.append(("transport", "a job shop moves jobs between machines without transport"))
    return problems


def check_job_shop(scenario: Scenario) -> None:
    """Raise ``ScenarioError`` (naming the file and each field) unless ``scenario`` is a job shop."""
    problems = job_shop_problems(scenario)
    if problems:
        raise ScenarioError(scenario.source, [(field, f"not a job shop: {message}") for field, message in problems])


def random_parts(scenario: Scenario) -> list[str]:
    """The fields that make a run of ``scenario`` random: route times that are not constant, breakdowns, faults."""
    parts = [
        f"products.{product}.route[{i}].time"
        for product, spec in scenario.products.items()
        for i, op in enumerate(spec.route)
        if not isinstance(op.time, Constant)
    ]
    for name, station in scenario.stations.items():
        parts += [f"stations.{name}.{key}" for key in ("failures", "maintenance") if getattr(station, key) is not None]
    return parts + [f"faults[{i}]" for i in range(len(scenario.faults))]


# ---------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RuleResult:
    """Makespans of single dispatching rules (means over the replications), the best rule and its sequences."""

    makespans: Mapping[str, float]
    best: str
    makespan: float
    sequences: Sequences  # the best rule's machine sequences in replication 0


@dataclass(frozen=True)
class ScheduleResult:
    """A schedule found by :func:`search_schedule`, with what it is measured against."""

    makespan: float  # the simulator's (mean) makespan of ``sequences``
    sequences: Sequences
    best_rule: str
    rule_makespan: float
    rule_makespans: Mapping[str, float]
    lower_bound: float  # sim.jssp.makespan_lower_bound (NaN with random times)
    optimum: float | None  # the best known makespan recorded in the scenario, if any
    evaluations: int  # schedules simulated (rules included), each over ``replications``
    seconds: float
    history: tuple[tuple[int, float], ...]  # (evaluations, best makespan) at each improvement, for convergence plots
    replications: int
    seed: int
    simulation_seed: int

    @property
    def gap(self) -> float | None:
        """Relative distance to the best known makespan (0.02: 2 % above it), or None where none is known."""
        return None if self.optimum is None else (self.makespan - self.optimum) / self.optimum

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return {
            "makespan": self.makespan, "gap": self.gap, "best_rule": self.best_rule,
            "rule_makespan": self.rule_makespan, "rule_makespans": dict(self.rule_makespans),
            "lower_bound": None if math.isnan(self.lower_bound) else self.lower_bound, "optimum": self.optimum,
            "evaluations": self.evaluations, "seconds": self.seconds, "replications": self.replications,
            "seed": self.seed, "simulation_seed": self.simulation_seed,
            "sequences": {name: list(seq) for name, seq in self.sequences.items()},
            "history": [list(point) for point in self.history],
        }  # fmt: skip


def apply_schedule(scenario: Scenario, sequences: Mapping[str, Sequence[str]]) -> Scenario:
    """``scenario`` with each station's ``sequence`` set (validated: unknown ids, duplicates, cycles are errors)."""
    return scenario.with_overrides({f"stations.{name}.sequence": list(seq) for name, seq in sequences.items()})


# ---------------------------------------------------------------------------------------------------- simulation


@contextmanager
def _collector_held() -> Iterator[None]:
    """Freeze what exists now, so no full collection rescans it before every replication (``sim.plant``)."""
    if gc.get_freeze_count():
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def records_makespan(records: Records) -> float:
    """First release to last completion (``sim.kpi``'s makespan); inf where a job did not complete (a stall)."""
    status = records.job_status
    if records.deadlock is not None or not status or any(s != JobStatus.COMPLETED for s in status):
        return math.inf
    return max(records.job_completion) - min(records.job_release)


@dataclass
class _Outcome:
    makespan: float  # mean over the replications
    flow: float  # mean sum of completion times: breaks ties between equal makespans
    records: list[Records] | None  # None: known from an earlier evaluation


class _Decoder:
    """Simulates candidates: the scenario is built once; a candidate only swaps the stations' sequences in."""

    def __init__(self, scenario: Scenario, seed: int, replications: int, budget: _Budget):
        self.scenario, self.seed, self.replications, self.budget = scenario, seed, replications, budget
        self.stations = list(scenario.stations)
        self.known: dict[tuple[tuple[str, ...], ...], tuple[float, float]] = {}

    def variant(self, sequences: Mapping[str, Sequence[str]] | None = None, rule: str | None = None) -> Scenario:
        stations = {
            name: spec.model_copy(
                update={"sequence": list(sequences[name]) if sequences else None, "dispatch": rule or spec.dispatch}
            )
            for name, spec in self.scenario.stations.items()
        }
        return self.scenario.model_copy(update={"stations": stations})

    def simulate(self, scenario: Scenario) -> _Outcome:
        records = [Plant(scenario, r, self.seed).run() for r in range(self.replications)]
        self.budget.spend()
        makespan = float(np.mean([records_makespan(r) for r in records]))
        flow = float(np.mean([sum(r.job_completion) for r in records])) if makespan < math.inf else math.inf
        return _Outcome(makespan, flow, records)

    def evaluate(self, sequences: Sequences) -> _Outcome:
        key = tuple(sequences[name] for name in self.stations)
        if key in self.known:
            return _Outcome(*self.known[key], None)
        outcome = self.simulate(self.variant(sequences))
        self.known[key] = (outcome.makespan, outcome.flow)
        return outcome

    def sequences(self, records: Records) -> Sequences:
        ops = timed_schedule(records, self.stations).machine_ops
        return {name: tuple(order for order, _ in ops[name]) for name in self.stations}


class _Budget:
    """Evaluations and wall time left; reports each evaluation to ``progress``."""

    def __init__(self, time_limit: float | None, max_evaluations: int | None, progress: Callable[[int], None] | None):
        self.deadline = math.inf if time_limit is None else time.perf_counter() + time_limit
        self.max_evaluations = math.inf if max_evaluations is None else max_evaluations
        self.progress = progress
        self.used = 0

    def spend(self) -> None:
        self.used += 1
        if self.progress is not None:
            self.progress(self.used)

    @property
    def exhausted(self) -> bool:
        return self.used >= self.max_evaluations or time.perf_counter() >= self.deadline


def _rules(decoder: _Decoder, rules: Iterable[str] | None) -> RuleResult:
    makespans: dict[str, float] = {}
    best: tuple[float, str, Sequences] | None = None
    for rule in sorted(RULES) if rules is None else rules:
        if rule not in RULES:
            raise ScenarioError("rules", [(rule, f"unknown rule; use one of {', '.join(sorted(RULES))}")])
        outcome = decoder.simulate(decoder.variant(rule=rule))
        makespans[rule] = outcome.makespan
        if best is None or outcome.makespan < best[0]:
            best = (outcome.makespan, rule, decoder.sequences(outcome.records[0]))
    if best is None:
        raise ScenarioError("rules", [("", "no dispatching rule to compare")])
    return RuleResult(makespans, best[1], best[0], best[2])


def best_rule(
    scenario: Scenario,
    rules: Iterable[str] | None = None,
    replications: int | None = None,
    seed: int | None = None,
) -> RuleResult:
    """Simulate every dispatching rule (default: all of ``sim.dispatch``) at every station; the best one.

    ``replications`` default to 1, or 10 where times are random; ``seed`` to the scenario's. Each rule runs the same
    replications (common random numbers).
    """
    check_job_shop(scenario)
    replications = replications or (STOCHASTIC_REPLICATIONS if random_parts(scenario) else 1)
    seed = scenario.scenario.seed if seed is None else seed
    with _collector_held():
        return _rules(_Decoder(scenario, seed, replications, _Budget(None, None, None)), rules)


# ---------------------------------------------------------------------------------------------------- the search


def _swap(sequences: Sequences, move: Move) -> Sequences:
    seq = list(sequences[move.station])
    seq[move.position], seq[move.position + 1] = seq[move.position + 1], seq[move.position]
    return {**sequences, move.station: tuple(seq)}


class _TabuSearch:
    def __init__(self, decoder: _Decoder, rng: np.random.Generator, neighbours: int, patience: int, tenure: int):
        self.decoder, self.rng = decoder, rng
        self.neighbours, self.patience, self.tenure = neighbours, patience, tenure
        self.elites = 8  # elite schedules kept for back jumps
        self.kick = 2 + len(decoder.stations)  # the longest random walk once no elite is left
        self.target = -math.inf  # stop once the best makespan is down to this
        self.history: list[tuple[int, float]] = []

    def _moves(self, sequences: Sequences, records: list[Records], wide: bool = False) -> list[Move]:
        """N5 (N1 where ``wide``) moves on the replications' critical paths, the most frequent first."""
        counts: Counter[Move] = Counter()
        for run in records:
            blocks = critical_blocks(timed_schedule(run, self.decoder.stations))
            counts.update(n1_moves(blocks) if wide else n5_moves(blocks))
        moves = [
            m
            for m, _ in counts.most_common()
            if sequences[m.station][m.position] != sequences[m.station][m.position + 1]
        ]
        return moves[: self.neighbours]

    def _records(self, sequences: Sequences, outcome: _Outcome) -> list[Records]:
        if outcome.records is not None:
            return outcome.records
        return self.decoder.simulate(self.decoder.variant(sequences)).records

    def run(self, start: Sequences, budget: _Budget) -> tuple[Sequences, float]:
        """Tabu search from ``start`` until the budget is spent; the best schedule and its makespan.

        Each step simulates the moves that are not tabu (all of them where every move is) and takes the best
        (smallest makespan, then smallest sum of completion times). When ``patience`` steps bring no new best, the
        search jumps back to the latest elite (the schedule a new best was found from) and takes its best move not
        yet taken (Nowicki & Smutnicki's back jump); with no elite left, it walks a few random N1 swaps away from
        where it is, and goes on from there.
        """
        decoder, rng = self.decoder, self.rng
        current = start
        outcome = decoder.evaluate(current)
        best, best_value = current, outcome.makespan
        self.history.append((budget.used, best_value))
        records = self._records(current, outcome)
        tabu: dict[tuple[str, str, str], int] = {}
        elites: list[tuple[Sequences, list[tuple[float, Move]]]] = []  # schedule, its untried moves (best last)
        iteration = stale = 0
        forced: Move | None = None
        while not budget.exhausted and best_value > self.target:
            iteration += 1
            moves = self._moves(current, records) or self._moves(current, records, wide=True)
            if not moves or stale >= self.patience:
                tabu.clear()
                stale = 0
                if elites:
                    current, untried = elites[-1]
                    _, forced = untried.pop()
                    if not untried:
                        elites.pop()
                    records = self._records(current, decoder.evaluate(current))
                else:
                    current, records = self._kick(current, records, budget)  # drift on from here
                continue

            def attribute(move: Move, sequences: Sequences) -> tuple[str, str, str]:
                seq = sequences[move.station]
                return (move.station, seq[move.position], seq[move.position + 1])

            if forced is not None:
                moves, forced = [forced], None
            else:
                free = [m for m in moves if tabu.get(attribute(m, current), 0) <= iteration]
                moves = free or moves
            candidates = []
            for move in moves:
                neighbour = _swap(current, move)
                result = decoder.evaluate(neighbour)
                candidates.append((result.makespan, result.flow, rng.random(), move, neighbour, result))
                if budget.exhausted:
                    break
            candidates.sort(key=lambda c: c[:3])
            value, _, _, move, neighbour, chosen = candidates[0]
            tenure = self.tenure + int(rng.integers(0, max(self.tenure // 2, 1) + 1))
            tabu[attribute(move, neighbour)] = iteration + tenure  # forbids swapping the pair back
            if value < best_value:
                untried = [(c[0], c[3]) for c in reversed(candidates[1:])]
                if untried:
                    elites.append((current, untried))
                    del elites[: -self.elites]
                best, best_value, stale = neighbour, value, 0
                self.history.append((budget.used, best_value))
            else:
                stale += 1
            current = neighbour
            records = self._records(current, chosen)
        return best, best_value

    def _kick(self, start: Sequences, records: list[Records], budget: _Budget) -> tuple[Sequences, list[Records]]:
        """A random walk of 2 to ``kick`` N1 swaps on the critical path away from ``start``."""
        current = start
        for _ in range(int(self.rng.integers(2, self.kick + 1))):
            moves = self._moves(current, records, wide=True)
            if not moves or budget.exhausted:
                break
            current = _swap(current, moves[int(self.rng.integers(len(moves)))])
            records = self._records(current, self.decoder.evaluate(current))
        return current, records


def search_schedule(
    scenario: Scenario,
    *,
    seed: int = 0,
    time_limit: float | None = 60.0,
    max_evaluations: int | None = None,
    replications: int | None = None,
    simulation_seed: int | None = None,
    rules: Iterable[str] | None = None,
    initial: Mapping[str, Sequence[str]] | None = None,
    neighbours: int = 24,
    target: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScheduleResult:
    """Search machine sequences of a job-shop ``scenario`` for the smallest simulated (mean) makespan.

    The search starts from the best single rule's schedule (:func:`best_rule`) or from ``initial`` sequences (which
    must name every station), and stops after ``time_limit`` seconds or ``max_evaluations`` evaluations, whichever
    comes first (at least one must be given). ``replications`` default to 1, or 10 where times are random or machines
    break down (:func:`random_parts`), all with ``simulation_seed`` (default: the scenario's); ``seed`` drives the
    search's own choices. ``neighbours`` caps the moves tried per step; ``progress(done)`` is called after each
    evaluation. It stops early at ``target`` or, with constant times, at the lower bound (the schedule is then
    optimal). The result is never worse than the start: the best rule's schedule, or ``initial``.
    """
    if time_limit is None and max_evaluations is None:
        raise ValueError("give a time limit or an evaluation limit")
    check_job_shop(scenario)
    started = time.perf_counter()
    replications = replications or (STOCHASTIC_REPLICATIONS if random_parts(scenario) else 1)
    simulation_seed = scenario.scenario.seed if simulation_seed is None else simulation_seed
    budget = _Budget(time_limit, max_evaluations, progress)
    raw = scenario.to_dict()
    bound = makespan_lower_bound(raw)
    with _collector_held():
        decoder = _Decoder(scenario, simulation_seed, replications, budget)
        ranked = _rules(decoder, rules)
        start = ranked.sequences
        if initial is not None:
            apply_schedule(scenario, initial)  # clear errors for ids, duplicates and cycles
            missing = [name for name in decoder.stations if name not in initial]
            if missing:
                raise ScenarioError("initial", [(name, "no sequence for this station") for name in missing])
            start = {name: tuple(initial[name]) for name in decoder.stations}
        n_ops = sum(len(p.route) for p in scenario.products.values())
        tenure = max(len(scenario.stations), len(scenario.release.orders or ())) // 2 + 2
        search = _TabuSearch(decoder, np.random.default_rng(seed), neighbours, 50 + 2 * n_ops, tenure)
        stops = [value for value in (bound, target) if value is not None and not math.isnan(value)]
        search.target = max(stops, default=-math.inf)
        sequences, makespan = search.run(start, budget)
    return ScheduleResult(
        makespan=makespan, sequences=sequences, best_rule=ranked.best, rule_makespan=ranked.makespan,
        rule_makespans=ranked.makespans, lower_bound=bound, optimum=known_optimum(raw),
        evaluations=budget.used, seconds=time.perf_counter() - started, history=tuple(search.history),
        replications=replications, seed=seed, simulation_seed=simulation_seed,
    )  # fmt: skip
