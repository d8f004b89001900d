"""Job-shop import: parsing, scenario building, TOML round trip, feasible schedules on ft06, lower bounds and best
known makespans."""

from __future__ import annotations

import copy
import itertools
import math
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import scenarios
from sim.errors import ScenarioError
from sim.experiment import run_experiment
from sim.jssp import (
    JobShopInstance,
    benchmark_optimum,
    jssp_scenario,
    known_optimum,
    lower_bound_terms,
    makespan_lower_bound,
    read_jssp,
    write_scenario_toml,
)
from sim.results import RunResult, schedule
from sim.spec import Scenario, _validate, load_scenario

FT06 = Path(__file__).resolve().parent.parent / "data" / "ft06.txt"
FT06_OPTIMUM = 55.0
RULES = ("spt", "lpt", "fifo", "mwkr", "srpt")
# Non-delay schedules of ft06 under each rule (ties to the job that joined the queue first). Cross-checked against an
# independent list scheduler that processes same-time completions in the order they were started.
FT06_MAKESPANS = {"spt": 88.0, "lpt": 67.0, "fifo": 61.0, "mwkr": 61.0, "srpt": 70.0}


@pytest.fixture(scope="module")
def ft06() -> JobShopInstance:
    return read_jssp(FT06)


def _write(tmp_path: Path, text: str, name: str = "inst.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(scenario: Scenario) -> RunResult:
    return run_experiment(scenario, 1, keep_tables=True)


# ----------------------------------------------------------------------------------------------------------- parsing


def test_read_ft06(ft06: JobShopInstance) -> None:
    assert (ft06.n_jobs, ft06.n_machines) == (6, 6)
    assert ft06.n_operations == 36
    assert ft06.total_work == 197
    assert ft06.jobs[0] == ((2, 1.0), (0, 3.0), (1, 6.0), (3, 7.0), (5, 3.0), (4, 6.0))
    assert ft06.jobs[5][-1] == (2, 1.0)
    for job in ft06.jobs:  # ft06 visits every machine exactly once per job
        assert sorted(m for m, _ in job) == list(range(6))
    assert ft06.source == str(FT06)


def test_description_header_blank_and_comment_lines_are_skipped(tmp_path: Path, ft06: JobShopInstance) -> None:
    body = FT06.read_text().splitlines()[2:]  # size line and job lines without the comment header
    text = "\n".join(
        [
            " instance ft06",
            " +++++++++++++++++++++++++++++",
            " Fisher and Thompson 6x6 instance, alternate name (mt06)",
            "",
            body[0],
            "# a comment between lines",
            "",
            *(f"  {line}   # job" for line in body[1:]),
            "",
            "# trailing comment",
        ]
    )
    parsed = read_jssp(_write(tmp_path, text))
    assert parsed == ft06  # the source path does not take part in equality


def test_float_durations_repeated_machines_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff2 2\r\n0 1.5 0 2\r\n1 0 0 2.25\r\n".encode())  # byte-order mark and CRLF line ends
    inst = read_jssp(path)
    assert inst.jobs == (((0, 1.5), (0, 2.0)), ((1, 0.0), (0, 2.25)))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("2 2\n0 1 1 2\n0 1 1\n", "line 3", "expected 4 numbers (2 machine/duration pairs), got 3"),
        ("2 2\n0 1 1 2\n0 1 2 2\n", "line 3", "operation 1: machine 2 out of range 0..1"),
        ("2 2\n0 1 1 2\n-1 1 0 2\n", "line 3", "operation 0: machine -1 out of range 0..1"),
        ("2 2\n0 1 1 -2\n0 1 1 2\n", "line 2", "operation 1: negative duration -2"),
        ("2 2\n0 1 1 2\n0 1.5 1 2\n0 1 1 2\n", "line 4", "unexpected content after the 2 job lines"),
        ("2 2\n0 1 1 2\n0 x 1 2\n", "line 3", "not a number: 'x'"),
        ("2 2\n0 1 1 2\n0.5 1 1 2\n", "line 3", "operation 0: machine must be an integer, got '0.5'"),
        ("2 2\n0 1 1 2\n0 nan 1 2\n", "line 3", "operation 0: duration must be a finite number, got 'nan'"),
        ("3 2\n0 1 1 2\n\n1 2 0 1\n", "line 4", "missing job lines: n_jobs is 3 but only 2 job line(s) follow"),
        ("2 2\n", "line 1", "missing job lines: n_jobs is 2 but only 0 job line(s) follow"),
        ("2 2 2\n0 1 1 2\n", "line 1", "expected 'n_jobs n_machines' (two positive integers), got '2 2 2'"),
        ("0 2\n", "line 1", "expected 'n_jobs n_machines' (two positive integers), got '0 2'"),
        ("2 2.0\n0 1 1 2\n", "line 1", "expected 'n_jobs n_machines' (two positive integers), got '2 2.0'"),
        ("2 two\n0 1 1 2\n1 1 0 2\n", "line 2", "the 1 line(s) before it are not all numbers"),
    ],
)
def test_read_errors_name_file_line_and_problem(tmp_path: Path, text: str, line: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        read_jssp(path)
    err = info.value
    assert err.source == str(path)
    assert len(err.problems) == 1, err.problems
    assert err.problems[0][0] == line
    assert message in err.problems[0][1]
    assert str(err).startswith(f"{path}: {line}: ")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "3 2\n0 1 5 2\n0 1 1\n1 -3 0 y\n")
    with pytest.raises(ScenarioError) as info:
        read_jssp(path)
    assert [field for field, _ in info.value.problems] == ["line 2", "line 3", "line 4"]
    assert "machine 5 out of range" in info.value.problems[0][1]
    assert "got 3" in info.value.problems[1][1]
    assert "not a number: 'y'" in info.value.problems[2][1]


