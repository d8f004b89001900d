"""Shared report fixtures: short runs saved to folders (built once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

import scenarios
from reports.run import run_report, write_report
from scenarios.catalog import library_dir
from sim.experiment import run_experiment
from sim.jssp import jssp_scenario, read_jssp
from sim.spec import scenario_from_dict

SHORT = ["scenario.horizon=4000"]


@pytest.fixture(scope="session")
def electronics_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved 2-replication run of the bundled electronics_line (shifts, failures, setups, batching, OEE)."""
    folder = tmp_path_factory.mktemp("electronics_line")
    result = run_experiment(scenarios.load("electronics_line", SHORT), replications=2, workers=1, keep_tables=True)
    result.command = "shopfloor run electronics_line -r 2 --set scenario.horizon=4000 --report"
    result.save(folder)
    return folder


@pytest.fixture(scope="session")
def electronics_report(electronics_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """(report, output folder) of the electronics_line run, written with write_report."""
    report = run_report(electronics_run)
    out = tmp_path_factory.mktemp("electronics_report")
    write_report(report, out)
    return report, out


@pytest.fixture(scope="session")
def ft06_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ft06 with FIFO at every machine (makespan 61), saved like `shopfloor run --out`."""
    folder = tmp_path_factory.mktemp("ft06")
    data = jssp_scenario(read_jssp(Path(__file__).parents[1] / "data" / "ft06.txt"), "ft06", dispatch="fifo")
    result = run_experiment(scenario_from_dict(data, "ft06.toml"), replications=1, workers=1, keep_tables=True)
    result.command = "shopfloor run ft06.toml --report"
    result.save(folder)
    return folder


STUDY = """[study]
name = "short_weld"
scenario = "short_flow_line.toml"
replications = 3
seed = 7
objective = "min cycle_time_mean"

[variants.third_welder]
"stations.weld.machines" = 3

[variants.spt_at_weld]
"stations.weld.dispatch" = "spt"

[sweep]
design = "lhs"
points = 8
replications = 2

[sweep.variables]
"stations.weld.machines" = { type = "int", low = 2, high = 3 }
"stations.weld.buffer" = { type = "int", low = 2, high = 12 }
"stations.weld.dispatch" = { type = "choice", choices = ["fifo", "spt"] }
"""


@pytest.fixture(scope="session")
def short_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A what-if and sweep study of flow_line shortened to a 1 500-minute window."""
    folder = tmp_path_factory.mktemp("study")
    base = (library_dir() / "flow_line.toml").read_text(encoding="utf-8")
    base = base.replace("warmup = 1440", "warmup = 300").replace("horizon = 10080", "horizon = 1500")
    (folder / "short_flow_line.toml").write_text(base, encoding="utf-8")
    (folder / "short_weld.toml").write_text(STUDY, encoding="utf-8")
    return folder / "short_weld.toml"


def _study_report(command: str, study: Path, out: Path) -> Path:
    from typer.testing import CliRunner

    from scenarios.cli import app

    done = CliRunner().invoke(app, [command, str(study), "--out", str(out), "--report", "--no-cache", "-q"])
    assert done.exit_code == 0, done.output
    return out


@pytest.fixture(scope="session")
def whatif_folder(short_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`shopfloor whatif` of the short study with --report."""
    return _study_report("whatif", short_study, tmp_path_factory.mktemp("whatif"))


@pytest.fixture(scope="session")
def sweep_folder(short_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`shopfloor sweep` of the short study with --report."""
    return _study_report("sweep", short_study, tmp_path_factory.mktemp("sweep"))
