"""Shared report fixtures: short runs saved to folders (built once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

import scenarios
from reports.run import run_report, write_report
from sim.experiment import run_experiment

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
