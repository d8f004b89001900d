"""Expected flow of a released job through the plant: visits and work per station, including rework loops.

A job follows its route; at a station with ``inspection`` a flagged job (defective × ``detect`` + good ×
``false_alarm``) with fewer than ``max_rework`` loops so far goes to the rework station and back to the inspection
(same inspection time), otherwise it is scrapped and visits no later station. A rework removes a defect with
probability ``repair``. Defects arise at every visit of a station with ``quality`` and are carried on; an assembly
inherits the defects of its kit components, and a scrapped component is replaced by a new one.

The recursion over rework loops is exact for the model above, with one approximation: every visit of a station with
``quality`` creates a defect with one fixed probability, ``sim.quality.defect_probability`` at the process state of
the set-points (E[z²] = ((setpoint − best)² + noise²) / tolerance², wear 0, no excursion or fault). As p is convex
in z² while p < 1/2, the true rate is somewhat higher where the noise is large, and wear only adds to it. Scrap by
breakdowns (``on_failure = "scrap"``) is left out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from sim.quality import defect_probability
from sim.spec import Scenario, Station

# (defective, rework loops so far) -> probability mass of the jobs in that condition
State = dict[tuple[bool, int], float]


@dataclass(frozen=True, slots=True)
class JobFlow:
    """Expected flow of one released job (with the components its kits need, replacements of scrapped ones included)."""

    visits: dict[str, float]  # station -> expected operations there
    work: dict[str, float]  # station -> expected processing time there (scenario time unit)
    scrapped: float  # probability that the job itself is scrapped
    defective: float  # probability that it leaves completed and carrying a defect


def station_defect_rate(station: Station) -> float:
    """Defect probability of one operation at the set-points (an approximation, see the module docstring)."""
    if station.quality is None:
        return 0.0
    z = {}
    for name, p in station.parameters.items():
        z[name] = math.sqrt(((p.setpoint - p.optimum) ** 2 + p.noise**2) / p.tolerance**2)
    return defect_probability(station.quality, station.parameters, z, 0.0)


@dataclass
class _Walk:
    """Accumulates visits, work and scrap while the state distribution of one job walks its route."""

    scenario: Scenario
    rates: dict[str, float]
    visits: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    work: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    scrapped: float = 0.0

    def visit(self, name: str, mean_time: float, state: State, repair: float | None = None) -> State:
        """One operation at station ``name`` (a rework if ``repair`` is set); returns the state of the jobs going on."""
        mass = sum(state.values())
        self.visits[name] += mass
        self.work[name] += mass * mean_time
        spec = self.scenario.stations[name]
        p = self.rates[name]
        out: State = defaultdict(float)
        for (defective, loops), m in state.items():
            bad = m if defective else m * p
            if repair is not None:
                bad *= 1.0 - repair
            out[(True, loops)] += bad
            out[(False, loops)] += m - bad
        if spec.inspection is None:
            return out
        return self._inspect(name, mean_time, out)

    def _inspect(self, name: str, mean_time: float, state: State) -> State:
        insp = self.scenario.stations[name].inspection
        passed: State = defaultdict(float)
        for (defective, loops), m in state.items():
            flagged = m * (insp.detect if defective else insp.false_alarm)
            passed[(defective, loops)] += m - flagged
            if flagged == 0:
                continue
            if insp.rework is None or loops >= insp.max_rework:
                self.scrapped += flagged
                continue
            reworked = self.visit(insp.rework, insp.rework_time.mean, {(defective, loops + 1): flagged}, insp.repair)
            for key, value in self.visit(name, mean_time, reworked).items():
                passed[key] += value
        return passed


def job_flow(scenario: Scenario, product: str, rates: dict[str, float] | None = None) -> JobFlow:
    """Expected visits and work per station of one released job of ``product`` (kit components included)."""
    if rates is None:
        rates = {name: station_defect_rate(spec) for name, spec in scenario.stations.items()}
    walk = _Walk(scenario, rates)
    state: State = {(False, 0): 1.0}
    for op in scenario.products[product].route:
        for component, count in (op.kit or {}).items():
            sub = job_flow(scenario, component, rates)
            good = 1.0 - sub.scrapped
            attempts = count / good if good > 0 else math.inf  # a scrapped component is replaced until one is good
            for name, value in sub.visits.items():
                walk.visits[name] += attempts * value
            for name, value in sub.work.items():
                walk.work[name] += attempts * value
            clean = (1.0 - sub.defective / good) ** count if good > 0 else 1.0
            state = _inherit(state, clean)
        state = walk.visit(op.station, op.time.mean, state)
    defective = sum(m for (bad, _), m in state.items() if bad)
    return JobFlow(dict(walk.visits), dict(walk.work), walk.scrapped, defective)


def _inherit(state: State, clean: float) -> State:
    """An assembly takes in its kit: it becomes defective unless every component is clean (probability ``clean``)."""
    out: State = defaultdict(float)
    for (defective, loops), m in state.items():
        out[(True, loops)] += m if defective else m * (1.0 - clean)
        out[(False, loops)] += 0.0 if defective else m * clean
    return out


def mix_flow(scenario: Scenario) -> JobFlow:
    """Expected flow of one job released by the product mix (every station named; zeros for an order book)."""
    rates = {name: station_defect_rate(spec) for name, spec in scenario.stations.items()}
    visits = dict.fromkeys(scenario.stations, 0.0)
    work = dict.fromkeys(scenario.stations, 0.0)
    scrapped = defective = 0.0
    for product, share in scenario.release.product_mix.items():
        flow = job_flow(scenario, product, rates)
        for name in scenario.stations:
            visits[name] += share * flow.visits.get(name, 0.0)
            work[name] += share * flow.work.get(name, 0.0)
        scrapped += share * flow.scrapped
        defective += share * flow.defective
    return JobFlow(visits, work, scrapped, defective)