@pytest.mark.parametrize("text", ["", "\n# only a comment\n\n", "instance foo\n+++\n"])
def test_no_size_line(tmp_path: Path, text: str) -> None:
    with pytest.raises(ScenarioError, match="no size line 'n_jobs n_machines'"):
        read_jssp(_write(tmp_path, text))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"missing\.txt: cannot read file \(No such file or directory\)"):
        read_jssp(tmp_path / "missing.txt")
    with pytest.raises(ScenarioError, match="cannot read file"):
        read_jssp(tmp_path)  # a directory
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"# \xe9t\xe9\n2 2\n")
    with pytest.raises(ScenarioError) as caught:
        read_jssp(latin1)
    assert str(caught.value) == f"{latin1}: not UTF-8 text: byte 0xe9 at offset 2 (line 1); save the file as UTF-8"


# ------------------------------------------------------------------------------------------------------- scenarios


def test_scenario_dict(ft06: JobShopInstance) -> None:
    data = jssp_scenario(ft06, "ft06", dispatch="lpt", time_unit="s")
    assert data["scenario"] == {
        "name": "ft06",
        "description": "job-shop instance from ft06.txt: 6 jobs x 6 machines; best known makespan: 55",
        "time_unit": "s",
        "warmup": 0.0,
        "seed": 0,
    }
    assert data["stations"] == {f"M{m}": {"machines": 1, "dispatch": "lpt"} for m in range(6)}
    assert data["release"]["orders"][:2] == [
        {"id": "J0", "product": "J0", "release": 0.0},
        {"id": "J1", "product": "J1", "release": 0.0},
    ]
    assert data["products"]["J1"]["route"][:2] == [{"station": "M1", "time": 8.0}, {"station": "M2", "time": 5.0}]
    scenario = _validate(data, "ft06.toml", {})
    assert scenario.has_order_book and scenario.scenario.horizon is None
    assert all(s.buffer is None and s.machines == 1 for s in scenario.stations.values())
    assert scenario.products["J0"].route[0].time.dist == "constant"
    assert jssp_scenario(ft06, "ft06")["scenario"]["time_unit"] == "min"
    assert jssp_scenario(ft06, "ft06")["stations"]["M0"]["dispatch"] == "spt"


def test_unknown_rule_is_caught_by_validation(ft06: JobShopInstance) -> None:
    with pytest.raises(ScenarioError, match=r"stations\.M0\.dispatch: unknown rule 'sptt'"):
        _validate(jssp_scenario(ft06, "ft06", dispatch="sptt"), "ft06.toml", {})


def test_toml_round_trip(tmp_path: Path, ft06: JobShopInstance) -> None:
    data = jssp_scenario(ft06, "ft06", dispatch="mwkr")
    path = write_scenario_toml(data, tmp_path / "out" / "ft06.toml")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Job-shop scenario generated by shopfloor (sim.jssp).\n# Source: ")
    assert "ft06.txt" in text.splitlines()[1]
    assert [p.name for p in path.parent.iterdir()] == ["ft06.toml"]  # no temporary file left behind
    loaded = load_scenario(path)
    assert loaded.content_hash == _validate(jssp_scenario(ft06, "ft06", dispatch="mwkr"), "x", {}).content_hash
    assert loaded.stations["M3"].dispatch == "mwkr"
    assert [(op.station, op.time.mean) for op in loaded.products["J2"].route] == [(f"M{m}", d) for m, d in ft06.jobs[2]]
    write_scenario_toml(data, path, source="OR-Library jobshop1.txt, instance ft06")
    assert path.read_text(encoding="utf-8").splitlines()[1] == "# Source: OR-Library jobshop1.txt, instance ft06"


