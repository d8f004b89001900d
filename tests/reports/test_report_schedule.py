"""The schedule section of an order book: critical path, lower bound and best known cards, Gantt chart."""

from __future__ import annotations

import copy
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import scenarios
from reports.model import Report
from reports.schedule import critical_path, gantt_chart, job_colours, schedule_section

FT06 = Path(__file__).resolve().parents[1] / "data" / "ft06.txt"
PNG = b"\x89PNG\r\n\x1a\n"

# A hand-made 3-job, 3-machine schedule (rows deliberately not in time order). Walking back from the last end (row 0,
# J1 op 2 on C, 9-10): its machine predecessor J0 op 2 (C, 6-9) ends at 9, J1 op 1 (A, 3-7) does not; J0 op 2's job
# predecessor J0 op 1 (B, 3-6) ends at 6; J0 op 1's job predecessor J0 op 0 (A, 0-3) ends at 3 and starts at 0.
HAND = [
    (1, 2, "C", 9.0, 10.0),  # 0
    (2, 0, "C", 0.0, 4.0),  # 1
    (0, 1, "B", 3.0, 6.0),  # 2
    (1, 0, "B", 0.0, 2.0),  # 3
    (2, 2, "A", 8.0, 9.0),  # 4
    (0, 0, "A", 0.0, 3.0),  # 5
    (1, 1, "A", 3.0, 7.0),  # 6
    (0, 2, "C", 6.0, 9.0),  # 7
    (2, 1, "B", 6.0, 8.0),  # 8
]
HAND_PATH = [5, 2, 7, 0]


def _table(rows: list[tuple]) -> pa.Table:
    job, op, machine, start, end = zip(*rows, strict=True)
    return pa.table({"job": list(job), "op": list(op), "machine": list(machine), "start": start, "end": end})


def test_critical_path_of_a_hand_made_schedule() -> None:
    table = _table(HAND)
    path = critical_path(table)
    assert path == HAND_PATH
    ops = [HAND[i] for i in path]
    assert ops[0][3] == 0.0 and ops[-1][4] == max(r[4] for r in HAND)  # from time 0 to the makespan
    assert sum(end - start for *_, start, end in ops) == 10.0  # its length is the makespan
    for a, b in itertools.pairwise(ops):  # consecutive operations touch, tied by their job or their machine
        assert a[4] == b[3]
        assert a[0] == b[0] or a[2] == b[2]
    columns = {name: table[name].to_pylist() for name in table.column_names}
    assert critical_path(columns) == HAND_PATH  # plain columns work too
    del columns["op"]  # without op, start times order a job's operations
    assert critical_path(columns) == HAND_PATH


def test_critical_path_prefers_a_chain_that_reaches_the_start() -> None:
    # row 2 (J1 op 1, A 3-5) is tied at 3 to its job predecessor (row 1, released late: starts at 1, nothing before)
    # and to its machine predecessor (row 0, from 0): only the machine link leads back to time 0
    rows = [(0, 0, "A", 0.0, 3.0), (1, 0, "B", 1.0, 3.0), (1, 1, "A", 3.0, 5.0)]
    assert critical_path(_table(rows)) == [0, 2]
    # both ties reach 0: the job predecessor is preferred
    rows = [(0, 0, "A", 0.0, 3.0), (1, 0, "B", 0.0, 3.0), (1, 1, "A", 3.0, 5.0)]
    assert critical_path(_table(rows)) == [1, 2]


def test_critical_path_stops_at_a_delay_and_handles_edge_cases() -> None:
    gap = [(0, 0, "A", 0.0, 2.0), (0, 1, "A", 5.0, 6.0)]  # idle from 2 to 5 (a setup or a transport, say)
    assert critical_path(_table(gap)) == [1]
    assert critical_path(_table([(0, 0, "A", 0.0, 2.0)])) == [0]
    assert critical_path({"job": [], "machine": [], "start": [], "end": []}) == []
    zero = [(0, 0, "A", 0.0, 0.0), (1, 0, "A", 0.0, 0.0), (0, 1, "B", 0.0, 4.0)]  # zero durations: no loop
    assert critical_path(_table(zero))[-1] == 2
    with pytest.raises(ValueError, match="no 'machine' column"):
        critical_path({"job": [0], "start": [0.0], "end": [1.0]})


# --------------------------------------------------------------------------------------------------------- section


def _load(folder: Path) -> tuple[dict, dict]:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    scenario = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
    return summary, scenario


