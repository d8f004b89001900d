"""The material-flow diagram: moves between stations, rework loops, scrap and exit, conserved job counts."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from flow_helpers import PNG, drawn, load, three_station_line, tiny_summary, write_table

from reports.material_flow import material_flow_section, material_flows
from reports.model import Section


@pytest.fixture(scope="module")
def electronics(electronics_run: Path) -> tuple[Path, dict, dict, dict[str, Section]]:
    """The electronics_line run with every flow section built once."""
    summary, scenario = load(electronics_run)
    sections = {"material-flow": material_flow_section(electronics_run, summary, scenario)}
    return electronics_run, summary, scenario, sections


def test_material_flow_conserves_jobs(electronics):
    folder, summary, scenario, sections = electronics
    flows, reps = material_flows(folder, scenario)
    assert reps == 2
    kpis = summary["kpis"]
    per_rep = {key: n / reps for key, n in flows.items()}
    assert per_rep[("release", "printer", "release")] == pytest.approx(kpis["released"]["mean"])
    assert per_rep[("test_pack", "out", "completed")] == pytest.approx(kpis["completed"]["mean"])
    scrapped = sum(n for (a, b, kind), n in per_rep.items() if kind == "scrap")
    assert scrapped == pytest.approx(kpis["scrapped"]["mean"])
    rework = {(a, b) for a, b, kind in flows if kind == "rework"}
    assert ("aoi", "repair") in rework and ("repair", "aoi") in rework
    # into a station = out of it + the jobs still there at the end (waiting, in process or blocked)
    ops = pq.read_table(folder / "operations.parquet", columns=["replication", "job", "step", "station", "taken"])
    jobs = pq.read_table(folder / "jobs.parquet", columns=["replication", "job", "status"])
    rows = zip(*(jobs[c].to_pylist() for c in jobs.column_names), strict=True)
    open_jobs = {(r, j) for r, j, status in rows if status == "in_system"}
    last: dict[tuple[int, int], tuple[int, str]] = {}
    for r, j, step, station, _ in zip(*(ops[c].to_pylist() for c in ops.column_names), strict=True):
        if (r, j) not in last or step > last[(r, j)][0]:
            last[(r, j)] = (step, station)
    stations = {s for a, b, _ in flows for s in (a, b)} - {"release", "out", "scrap"}
    for station in stations:
        into = sum(n for (a, b, _), n in flows.items() if b == station)
        out = sum(n for (a, b, _), n in flows.items() if a == station)
        still = sum(1 for key in open_jobs if last[key][1] == station)
        assert into - out == still, station
    # a move counts when the job joins the next queue: the release arrow counts every released job, those taken
    # by the first station and those still waiting in its queue
    first = ops.filter(pc.equal(ops["step"], 0))
    assert flows[("release", "printer", "release")] == first.num_rows == jobs.num_rows
    table = sections["material-flow"].tables[0]
    assert table.header == ["from", "to", "kind", "jobs per replication"]
    assert {(a, b, kind): n for a, b, kind, n in table.rows} == pytest.approx(per_rep)
    assert all(type(cell) is str for row in table.rows for cell in row[:3])
    assert drawn(sections["material-flow"]).data["off_route"] == ["repair"]


def test_flow_line_without_rework(tmp_path):
    scenario = three_station_line(tmp_path)
    flows, reps = material_flows(tmp_path, scenario)
    assert reps == 2
    assert flows == {
        ("release", "a", "release"): 4,
        ("a", "b", "flow"): 4,
        ("b", "c", "flow"): 3,
        ("c", "out", "completed"): 3,
    }
    section = material_flow_section(tmp_path, tiny_summary(), scenario)
    assert drawn(section).data["layout"] == ["a", "b", "c"]
    assert not [row for row in section.tables[0].rows if row[2] == "rework"]
    assert [row[3] for row in section.tables[0].rows] == [2.0, 2.0, 1.5, 1.5]


def test_revisits_count_as_rework_without_a_rework_column(tmp_path):
    write_table(
        tmp_path,
        "operations",
        {
            "replication": [0, 0, 0, 0],
            "job": [7, 7, 7, 7],
            "step": [0, 1, 2, 3],
            "station": ["a", "b", "a", "b"],
            "queue_entry": [0.0, 1, 2, 3],
        },
    )
    write_table(tmp_path, "jobs", {"replication": [0], "job": [7], "status": ["scrapped"]})
    flows, reps = material_flows(tmp_path, {})
    assert reps == 1
    assert flows == {
        ("release", "a", "release"): 1,
        ("a", "b", "flow"): 1,
        ("b", "a", "rework"): 1,
        ("a", "b", "rework"): 1,
        ("b", "scrap", "scrap"): 1,
    }
    assert drawn(material_flow_section(tmp_path, tiny_summary(), {})).png.startswith(PNG)