# ------------------------------------------------------------------------------------------------------- schedules


def _rule_key(rule: str, instance: JobShopInstance, job: int, op: int, ready: float) -> float:
    """The quantity the rule minimises when choosing among waiting operations."""
    duration = instance.jobs[job][op][1]
    remaining = sum(d for _, d in instance.jobs[job][op:])
    return {"spt": duration, "lpt": -duration, "srpt": remaining, "mwkr": -remaining, "fifo": ready}[rule]


def check_schedule(instance: JobShopInstance, table: pa.Table, rule: str) -> float:
    """Assert that ``table`` (sim.results.schedule) is a feasible non-delay schedule made by ``rule``; its makespan."""
    rows = table.to_pylist()
    assert table.column_names == ["job", "op", "machine", "start", "end"]
    # every operation exactly once, on its machine, for its duration
    scheduled = Counter((r["job"], r["op"]) for r in rows)
    assert scheduled == Counter((j, k) for j, job in enumerate(instance.jobs) for k in range(len(job))), (
        "not every operation scheduled exactly once"
    )
    for r in rows:
        machine, duration = instance.jobs[r["job"]][r["op"]]
        assert r["machine"] == f"M{machine}", f"job {r['job']} op {r['op']} on the wrong machine"
        assert abs(r["end"] - r["start"] - duration) < 1e-9, f"job {r['job']} op {r['op']} has the wrong duration"
    # precedence: each job's operations in route order, one after the other
    by_job: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_job[r["job"]].append(r)
    ready: dict[tuple[int, int], float] = {}
    for job, ops in by_job.items():
        ops.sort(key=lambda r: r["op"])
        previous_end = 0.0
        for r in ops:
            assert r["start"] >= previous_end - 1e-9, f"job {job} op {r['op']} starts before its predecessor ends"
            ready[(job, r["op"])] = previous_end
            previous_end = r["end"]
    # capacity: no two operations overlap on a machine
    by_machine: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_machine[r["machine"]].append(r)
    for machine, ops in by_machine.items():
        ops.sort(key=lambda r: r["start"])
        for a, b in itertools.pairwise(ops):
            assert b["start"] >= a["end"] - 1e-9, f"{machine}: job {a['job']} and job {b['job']} overlap"
        # non-delay: a machine never idles while an operation waits for it
        idle, free_from = [], 0.0
        for r in ops:
            if r["start"] > free_from:
                idle.append((free_from, r["start"]))
            free_from = r["end"]
        for r in ops:
            r_ready = ready[(r["job"], r["op"])]
            assert not any(lo < r["start"] and hi > r_ready for lo, hi in idle), f"{machine} idled while job waited"
        # the dispatching rule: the chosen operation is no worse than any that was already waiting
        for r in ops:
            key = _rule_key(rule, instance, r["job"], r["op"], ready[(r["job"], r["op"])])
            for w in ops:
                w_ready = ready[(w["job"], w["op"])]
                if w_ready < r["start"] < w["start"]:
                    assert key <= _rule_key(rule, instance, w["job"], w["op"], w_ready) + 1e-9, (
                        f"{rule} at {machine}, t={r['start']}: chose job {r['job']} over waiting job {w['job']}"
                    )
    return max(r["end"] for r in rows)


@pytest.mark.parametrize("rule", RULES)
def test_ft06_schedule_is_feasible(tmp_path: Path, ft06: JobShopInstance, rule: str) -> None:
    path = write_scenario_toml(jssp_scenario(ft06, "ft06", dispatch=rule), tmp_path / "ft06.toml")
    result = _run(load_scenario(path))
    kpis = result.replications[0].kpis
    makespan = check_schedule(ft06, schedule(result.table("operations")), rule)
    assert kpis["makespan"] == makespan >= FT06_OPTIMUM
    assert kpis["makespan"] == FT06_MAKESPANS[rule]
    assert kpis["completed"] == 6 and kpis["in_system"] == 0
    work: dict[int, float] = defaultdict(float)
    for job in ft06.jobs:
        for machine, duration in job:
            work[machine] += duration
    for machine, total in work.items():
        assert kpis[f"station.M{machine}.utilisation"] == pytest.approx(total / makespan)
        assert kpis[f"station.M{machine}.blocked"] == 0


