"""Quality view: what inspection saw against the true defect state, the defect Pareto, yields."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mechanism_helpers import assert_complete, build, cells, load, old_run, plain_run, row, table

from reports.model import Section
from reports.quality import inspection_truth, quality_section


@pytest.fixture(scope="module")
def electronics(electronics_run: Path) -> tuple[dict, dict, Section | None]:
    summary, scenario = load(electronics_run)
    return summary, scenario, quality_section(electronics_run, summary, scenario)


def test_a_plain_line_has_no_quality_section(tmp_path):
    assert build(quality_section, plain_run(tmp_path / "plain")) is None


def test_the_electronics_line_has_a_quality_section(electronics):
    assert_complete(electronics[2], "quality")


def test_old_runs_without_the_defect_columns_are_skipped(tmp_path, electronics_run):
    assert build(quality_section, old_run(tmp_path / "old", electronics_run)) is None


def test_inspection_truth_follows_the_job():
    # job 0: defect, inspected; 1: false alarm, rework, passes; 2: defect, rework not repaired (escaped at exit);
    # 3: two rework loops (the middle verdict cannot be known), repaired; 4: still in the system; 5: an assembly
    # whose consumed component (job 6) was defective
    ops = [  # job, station, step, rework, start, defect, inspected
        (0, "p", 0, 0, 0, True, False), (0, "aoi", 1, 0, 1, False, True),
        (1, "p", 0, 0, 0, False, False), (1, "aoi", 1, 0, 1, False, True), (1, "fix", 2, 1, 2, False, False),
        (1, "aoi", 3, 1, 3, False, True),
        (2, "p", 0, 0, 0, True, False), (2, "aoi", 1, 0, 1, False, True), (2, "fix", 2, 1, 2, False, False),
        (2, "aoi", 3, 1, 3, False, True),
        (3, "p", 0, 0, 0, True, False), (3, "aoi", 1, 0, 1, False, True), (3, "fix", 2, 1, 2, False, False),
        (3, "aoi", 3, 1, 3, False, True), (3, "fix", 4, 2, 4, False, False), (3, "aoi", 5, 2, 5, False, True),
        (4, "p", 0, 0, 0, True, False), (4, "aoi", 1, 0, 1, False, True), (4, "fix", 2, 1, 2, False, False),
        (4, "aoi", 3, 1, 3, False, True),
        (5, "asm", 0, 0, 50, False, False), (5, "aoi", 1, 0, 51, False, True),
        (6, "p", 0, 0, 0, False, False),
    ]  # fmt: skip
    operations = pa.table(
        {
            "replication": [0] * len(ops),
            "job": [o[0] for o in ops],
            "station": [o[1] for o in ops],
            "step": [o[2] for o in ops],
            "rework": [o[3] for o in ops],
            "start": [float(o[4]) for o in ops],
            "defect": [o[5] for o in ops],
            "inspected": [o[6] for o in ops],
        }
    )
    jobs = pa.table(
        {
            "replication": [0] * 7,
            "job": list(range(7)),
            "status": ["completed", "completed", "completed", "completed", "in_system", "completed", "consumed"],
            "defective": [True, False, True, False, False, True, True],
            "parent": [-1, -1, -1, -1, -1, -1, 5],
            "completion": [9.0, 9.0, 9.0, 9.0, math.nan, 60.0, 50.0],
        }
    )
    rows, truth = inspection_truth(operations, jobs, ["fix"])
    assert [ops[i][0] for i in rows] == [0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5]
    assert truth.tolist() == [1, 0, 0, 1, 1, 1, -1, 0, 1, -1, 1]


def test_confusion_matrix_adds_up_to_the_inspected_operations(electronics_run, electronics):
    summary, scenario, section = electronics
    inspection = table(section, "inspection")
    ops = pq.read_table(electronics_run / "operations.parquet", columns=["station", "end", "inspected"]).to_pylist()
    lo = summary["scenario"]["warmup"]
    hi = lo + summary["scenario"]["horizon"]
    for station in cells(inspection, "station"):
        found = row(inspection, station)
        parts = ("detected", "escaped", "false alarms", "true negatives", "truth unknown")
        inspected = sum(1 for o in ops if o["station"] == station and o["inspected"] and lo < o["end"] <= hi)
        assert found["inspected"] * 2 == inspected > 0
        assert sum(found[p] for p in parts) == pytest.approx(found["inspected"])
        assert found["detected"] + found["escaped"] > 0
        spec = scenario["stations"][station]["inspection"]
        assert found["configured detect"] == 100 * spec["detect"]
        assert abs(found["detection rate"] - 100 * spec["detect"]) < 15  # about 150 defective jobs inspected
        assert found["false-alarm rate"] < 5


def test_defect_pareto_is_sorted_and_counts_the_defects(electronics):
    summary, scenario, section = electronics
    figure = next(f for f in section.figures if f.name == "defect-pareto")
    for key in ("by_type", "by_station"):
        values = list(figure.data[key].values())
        assert values == sorted(values, reverse=True)
    assert sum(figure.data["by_type"].values()) == pytest.approx(sum(figure.data["by_station"].values()))
    types = {t for spec in scenario["stations"].values() for t in (spec.get("quality") or {}).get("types", {})}
    assert set(figure.data["by_type"]) <= types
    yields = table(section, "station_yield")
    assert set(cells(yields, "station")) == {s for s, v in scenario["stations"].items() if v.get("quality")}
    assert all(80 < y <= 100 for y in cells(yields, "first-pass yield"))
    fpy = row(table(section, "plant"), "First-pass yield")
    assert fpy["unit"] == "%" and fpy["mean"] == pytest.approx(100 * summary["kpis"]["first_pass_yield"]["mean"])
