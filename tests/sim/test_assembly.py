"""Kit assembly, checked from the jobs and operations tables: components carry ``parent`` = the assembly job that
consumed them."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from sim_helpers import EPS, assert_problem, col, intervals, run, scenario

from sim.errors import ScenarioError
from sim.kpi import replication_kpis

KIT = {"shaft": 1, "gear": 2}
HORIZON = 5000.0


def gearbox_plant(kit_first: bool = False, machines: int = 1) -> dict:
    """Gearboxes: a housing is machined on ``frame``, then assembled with one shaft (lathe) and two gears (mill).
    With ``kit_first`` the gearbox route starts at the assembly station."""
    assembly = {"station": "assembly", "time": {"dist": "triangular", "low": 3, "mode": 4, "high": 6}, "kit": KIT}
    route = [assembly] if kit_first else [{"station": "frame", "time": {"dist": "exponential", "mean": 3.0}}, assembly]
    return {
        "scenario": {"name": "assembly", "warmup": 0, "horizon": HORIZON, "seed": 21},
        "release": {"interarrival": {"dist": "exponential", "mean": 8.0}, "product_mix": {"gearbox": 1.0}},
        "stations": {"frame": {}, "lathe": {}, "mill": {}, "assembly": {"machines": machines, "dispatch": "edd"}},
        "products": {
            "gearbox": {"route": route},
            "shaft": {"route": [{"station": "lathe", "time": {"dist": "exponential", "mean": 4.0}}]},
            "gear": {"route": [{"station": "mill", "time": {"dist": "exponential", "mean": 2.5}}]},
        },
    }


def check_kits(tables, kit: dict[str, int], station: str = "assembly") -> int:
    """Every assembly operation that started consumed exactly its kit, all of it before it started; returns how many
    assembly operations were checked."""
    jobs = tables["jobs"].to_pylist()
    by_parent: dict[int, list[dict]] = {}
    for job in jobs:
        if job["parent"] >= 0:
            by_parent.setdefault(job["parent"], []).append(job)
    last_depart: dict[int, float] = {}
    for op in tables["operations"].to_pylist():
        if not math.isnan(op["depart"]):
            last_depart[op["job"]] = max(last_depart.get(op["job"], -math.inf), op["depart"])
    checked = 0
    for op in tables["operations"].to_pylist():
        if op["station"] != station or math.isnan(op["start"]):
            continue
        components = by_parent.get(op["job"], [])
        assert Counter(c["product"] for c in components) == Counter(kit), f"assembly {op['job']}: {components}"
        for component in components:
            assert component["status"] == "consumed"
            assert component["completion"] <= op["start"] + EPS, f"{component} consumed after {op}"
            assert last_depart[component["job"]] <= component["completion"] + EPS  # its own route was done
        checked += 1
    for job in jobs:  # consumed exactly when it has a parent
        assert (job["status"] == "consumed") == (job["parent"] >= 0), job
    return checked


@pytest.mark.parametrize(("kit_first", "machines"), [(False, 1), (True, 2)])
def test_an_assembly_starts_only_with_its_whole_kit_consumed(kit_first: bool, machines: int):
    tables = run(scenario(gearbox_plant(kit_first, machines)))
    assert check_kits(tables, KIT) > 400
    # gearboxes waited for kits in state "idle" (work waiting that cannot start yet)
    states = {s for m in range(machines) for _, _, s in intervals(tables["states"], "assembly", m, HORIZON)}
    assert "idle" in states


def test_jobs_are_conserved():
    """released = completed + scrapped + consumed + in_system; every job in the system is somewhere."""
    sc = scenario(gearbox_plant())
    tables = run(sc)
    jobs, ops = tables["jobs"], tables["operations"]
    status = Counter(col(jobs, "status"))
    kpis = replication_kpis(sc, tables)
    assert kpis["released"] == jobs.num_rows
    for name in ("completed", "scrapped", "consumed", "in_system"):
        assert kpis[name] == status.get(name, 0), name
    assert jobs.num_rows == sum(status.values())
    assert status["consumed"] == 3 * status["completed"] + 3 * np.count_nonzero(  # each gearbox started consumed 3
        (col(jobs, "product") == "gearbox") & (col(jobs, "status") == "in_system") & _assembly_started(tables)
    )
    assert col(tables["wip"], "wip")[-1] == status["in_system"]
    # a job in the system has exactly one open visit, unless it is a finished component waiting in the kit stock
    open_ops = Counter(col(ops, "job")[np.isnan(col(ops, "depart"))])
    for job in jobs.to_pylist():
        if job["status"] == "in_system":
            assert open_ops[job["job"]] == 1 or (job["product"] != "gearbox" and open_ops[job["job"]] == 0), job
        else:
            assert open_ops[job["job"]] == 0, job


def _assembly_started(tables) -> np.ndarray:
    """Per job: whether its assembly operation has started."""
    ops = tables["operations"]
    started = set(col(ops, "job")[(col(ops, "station") == "assembly") & ~np.isnan(col(ops, "start"))].tolist())
    return np.array([j in started for j in col(tables["jobs"], "job")], dtype=bool)


def test_a_component_used_at_two_assembly_stations_feeds_both_or_is_an_error():
    """Gears go into boxes (assembled on asm1) and into crates (asm2): each assembly must still consume its kit."""
    raw = {
        "scenario": {"name": "two", "warmup": 0, "horizon": 2000.0, "seed": 2},
        "release": {"interarrival": {"dist": "exponential", "mean": 10.0}, "product_mix": {"box": 0.5, "crate": 0.5}},
        "stations": {"mill": {}, "asm1": {}, "asm2": {}},
        "products": {
            "gear": {"route": [{"station": "mill", "time": 1.0}]},
            "box": {"route": [{"station": "asm1", "time": 2.0, "kit": {"gear": 1}}]},
            "crate": {"route": [{"station": "asm2", "time": 2.0, "kit": {"gear": 1}}]},
        },
    }
    try:
        sc = scenario(raw)
    except ScenarioError as error:  # acceptable: rejected with the field named
        assert any("kit" in field for field, _ in error.problems), error.problems
        return
    tables = run(sc)
    assert check_kits(tables, {"gear": 1}, "asm1") > 50
    assert check_kits(tables, {"gear": 1}, "asm2") > 50


def test_an_order_for_a_component_completes_or_is_an_error():
    """An order book asking for a gear on its own, and for a box whose kit holds a gear."""
    raw = {
        "scenario": {"name": "order"},
        "release": {"orders": [{"id": "loose-gear", "product": "gear"}, {"id": "box", "product": "box", "release": 5}]},
        "stations": {"mill": {}, "asm": {}},
        "products": {
            "gear": {"route": [{"station": "mill", "time": 1.0}]},
            "box": {"route": [{"station": "asm", "time": 2.0, "kit": {"gear": 1}}]},
        },
    }
    try:
        sc = scenario(raw)
    except ScenarioError as error:
        assert any(field.startswith("release.orders[0]") for field, _ in error.problems), error.problems
        return
    jobs = {row["order"]: row for row in run(sc)["jobs"].to_pylist()}
    assert jobs["loose-gear"]["status"] == "completed", f"the ordered gear was not delivered: {jobs['loose-gear']}"
    assert jobs["box"]["status"] == "completed"


def test_a_kit_naming_a_missing_product_is_an_error_naming_the_field():
    raw = gearbox_plant()
    raw["products"]["gearbox"]["route"][1]["kit"] = {"shaft": 1, "bolt": 4}
    assert_problem(raw, "products.gearbox.route[1].kit.bolt", "no product named 'bolt'")


def test_other_kit_errors_name_the_field():
    raw = gearbox_plant()
    raw["products"]["gearbox"]["route"][1]["kit"] = {"shaft": 0, "gear": 2}
    assert_problem(raw, "products.gearbox.route[1].kit.shaft", "≥ 1")
    raw = gearbox_plant()
    raw["release"]["product_mix"] = {"gearbox": 0.5, "gear": 0.5}
    assert_problem(raw, "release.product_mix.gear", "is a kit component of")
    raw = gearbox_plant()
    raw["products"]["gearbox"]["route"][1]["kit"] = {"gearbox": 1}
    assert_problem(raw, "products.gearbox.route[1].kit.gearbox", "component of itself")


def test_kits_that_need_each_other_are_an_error_naming_the_cycle():
    raw = {
        "scenario": {"name": "cycle", "horizon": 100.0},
        "release": {"interarrival": 1.0, "product_mix": {"crate": 1.0}},
        "stations": {"s": {}},
        "products": {
            "crate": {"route": [{"station": "s", "time": 1.0, "kit": {"box": 1}}]},
            "box": {"route": [{"station": "s", "time": 1.0, "kit": {"lid": 1}}]},
            "lid": {"route": [{"station": "s", "time": 1.0, "kit": {"box": 1}}]},
        },
    }
    assert_problem(raw, "products.box", "kits form a cycle: box → lid → box")