def test_saved_schedule_parquet(tmp_path: Path, ft06: JobShopInstance) -> None:
    result = _run(_validate(jssp_scenario(ft06, "ft06", dispatch="fifo"), "ft06.toml", {}))
    result.save(tmp_path / "run")
    saved = pq.read_table(tmp_path / "run" / "schedule.parquet")
    assert saved.num_rows == 36
    assert saved.to_pylist() == schedule(result.table("operations")).to_pylist()
    assert check_schedule(ft06, saved, "fifo") == FT06_MAKESPANS["fifo"]


# Two jobs, both starting on M0:  J0 = M0 3, M1 2;  J1 = M0 2, M1 4.
# J1 first (spt, mwkr): M0 J1 0-2, J0 2-5; M1 J1 2-6, J0 6-8            -> makespan 8 (the optimum, Johnson's rule)
# J0 first (lpt, fifo, srpt): M0 J0 0-3, J1 3-5; M1 J0 3-5, J1 5-9      -> makespan 9
TINY = "# hand-checked 2x2\n2 2\n0 3 1 2\n0 2 1 4\n"
J1_FIRST = [(1, 0, "M0", 0.0, 2.0), (0, 0, "M0", 2.0, 5.0), (1, 1, "M1", 2.0, 6.0), (0, 1, "M1", 6.0, 8.0)]
J0_FIRST = [(0, 0, "M0", 0.0, 3.0), (0, 1, "M1", 3.0, 5.0), (1, 0, "M0", 3.0, 5.0), (1, 1, "M1", 5.0, 9.0)]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("spt", J1_FIRST), ("mwkr", J1_FIRST), ("lpt", J0_FIRST), ("fifo", J0_FIRST), ("srpt", J0_FIRST)],
)
def test_tiny_instance_by_hand(tmp_path: Path, rule: str, expected: list[tuple]) -> None:
    instance = read_jssp(_write(tmp_path, TINY))
    result = _run(_validate(jssp_scenario(instance, "tiny", dispatch=rule), "tiny.toml", {}))
    table = schedule(result.table("operations"))
    rows = sorted((r["job"], r["op"], r["machine"], r["start"], r["end"]) for r in table.to_pylist())
    assert rows == sorted(expected)
    assert result.replications[0].kpis["makespan"] == max(end for *_, end in expected)
    check_schedule(instance, table, rule)


def test_schedule_checker_rejects_broken_schedules(ft06: JobShopInstance) -> None:
    """The checks of ``check_schedule`` are not vacuous: each catches its kind of error."""
    result = _run(_validate(jssp_scenario(ft06, "ft06", dispatch="spt"), "ft06.toml", {}))
    rows = schedule(result.table("operations")).to_pylist()
    end = {(r["job"], r["op"]): r["end"] for r in rows}
    ready = {(r["job"], r["op"]): end.get((r["job"], r["op"] - 1), 0.0) for r in rows}
    on_machine_after = {(r["machine"], r["end"]) for r in rows}

    def broken(index: int, **changes: float) -> pa.Table:
        copy = [dict(r) for r in rows]
        copy[index].update(changes)
        return pa.Table.from_pylist(copy)

    def find(condition) -> int:
        return next(i for i, r in enumerate(rows) if condition(r, ready[(r["job"], r["op"])]))

    # an operation that waited for its machine (not its job): starting it 1 earlier only breaks machine capacity
    waited = find(lambda r, rdy: r["start"] >= rdy + 1 and (r["machine"], r["start"]) in on_machine_after)
    # an operation that started as soon as its job was ready: starting it 1 earlier breaks precedence
    prompt = find(lambda r, rdy: r["op"] > 0 and r["start"] == rdy)
    last = max(range(len(rows)), key=lambda i: rows[i]["end"])  # delaying the very last operation adds idle time
    cases = [
        (pa.Table.from_pylist(rows[1:]), "exactly once"),
        (broken(0, end=rows[0]["end"] + 1), "wrong duration"),
        (broken(prompt, start=rows[prompt]["start"] - 1, end=rows[prompt]["end"] - 1), "before its predecessor"),
        (broken(waited, start=rows[waited]["start"] - 1, end=rows[waited]["end"] - 1), "overlap"),
        (broken(last, start=rows[last]["start"] + 1, end=rows[last]["end"] + 1), "idled while job waited"),
        (pa.Table.from_pylist(rows), "lpt at"),
    ]
    check_schedule(ft06, pa.Table.from_pylist(rows), "spt")
    for i, (table, message) in enumerate(cases):
        with pytest.raises(AssertionError, match=message):
            check_schedule(ft06, table, "lpt" if i == len(cases) - 1 else "spt")