def test_schedule_section_of_ft06(ft06_run: Path) -> None:
    summary, scenario = _load(ft06_run)
    section = schedule_section(ft06_run, summary, scenario)
    assert section is not None
    assert (section.id, section.title) == ("schedule", "Schedule")
    cards = {card.label: card for card in section.cards}
    assert list(cards) == ["Makespan", "Lower bound", "Gap to lower bound", "Best known", "Gap to best known"]
    assert cards["Makespan"].value == summary["kpis"]["makespan"]["mean"] == 61.0
    assert cards["Makespan"].unit == "min"
    assert cards["Lower bound"].value == 52.0
    assert "M4" in cards["Lower bound"].detail
    assert cards["Gap to lower bound"].value == pytest.approx((61 - 52) / 52 * 100)
    assert cards["Best known"].value == 55.0
    assert cards["Gap to best known"].value == pytest.approx((61 - 55) / 55 * 100)
    assert section.text[0] == "Makespan 61 min, 10.9 % above the best known 55 (lower bound 52)."

    (figure,) = section.figures
    assert figure.name == "gantt" and figure.png is not None and figure.png.startswith(PNG)
    schedule = pq.read_table(ft06_run / "schedule.parquet")
    rows = schedule.to_pylist()
    path = critical_path(schedule)
    assert figure.data["critical_path"] == [[f"J{rows[i]['job']}", rows[i]["op"]] for i in path]
    assert figure.data["critical_path_complete"] is True
    assert figure.data["makespan"] == 61.0 and figure.data["lower_bound"] == 52.0 and figure.data["best_known"] == 55
    chain = [rows[i] for i in path]
    assert chain[0]["start"] == 0.0 and chain[-1]["end"] == 61.0
    for a, b in itertools.pairwise(chain):
        assert a["end"] == b["start"]
        assert (a["job"] == b["job"] and a["op"] + 1 == b["op"]) or a["machine"] == b["machine"]

    (table,) = section.tables
    assert table.id == "critical-path"
    assert table.header == ["job", "operation", "machine", "start", "end", "tied to"]
    assert [row[:5] for row in table.rows] == [
        [f"J{r['job']}", r["op"], r["machine"], r["start"], r["end"]] for r in chain
    ]
    assert table.rows[0][5] == "first start" and {row[5] for row in table.rows[1:]} <= {"job", "machine"}

    report = Report("ft06", sections=[section])  # summary.json-ready: strict JSON
    entry = json.loads(json.dumps(report.summary(), allow_nan=False))["report"]["sections"]["schedule"]
    assert entry["figures"]["gantt"]["data"]["lower_bound"] == 52.0
    assert [c["label"] for c in entry["cards"]] == list(cards)


def test_cards_and_sentence_with_replications_and_without_bound_or_optimum(ft06_run: Path) -> None:
    summary, scenario = _load(ft06_run)
    several = copy.deepcopy(summary)
    several["replications"] = 3
    several["kpis"]["makespan"] |= {"mean": 60.0, "low": 58.0, "high": 62.0, "half_width": 2.0, "n": 3}
    section = schedule_section(ft06_run, several, scenario)
    assert section.cards[0].detail == "95 % CI 58–62 over 3 replications"
    assert (
        section.text[0] == "Mean makespan over 3 replications 60 min, 9.1 % above the best known 55 (lower bound 52)."
    )

    random = copy.deepcopy(scenario)
    random["products"]["J0"]["route"][0]["time"] = {"dist": "exponential", "mean": 1.0}
    random["scenario"]["description"] = "no optimum recorded"
    section = schedule_section(ft06_run, summary, random)
    cards = {card.label: card for card in section.cards}
    assert list(cards) == ["Makespan", "Lower bound", "Gap to lower bound"]
    assert cards["Lower bound"].value is None and cards["Gap to lower bound"].value is None
    assert section.text[0] == "Makespan 61 min (no lower bound known)."

    unknown = copy.deepcopy(scenario)
    unknown["scenario"]["description"] = "no optimum recorded"
    section = schedule_section(ft06_run, summary, unknown)
    assert section.text[0] == "Makespan 61 min, 17.3 % above the lower bound 52; no best known value recorded."

    optimal = copy.deepcopy(summary)
    optimal["kpis"]["makespan"]["mean"] = 55.0
    section = schedule_section(ft06_run, optimal, scenario)
    assert section.text[0] == "Makespan 55 min, equal to the best known 55 (lower bound 52)."
    assert {card.label: card.tone for card in section.cards}["Gap to best known"] == "good"


def test_schedule_section_is_none_for_a_stream_or_without_makespan(ft06_run: Path, tmp_path: Path) -> None:
    summary, scenario = _load(ft06_run)
    flow = scenarios.load("flow_line").to_dict()
    stream_summary = {"scenario": {"time_unit": "min"}, "replications": 1, "kpis": {"throughput": {"mean": 0.2}}}
    assert schedule_section(tmp_path, stream_summary, flow) is None
    with_makespan = stream_summary | {"kpis": {"makespan": {"mean": 5.0, "unit": "min"}}}
    assert schedule_section(tmp_path, with_makespan, flow) is None  # not an order book
    no_makespan = copy.deepcopy(summary)
    del no_makespan["kpis"]["makespan"]
    assert schedule_section(ft06_run, no_makespan, scenario) is None


def test_schedule_section_without_records(ft06_run: Path, tmp_path: Path) -> None:
    for name in ("summary.json", "scenario.json"):
        shutil.copy(ft06_run / name, tmp_path / name)
    summary, scenario = _load(tmp_path)
    section = schedule_section(tmp_path, summary, scenario)
    assert section is not None and section.cards[1].value == 52.0
    (figure,) = section.figures
    assert figure.skipped and "no schedule" in figure.note and not section.tables
    deadlocked = copy.deepcopy(summary)
    deadlocked["kpis"]["makespan"]["mean"] = None
    section = schedule_section(tmp_path, deadlocked, scenario)
    assert section.text[0].startswith("No makespan: not every job")


def test_gantt_of_many_jobs_and_tiny_bars(tmp_path: Path) -> None:
    rows = [
        {"job": j, "op": k, "machine": f"M{(j + k) % 12}", "start": 10.0 * k + j * 0.5, "end": 10.0 * k + j * 0.5 + w}
        for j in range(24)
        for k, w in enumerate((0.05, 3.0, 9.0))
    ]
    names = {j: f"order-{j}" for j in range(24)}
    image = gantt_chart(rows, [0, 1], names, [f"M{m}" for m in range(12)], "s", bound=20.0, optimum=None)
    assert image.startswith(PNG)
    colours = job_colours(24)
    assert len({c for c, _ in colours[:20]}) == 20  # 20 distinct colours, then hatched repeats
    assert colours[20][0] == colours[0][0] and colours[20][1] != colours[0][1]
    assert len({c for c, _ in job_colours(6)}) == 6


def test_reports_schedule_imports_no_simulator() -> None:
    code = "import sys, reports.schedule; print(sorted(m for m in ('simpy', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
