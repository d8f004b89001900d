"""``shopfloor optimize JOBSHOP.toml``: the schedule search of :mod:`scenarios.jobshop`, and the recommended
schedule simulated into ``OUT/schedule`` (records, summary and its run report: Gantt chart, critical path,
makespan against the lower bound), so that the optimisation report can show it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scenarios.jobshop import apply_schedule, search_schedule
from scenarios.optimize_run import json_safe
from sim.experiment import run_experiment
from sim.spec import Scenario

SCHEDULE_FOLDER = "schedule"


def optimise_job_shop(
    base: Scenario,
    source: str,
    out: Path,
    *,
    seed: int = 0,
    seconds: float = 60.0,
    replications: int | None = None,
    simulation_seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Search the schedule of a job-shop scenario for ``seconds`` and simulate the best one; the summary."""
    from reports.folders import folder_report
    from reports.write import write_report

    result = search_schedule(
        base,
        seed=seed,
        time_limit=seconds,
        replications=replications,
        simulation_seed=simulation_seed,
        progress=progress,
    )
    best = apply_schedule(base, result.sequences)
    run = run_experiment(best, result.replications, result.simulation_seed, workers=1, keep_tables=True)
    folder = out / SCHEDULE_FOLDER
    run.save(folder)
    write_report(folder_report(folder), folder)
    return json_safe(
        {
            "kind": "optimize",
            "study": base.scenario.name,
            "source": source,
            "time_unit": base.scenario.time_unit,
            "seed": seed,
            "schedule": {**result.to_dict(), "folder": SCHEDULE_FOLDER},
        }
    )