# ---------------------------------------------------------------------------------------------------- lower bounds

# ft06 by hand (machine, duration per job, see tests/data/ft06.txt):
#   job lengths J0..J5: 26, 47, 34, 35, 25, 30                               -> longest job J1 = 47
#   machine loads M0..M5: 40, 26, 26, 22, 40, 43                             -> most loaded M5 = 43
#   one-machine bound on M4 (J0 op 5, J1 op 2, J2 op 5, J3 op 4, J4 op 2, J5 op 4): earliest head J4 = 9 + 3 = 12,
#   load 40, shortest tail 0 (J0 and J2 end on M4)                           -> 12 + 40 + 0 = 52
#   (M5: head J5 = 6, load 43, tail 0 -> 49; M0: 1 + 40 + 1 = 42)
FT06_LOWER_BOUND = 52.0


def test_ft06_lower_bound_by_hand(ft06: JobShopInstance) -> None:
    data = jssp_scenario(ft06, "ft06")
    canonical = _validate(data, "ft06.toml", {}).to_dict()  # as in scenario.json
    assert makespan_lower_bound(canonical) == FT06_LOWER_BOUND == makespan_lower_bound(data)
    terms = {(t.kind, t.subject): t for t in lower_bound_terms(canonical)}
    assert max(t.value for (kind, _), t in terms.items() if kind == "job") == terms[("job", "J1")].value == 47
    assert max(t.value for (kind, _), t in terms.items() if kind == "load") == terms[("load", "M5")].value == 43
    best = lower_bound_terms(canonical)[0]
    assert (best.kind, best.subject, best.head, best.work, best.tail) == ("head-load-tail", "M4", 12, 40, 0)
    assert terms[("head-load-tail", "M5")].value == 49 and terms[("head-load-tail", "M0")].value == 42
    assert FT06_LOWER_BOUND <= FT06_OPTIMUM


@pytest.mark.parametrize("rule", RULES)
def test_lower_bound_holds_for_every_rule(ft06: JobShopInstance, rule: str) -> None:
    scenario = _validate(jssp_scenario(ft06, "ft06", dispatch=rule), "ft06.toml", {})
    makespan = _run(scenario).replications[0].kpis["makespan"]
    assert makespan_lower_bound(scenario.to_dict()) <= FT06_OPTIMUM <= makespan


def test_lower_bound_tiny_releases_and_parallel_machines(tmp_path: Path) -> None:
    instance = read_jssp(_write(tmp_path, TINY))  # J0 = M0 3, M1 2; J1 = M0 2, M1 4; optimum 8
    data = jssp_scenario(instance, "tiny")
    # M1: earliest head 2 (J1 after M0) + load 6 + tail 0 = 8: the bound is tight here
    assert makespan_lower_bound(data) == 8.0
    late = copy.deepcopy(data)
    late["release"]["orders"][1]["release"] = 10.0  # J1 arrives at 10: makespan from 0 ≥ 10 + 6
    assert makespan_lower_bound(late) == 16.0
    shifted = copy.deepcopy(data)
    for order in shifted["release"]["orders"]:
        order["release"] += 100.0  # the makespan counts from the first release
    assert makespan_lower_bound(shifted) == 8.0
    parallel = copy.deepcopy(data)
    parallel["stations"]["M1"]["machines"] = 2
    parallel["stations"]["M0"]["machines"] = 2
    # two machines per station: the loads halve (M0: 0 + 5 / 2 + 2 = 4.5, M1: 2 + 6 / 2 + 0 = 5), J1's route 6 binds
    assert makespan_lower_bound(parallel) == 6.0
    scenario = _validate(parallel, "tiny.toml", {})
    assert _run(scenario).replications[0].kpis["makespan"] == 6.0  # both jobs at once: the bound is reached


