"""Process-parameter view: control charts of the sensor readings, with the injected faults as ground truth."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from mechanism_helpers import assert_complete, build, load, old_run, plain_run

from reports.model import Section
from reports.process import control_charts_section


@pytest.fixture(scope="module")
def electronics(electronics_run: Path) -> tuple[dict, Section | None]:
    summary, scenario = load(electronics_run)
    return scenario, control_charts_section(electronics_run, summary, scenario)


def test_a_plain_line_has_no_process_section(tmp_path):
    assert build(control_charts_section, plain_run(tmp_path / "plain")) is None


def test_the_electronics_line_has_a_process_section(electronics):
    assert_complete(electronics[1], "process")


def test_old_runs_without_the_parameter_columns_are_skipped(tmp_path, electronics_run):
    assert build(control_charts_section, old_run(tmp_path / "old", electronics_run)) is None


def test_fault_windows_drawn_are_the_faults_of_replication_0(electronics_run, electronics):
    scenario, section = electronics
    drawn = {
        (w["fault"], w["station"], w["machine"], w["onset"], w["end"])
        for f in section.figures
        for w in f.data["fault_windows"]
    }
    faults = pq.read_table(electronics_run / "faults.parquet").to_pylist()
    with_parameters = {s for s, v in scenario["stations"].items() if v.get("parameters")}
    expected = {
        (f["fault"], f["station"], f["machine"], f["onset"], f["end"])
        for f in faults
        if f["replication"] == 0 and f["station"] in with_parameters
    }
    assert drawn == expected and expected
    names = {f.name for f in section.figures}
    assert names == {f"control-{s}" for s in with_parameters}
    panels = sum(len(f.data["panels"]) for f in section.figures)
    assert panels == sum(len(scenario["stations"][s]["parameters"]) for s in with_parameters) <= 8


def test_control_limits_flag_the_points_outside(electronics_run, electronics):
    figure = next(f for f in electronics[1].figures if f.name == "control-placement")
    panel = figure.data["panels"]["vacuum"]
    assert panel["lcl"] < panel["centre"] < panel["ucl"]
    assert panel["ucl"] - panel["centre"] == pytest.approx(3 * panel["sigma"])
    ops = pq.read_table(electronics_run / "operations.parquet", columns=["replication", "station", "start", "vacuum"])
    rows = [r for r in ops.to_pylist() if r["replication"] == 0 and r["station"] == "placement"]
    values = np.array([r["vacuum"] for r in rows if math.isfinite(r["start"]) and math.isfinite(r["vacuum"])])
    assert panel["readings"] == values.size
    assert panel["out_of_limits"] == np.count_nonzero((values < panel["lcl"]) | (values > panel["ucl"]))
    assert figure.data["baseline"] == [0.0, 1440.0]  # the warm-up
    assert 0.5 < panel["sigma"] / 1.2 < 1.5  # configured noise 1.2 kPa
