"""The `shopfloor` command end to end: output, files, exit codes, error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scenarios.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_run_json_prints_kpis_with_confidence_intervals():
    result = invoke("run", "mm1", "--replications", "3", "--workers", "1", "--json", "--set", "scenario.horizon=5000")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    throughput = summary["kpis"]["throughput"]
    assert summary["replications"] == 3
    assert throughput["n"] == 3
    assert throughput["low"] < throughput["mean"] < throughput["high"]
    assert throughput["unit"] == "jobs/min"
    assert 0.7 < summary["stations"]["server"]["utilisation"]["mean"] < 0.9
    assert summary["command"].startswith("shopfloor")


def test_run_writes_records_and_summary(tmp_path: Path):
    out = tmp_path / "run"
    result = invoke(
        "run", "flow_line", "-r", "2", "--workers", "1", "--out", str(out), "--set", "scenario.horizon=2000"
    )
    assert result.exit_code == 0, result.output
    for name in ("jobs", "operations", "states", "wip", "kpis"):
        assert pq.read_table(out / f"{name}.parquet").num_rows > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"]["name"] == "flow_line"
    assert summary["scenario"]["horizon"] == 2000
    kpis = pq.read_table(out / "kpis.parquet")
    assert kpis.num_rows == 2
    assert summary["kpis"]["throughput"]["mean"] == pytest.approx(sum(kpis["throughput"].to_pylist()) / 2)
    assert "throughput" in result.stdout and "weld" in result.stdout


def test_bad_override_is_a_user_error_without_traceback():
    result = invoke("run", "flow_line", "--set", "stations.weld.machines=0")
    assert result.exit_code == 2
    assert "flow_line.toml: stations.weld.machines (from --set): must be ≥ 1, got 0" in result.output
    assert "Traceback" not in result.output


def test_missing_scenario_names_the_bundled_ones():
    result = invoke("run", "no_such_scenario")
    assert result.exit_code == 2
    assert "no_such_scenario" in result.output and "flow_line" in result.output


def test_validate_reports_every_problem(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        """
[scenario]
name = "bad"
horizon = 100
[release]
interarrival = { dist = "exponential", mean = 1.0 }
product_mix = { A = 0.5 }
[stations.s]
machines = 1
[products.A]
route = [{ station = "missing", time = 1.0 }]
"""
    )
    result = invoke("validate", str(bad))
    assert result.exit_code == 2
    assert f"{bad}: products.A.route[0].station: no station named 'missing'" in result.output
    assert f"{bad}: release.product_mix: shares must sum to 1, got 0.5" in result.output


def test_validate_ok_shows_offered_load():
    result = invoke("validate", "mm1")
    assert result.exit_code == 0
    assert "offered load server: 0.80" in result.output


def test_validate_prints_capacity_warnings():
    result = invoke(
        "validate", "electronics_line", "--set", "stations.aoi.buffer=20", "--set", "stations.repair.buffer=10"
    )
    assert result.exit_code == 0
    assert "offered load repair:" in result.output
    text = " ".join(result.output.split())  # rich wraps long lines
    assert "warning: stations aoi → repair → aoi form a loop of finite buffers (20, 10)" in text
    overloaded = invoke("validate", "mm1", "--set", "release.interarrival.mean=0.8")
    assert "warning: station server: offered load 1.25 ≥ 1" in " ".join(overloaded.output.split())
    assert "warning" not in invoke("validate", "flow_line").output


def test_overloaded_scenario_runs_with_a_warning():
    result = invoke("run", "mm1", "--set", "products.job.route.0.time.mean=1.5", "--set", "scenario.horizon=500")
    assert result.exit_code == 0
    assert "offered load 1.20" in result.output


def test_list_shows_bundled_scenarios():
    result = invoke("list")
    assert result.exit_code == 0
    for name in ("flow_line", "job_shop", "mm1"):
        assert name in result.output


def test_console_script_exit_code_and_message():
    """The installed entry point, as a user runs it: exit code 2 and one clear line on stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", "from scenarios.cli import main; main()", "run", "mm1", "--set", "scenario.seed=-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "mm1.toml: scenario.seed (from --set): must be ≥ 0, got -1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_generate_writes_a_dataset_with_its_card(tmp_path: Path):
    out = tmp_path / "data"
    result = invoke("generate", "electronics_line", "--rows", "3000", "--out", str(out), "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert card["rows"]["operations"] == 3000
    assert pq.read_table(out / "operations.parquet").num_rows == 3000
    assert json.loads((out / "dataset.json").read_text()) == card


def test_run_report_and_rerender(tmp_path: Path):
    out = tmp_path / "run"
    result = invoke("run", "mm1", "--set", "scenario.horizon=3000", "--workers", "1", "--out", str(out), "--report")
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert "Run report: mm1" in html
    (out / "report.html").unlink()
    assert invoke("report", str(out)).exit_code == 0
    assert (out / "report.html").read_text().count("<section") == html.count("<section")


def test_report_of_a_folder_without_results_is_a_user_error(tmp_path: Path):
    result = invoke("report", str(tmp_path))
    assert result.exit_code == 2
    assert "no summary.json" in result.output


def test_an_output_path_that_is_a_file_is_a_user_error_before_simulating(tmp_path: Path):
    blocker = tmp_path / "afile"
    blocker.write_text("keep me")
    for args in (["run", "mm1"], ["generate", "mm1", "--rows", "10"], ["sweep", "weld_capacity"]):
        result = invoke(*args, "--out", str(blocker))
        assert result.exit_code == 2, args
        assert f"{blocker}: exists and is not a folder" in result.output
    assert blocker.read_text() == "keep me"


def test_whatif_of_a_study_applies_set_to_the_base_and_every_variant():
    args = ["whatif", "weld_capacity", "-r", "2", "--workers", "1", "--json"]
    plain = json.loads(invoke(*args, "--set", "scenario.horizon=300").stdout)
    longer = json.loads(invoke(*args, "--set", "scenario.horizon=600").stdout)
    assert plain["scenario"]["hash"] != longer["scenario"]["hash"]
    assert plain["variants"]["third_welder"]["throughput"] != longer["variants"]["third_welder"]["throughput"]


def test_a_runaway_run_stops_at_its_event_bound_with_a_clear_message(tmp_path: Path):
    """``--set scenario.horizon=1e9`` used to grow memory until killed; the event bound stops it with exit code 2."""
    out = tmp_path / "run"
    result = invoke(
        "run", "flow_line", "--set", "scenario.horizon=1e9", "--max-events", "60000", "--workers", "1",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "flow_line.toml: replication 0 stopped after 60,000 events (--max-events) at t = " in result.output
    assert "of 1e+09 min" in result.output
    assert not (out / "summary.json").exists()  # nothing half-written


def test_a_slow_run_stops_at_its_wall_time_bound():
    result = invoke("run", "flow_line", "--set", "scenario.horizon=1e7", "--max-wall", "0.2", "--workers", "1")
    assert result.exit_code == 2, result.output
    assert "s of wall time (--max-wall)" in result.output and "Traceback" not in result.output


def test_a_deadlocking_scenario_warns_naming_the_time_and_the_stations(tmp_path: Path):
    path = tmp_path / "loop.toml"
    path.write_text(
        """[scenario]
name = "tiny_loop"
horizon = 20000
seed = 3

[release]
interarrival = { dist = "exponential", mean = 1.0 }
product_mix = { A = 1.0 }

[stations.make]
buffer = 1
quality = { base_rate = 0.3 }

[stations.check]
buffer = 1
inspection = { detect = 0.9, rework = "fix", rework_time = { dist = "exponential", mean = 0.5 }, max_rework = 3 }

[stations.fix]
buffer = 1

[products.A]
route = [{ station = "make", time = 0.6 }, { station = "check", time = 0.4 }]
""",
        encoding="utf-8",
    )
    validated = invoke("validate", str(path))
    assert validated.exit_code == 0 and "check → fix → check form a loop of finite buffers" in validated.output
    result = invoke("run", str(path), "-r", "2", "--workers", "1", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["deadlocks"]["count"] == 2
    assert "2 of 2 replications ended early" in result.stderr and "check → fix → check" in result.stderr
    failing = invoke("run", str(path), "--set", "scenario.deadlocks=fail", "--workers", "1")
    assert failing.exit_code == 2 and "Traceback" not in failing.output
    assert "replication 0: deadlock at t = " in failing.output