def test_lower_bound_is_nan_without_an_order_book_or_with_random_times(ft06: JobShopInstance) -> None:
    data = jssp_scenario(ft06, "ft06")
    random = copy.deepcopy(data)
    random["products"]["J3"]["route"][2]["time"] = {"dist": "exponential", "mean": 5.0}
    batched = copy.deepcopy(data)
    batched["stations"]["M2"]["batch"] = {"max": 2}
    scrapping = copy.deepcopy(data)  # a breakdown that scraps the part ends its job early: the makespan may be shorter
    failures = {"mtbf": {"dist": "exponential", "mean": 20.0}, "mttr": {"dist": "exponential", "mean": 2.0}}
    scrapping["stations"]["M0"]["failures"] = failures | {"on_failure": "scrap"}
    resuming = copy.deepcopy(data)
    resuming["stations"]["M0"]["failures"] = failures | {"on_failure": "resume"}
    assert makespan_lower_bound(resuming) == FT06_LOWER_BOUND  # breakdowns that resume only add time
    stream = _validate(data, "ft06.toml", {}).to_dict()
    del stream["release"]["orders"]
    stream["release"]["interarrival"] = {"dist": "constant", "value": 5.0}
    stream["release"]["product_mix"] = {"J0": 1.0}
    for case in (random, batched, scrapping, stream, {}):
        assert math.isnan(makespan_lower_bound(case))
        assert lower_bound_terms(case) is None
    assert math.isnan(makespan_lower_bound(scenarios.load("flow_line").to_dict()))
    constant = copy.deepcopy(data)
    constant["products"]["J3"]["route"][2]["time"] = {"dist": "constant", "value": 5.0}  # = ft06's 5: same bound
    assert makespan_lower_bound(constant) == FT06_LOWER_BOUND


# ------------------------------------------------------------------------------------------------- known optima


def test_known_optimum_is_recorded_and_read_back(tmp_path: Path, ft06: JobShopInstance) -> None:
    assert benchmark_optimum(ft06) == 55.0
    data = jssp_scenario(ft06, "ft06")
    assert known_optimum(data) == 55.0
    path = write_scenario_toml(data, tmp_path / "ft06.toml")
    loaded = load_scenario(path)
    assert known_optimum(loaded.to_dict()) == 55.0  # survives TOML and the canonical form (scenario.json)
    assert "best known makespan: 55" in loaded.scenario.description
    given = jssp_scenario(ft06, "ft06", optimum=57.5)  # an explicit value wins over the table
    assert known_optimum(given) == 57.5
    assert given["scenario"]["description"].endswith("; best known makespan: 57.5")
    for bad in (math.nan, -1.0, math.inf):
        with pytest.raises(ScenarioError, match=r"ft06\.txt: optimum: the best known makespan must be a finite"):
            jssp_scenario(ft06, "ft06", optimum=bad)


def test_benchmarks_are_recognised_by_name_and_size(tmp_path: Path, ft06: JobShopInstance) -> None:
    tiny = read_jssp(_write(tmp_path, TINY, name="ft06.txt"))  # named like ft06 but 2 x 2: not ft06
    assert benchmark_optimum(tiny) is None
    assert known_optimum(jssp_scenario(tiny, "ft06")) is None
    assert "best known" not in jssp_scenario(tiny, "ft06")["scenario"]["description"]
    anonymous = read_jssp(_write(tmp_path, FT06.read_text(), name="instance.txt"))
    assert benchmark_optimum(anonymous) is None
    assert benchmark_optimum(anonymous, "MT06") == 55.0  # by the scenario name, aliases included
    assert benchmark_optimum(read_jssp(_write(tmp_path, FT06.read_text(), name="FT06.TXT"))) == 55.0
    ten_by_five = JobShopInstance(10, 5, tuple(((m, 1.0) for m in range(5)) for _ in range(10)), "la01.txt")
    assert benchmark_optimum(ten_by_five) == 666.0
    assert benchmark_optimum(JobShopInstance(10, 10, (), "ft10")) == 930.0
    assert benchmark_optimum(JobShopInstance(20, 5, (), "ft20")) == 1165.0


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("job-shop instance from ft06.txt: 6 jobs x 6 machines; best known makespan: 55", 55.0),
        ("Best Known Makespan:  930.5 (Applegate & Cook)", 930.5),
        ("best known makespan: 1.2e3", 1200.0),
        ("job-shop instance from x.txt: 2 jobs x 2 machines", None),
        ("best known makespan: unknown", None),
        ("", None),
    ],
)
def test_known_optimum_parsing(description: str, expected: float | None) -> None:
    assert known_optimum({"scenario": {"name": "x", "description": description}}) == expected
    assert known_optimum({}) is None
