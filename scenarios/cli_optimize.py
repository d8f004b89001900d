"""``shopfloor optimize STUDY``: surrogate-assisted search of a study's decision variables, verified by the
simulator; a job-shop scenario instead gets its schedule optimised through the simulator."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer

from scenarios import catalog
from scenarios.cli_common import (
    QuietOpt,
    command_line,
    out_console,
    print_json,
    status_bar,
    threads_limited,
    user_errors,
)
from sim import files
from sim.errors import ShopfloorError


@user_errors
def optimize(
    study: Annotated[
        str, typer.Argument(help="Study file (or bundled name) with an [optimize] section, or a job shop.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for summary.json, the search state, the cache and the report.")],
    budget: Annotated[
        int | None, typer.Option(min=1, help="Simulated replications for the search (default: the study's).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed of the search's own choices (simulations use the study's seed).")
    ] = None,
    surrogate: Annotated[str, typer.Option(help="gp (Gaussian process) or ensemble (deep ensemble).")] = "gp",
    baselines: Annotated[
        bool, typer.Option("--baselines", help="Also run random search and direct evolution on the same budget.")
    ] = False,
    seconds: Annotated[
        float | None, typer.Option(min=0.1, help="Job shops: time limit of the schedule search (default 60 s).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes for simulation.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Evaluation cache (default: OUT/cache.sqlite).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Simulate everything again.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    quiet: QuietOpt = False,
    report: Annotated[bool, typer.Option("--report", help="Also write report.html / report.md into --out.")] = False,
) -> None:
    """Find the best configuration under a simulator budget; the recommendation is re-simulated and selected with
    Kim–Nelson (or, for several objectives, the verified Pareto front). Interrupted? Run it again: it resumes."""
    from scenarios.study import is_study_file, load_study

    if surrogate not in ("gp", "ensemble"):
        raise ShopfloorError(f"--surrogate: use gp or ensemble, got {surrogate!r}")
    path = catalog.resolve_study(study)
    show = not (quiet or as_json)
    files.ensure_dir(out)
    if not is_study_file(path):
        summary = _job_shop(catalog.load(study, []), study, out, seed, seconds or 60.0, None, show)
    else:
        loaded = load_study(path)
        if loaded.spec.schedule is not None:
            schedule = loaded.spec.schedule
            limit = seconds or schedule.seconds
            summary = _job_shop(loaded.base, loaded.source, out, seed, limit, schedule.replications, show, loaded.seed)
        else:
            summary = _study(loaded, out, budget, seed, surrogate, baselines, workers, cache, no_cache, show)
    summary["command"] = command_line()
    files.write_json(out / "summary.json", summary)
    if report:
        from reports.optimize import optimize_report
        from reports.write import write_report

        write_report(optimize_report(summary, out), out)
    if as_json:
        print_json(summary)
    elif not quiet:
        _print(summary, out / ("report.html" if report else "summary.json"))


def _study(study, out, budget, seed, surrogate, baselines, workers, cache, no_cache, show) -> dict[str, Any]:
    from scenarios.cache import EvaluationCache
    from scenarios.optimize_run import optimize_study, summary

    target = None if no_cache else cache or out / "cache.sqlite"
    with contextlib.ExitStack() as stack, threads_limited(1):
        store = stack.enter_context(EvaluationCache(target)) if target is not None else None
        bar = stack.enter_context(status_bar("optimising", None, show))
        total = [0]

        def stage(name: str, replications: int) -> None:
            total[0] = replications
            if bar:
                bar[0].update(bar[1], description=name, completed=0, total=replications)

        def advance(done: int) -> None:
            if bar:
                bar[0].update(bar[1], completed=min(done, total[0]))

        result = optimize_study(
            study,
            budget=budget,
            seed=seed,
            surrogate=surrogate,
            baselines=baselines,
            cache=store,
            workers=workers,
            progress=advance,
            out=out,
            stage=stage,
        )
        return summary(result)


def _job_shop(base, source, out, seed, seconds, replications, show, simulation_seed=None) -> dict[str, Any]:
    from scenarios.jobshop_run import optimise_job_shop

    with status_bar("schedule search", None, show) as bar:

        def advance(done: int) -> None:
            if bar:
                bar[0].update(bar[1], completed=done, description=f"schedule search: {done} simulations")

        return optimise_job_shop(
            base,
            source,
            out,
            seed=seed or 0,
            seconds=seconds,
            replications=replications,
            simulation_seed=simulation_seed,
            progress=advance,
        )


def _print(summary: dict[str, Any], where: Path) -> None:
    recommendation = summary.get("recommendation")
    if summary.get("schedule") is not None:
        s = summary["schedule"]
        out_console.print(
            f"makespan [bold]{s['makespan']:g}[/] (best single rule {s['best_rule']} {s['rule_makespan']:g}, "
            f"lower bound {s['lower_bound']:g}"
            + (f", optimum {s['optimum']:g}" if s.get("optimum") is not None else "")
            + f") after {s['evaluations']} simulations",
            highlight=False,
        )
    elif recommendation is not None:
        changes = ", ".join(f"{k} = {v}" for k, v in recommendation["point"].items())
        kpis = ", ".join(f"{k} {v:.4g}" for k, v in recommendation["kpis"].items() if v is not None)
        out_console.print(f"recommended: [bold]{changes}[/] → {kpis}", highlight=False)
    elif summary.get("verdict", {}).get("front"):
        out_console.print(f"verified Pareto front of {len(summary['verdict']['front'])} points", highlight=False)
    else:
        out_console.print("[yellow]no feasible point found[/]", highlight=False)
    out_console.print(f"results in [bold]{where}[/]", highlight=False)
