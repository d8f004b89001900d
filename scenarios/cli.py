"""The ``shopfloor`` command: parse, call the Python API, print. Exit code 2 for user errors."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from scenarios import catalog
from scenarios.cli_augment import augment_app
from scenarios.cli_common import command_line, err_console, out_console, print_json, user_errors
from scenarios.cli_latents import latents_app
from scenarios.cli_optimize import optimize
from scenarios.cli_surrogate import surrogate_app
from scenarios.console import kpi_tables, progress_bar, whatif_table
from sim import files
from sim.capacity import capacity_warnings, offered_load
from sim.errors import ShopfloorError
from sim.experiment import run_experiment
from sim.limits import DEFAULT_MAX_EVENTS, RunLimits

app = typer.Typer(
    name="shopfloor",
    help="Discrete-event manufacturing simulator with learned surrogates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(help="Import scenarios from other formats.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(augment_app, name="augment")
app.add_typer(latents_app, name="latents")
app.add_typer(surrogate_app, name="surrogate")
app.command("optimize")(optimize)

ScenarioArg = Annotated[str, typer.Argument(help="Scenario file, or the name of a bundled scenario (see `list`).")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="Override a field by dotted path: key.path=value (repeatable).")
]

ReportOpt = Annotated[bool, typer.Option("--report", help="Also write report.html / report.md into --out.")]
MaxEventsOpt = Annotated[
    int, typer.Option("--max-events", min=1, help="Stop a replication that needs more simulation events.")
]
MaxWallOpt = Annotated[
    float | None, typer.Option("--max-wall", min=0.001, help="Stop a replication that runs longer (seconds).")
]


@app.command()
@user_errors
def run(
    scenario: ScenarioArg,
    set_: SetOpt = None,
    replications: Annotated[int, typer.Option("--replications", "-r", min=1, help="Independent replications.")] = 1,
    seed: Annotated[int | None, typer.Option(min=0, help="Master seed (default: the scenario's).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of a Dask scheduler to run on.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for records (Parquet), KPIs and summary.json.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or tables.")] = False,
    report: ReportOpt = False,
    max_events: MaxEventsOpt = DEFAULT_MAX_EVENTS,
    max_wall: MaxWallOpt = None,
) -> None:
    """Simulate a scenario and report its KPIs with 95 % confidence intervals."""
    out = _out_for_report(out, report, scenario)
    spec = catalog.load(scenario, set_ or [])
    if out is not None:
        files.ensure_dir(out)  # before simulating, not after
    for warning in capacity_warnings(spec):
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    show_progress = not (quiet or as_json) and err_console.is_terminal
    with progress_bar(err_console, "replications", replications, enabled=show_progress) as advance:
        result = run_experiment(
            spec,
            replications,
            seed,
            workers,
            keep_tables=out is not None,
            progress=advance,
            scheduler=scheduler,
            limits=RunLimits(max_events, max_wall),
        )
    for warning in result.warnings[len(capacity_warnings(spec)) :]:  # what the run found
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    result.command = command_line()
    summary = result.summary()
    if out is not None:
        result.save(out)
        if report:
            _write_report(out, quiet or as_json)
    if as_json:
        print_json(summary)
    elif not quiet:
        for table in kpi_tables(summary):
            out_console.print(table)
        if out is not None:
            out_console.print(f"records and summary written to [bold]{out}[/]")


@app.command()
@user_errors
def whatif(
    study: Annotated[str, typer.Argument(help="Study file or bundled study name, or a scenario with --variant.")],
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", "-v", help="name:key.path=value, repeatable (a name may repeat for more keys)."),
    ] = None,
    set_: SetOpt = None,
    replications: Annotated[int | None, typer.Option("--replications", "-r", min=1)] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Master seed (default: the study's or scenario's).")] = None,
    objective: Annotated[str | None, typer.Option(help="Ranks the variants, e.g. 'min cycle_time_mean'.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of a Dask scheduler to run on.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for whatif.parquet, summary.json and the cache.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Evaluation cache (default: OUT/cache.sqlite).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Simulate everything again.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    report: ReportOpt = False,
    max_events: MaxEventsOpt = DEFAULT_MAX_EVENTS,
    max_wall: MaxWallOpt = None,
) -> None:
    """Compare variants of a scenario with common random numbers: means, paired differences, ranking."""
    out = _out_for_report(out, report, study)
    from scenarios.study import apply, is_study_file, load_study
    from scenarios.whatif import whatif as run_whatif

    if is_study_file(catalog.resolve_study(study)):
        loaded = load_study(catalog.resolve_study(study))
        if set_:
            loaded.base = loaded.base.with_overrides(set_)  # --set changes the base, and so every variant
        variants = loaded.variants()
        reps = replications or loaded.spec.study.replications
        master_seed = loaded.seed if seed is None else seed
        goal = objective or loaded.spec.study.objective
    else:
        base = catalog.load(study, set_ or [])
        variants = {"base": base}
        reps, master_seed, goal = replications or 5, base.scenario.seed if seed is None else seed, objective
    for name, overrides in _parse_variants(variant or []).items():
        variants[name] = apply(variants["base"], overrides, "--variant", name)
    if objective is not None:
        _check_objective_option(objective, variants["base"])
    if out is not None:
        files.ensure_dir(out)
    if len(variants) < 2:
        raise ShopfloorError(f"{study}: nothing to compare; add [variants.NAME] tables or --variant name:key=value")
    total = reps * len(variants)
    with _simulations(out, cache, no_cache, total, show=not (quiet or as_json)) as (store, advance):
        started = time.perf_counter()
        result = run_whatif(
            variants,
            reps,
            master_seed,
            goal or "max throughput",
            workers,
            scheduler,
            store,
            progress=advance,
            limits=RunLimits(max_events, max_wall),
        )
    _warn_deadlocks(result.summary()["deadlocks"], reps)
    base = variants["base"]
    summary = result.summary() | {
        "command": command_line(),
        "scenario": _scenario_block(base),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    if out is not None:
        files.write_parquet(out / "whatif.parquet", result.table())
        files.write_json(out / "summary.json", summary)
        if report:
            _write_report(out, quiet or as_json)
    if as_json:
        print_json(summary)
    elif not quiet:
        out_console.print(whatif_table(summary))


def _check_objective_option(text: str, base: Any) -> None:
    """``--objective`` must read ``max KPI`` / ``min KPI`` with a KPI of the scenario."""
    from sim.objective import ObjectiveError, check_objective, parse_objective

    try:
        check_objective(parse_objective(text), base)
    except ObjectiveError as exc:
        raise ShopfloorError(f"--objective: {exc}") from None


def _parse_variants(items: list[str]) -> dict[str, dict[str, object]]:
    from sim.spec import parse_overrides

    variants: dict[str, dict[str, object]] = {}
    for item in items:
        name, sep, override = item.partition(":")
        key = override.partition("=")[0].strip()
        if not sep or not name or "=" not in override or not key:
            raise ShopfloorError(f"--variant {item!r}: expected name:key.path=value")
        if name == "base":
            raise ShopfloorError(f"--variant {item!r}: 'base' is the unchanged scenario; give the variant another name")
        variants.setdefault(name, {}).update(parse_overrides([override]))
    return variants


@app.command()
@user_errors
def sweep(
    study: Annotated[str, typer.Argument(help="Study file with a [sweep] table, or a bundled study's name.")],
    replications: Annotated[int | None, typer.Option("--replications", "-r", min=1)] = None,
    seed: Annotated[int | None, typer.Option(min=0)] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of a Dask scheduler to run on.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for sweep.parquet, points.parquet, summary.json, cache.")] = Path(
        "out/sweep"
    ),
    cache: Annotated[Path | None, typer.Option(help="Evaluation cache (default: OUT/cache.sqlite).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Simulate everything again.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    report: ReportOpt = False,
    max_events: MaxEventsOpt = DEFAULT_MAX_EVENTS,
    max_wall: MaxWallOpt = None,
) -> None:
    """Run a design of experiments (grid, Latin hypercube, Sobol) over decision variables; resumable."""
    from scenarios.study import load_study
    from scenarios.sweep import design_points
    from scenarios.sweep import sweep as run_sweep

    path = catalog.resolve_study(study)
    if not path.is_file():
        names = ", ".join(catalog.study_names())
        raise ShopfloorError(f"{study}: not a study file or the name of a bundled study ({names})")
    loaded = load_study(path)
    spec = loaded.spec.sweep
    if spec is None:
        raise ShopfloorError(f"{study}: no [sweep] table")
    files.ensure_dir(out)
    reps = replications or spec.replications or loaded.spec.study.replications
    master_seed = loaded.seed if seed is None else seed
    total = reps * len(design_points(spec, master_seed))
    with _simulations(out, cache, no_cache, total, show=not (quiet or as_json)) as (store, advance):
        started = time.perf_counter()
        result = run_sweep(
            loaded.base,
            spec,
            reps,
            master_seed,
            study,
            workers,
            scheduler,
            store,
            advance,
            RunLimits(max_events, max_wall),
        )
    base = loaded.base
    _warn_deadlocks(result.summary()["deadlocks"], reps)
    summary = result.summary() | {
        "command": command_line(),
        "seed": master_seed,
        "design": spec.design,
        "scenario": _scenario_block(base),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    files.write_parquet(out / "sweep.parquet", result.table)
    files.write_parquet(out / "points.parquet", result.points())
    files.write_json(out / "summary.json", summary)
    if report:
        _write_report(out, quiet or as_json)
    if as_json:
        print_json(summary)
    elif not quiet:
        out_console.print(
            f"{summary['points']} points × {reps} replications ({result.simulated} simulated now, "
            f"{summary['points'] * reps - result.simulated} from the cache) → [bold]{out}[/]",
            highlight=False,
        )
        best = summary.get("best_point")
        if best:
            ci = f" (95 % CI {best['low']:.4g}–{best['high']:.4g})" if best.get("low") is not None else ""
            decisions = ", ".join(f"{name}={value}" for name, value in best["decisions"].items())
            out_console.print(
                f"best point by '{summary['objective']}': point {best['point']}, mean {best['mean']:.4g}{ci}; "
                f"{decisions}",
                highlight=False,
            )


@app.command()
@user_errors
def generate(
    scenario: ScenarioArg,
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="Operation rows to generate.")],
    out: Annotated[Path, typer.Option(help="Folder for operations.parquet, jobs.parquet and dataset.json.")],
    set_: SetOpt = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Master seed (default: the scenario's).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: all cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of a Dask scheduler to run on.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the dataset card as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    max_events: MaxEventsOpt = DEFAULT_MAX_EVENTS,
    max_wall: MaxWallOpt = None,
) -> None:
    """Generate a machine-learning dataset (operation, job and fault rows, Parquet) with its dataset card."""
    from sim.dataset import generate as run_generate

    spec = catalog.load(scenario, set_ or [])
    files.ensure_dir(out)
    show = not (quiet or as_json) and err_console.is_terminal
    with progress_bar(err_console, "rows", rows, enabled=show) as advance:
        card = run_generate(
            spec,
            rows,
            out,
            seed,
            workers,
            scheduler,
            advance,
            command=command_line(),
            limits=RunLimits(max_events, max_wall),
        )
    data = card.to_dict()
    dropped = card.deadlocked["replications"]
    if dropped:
        what = "left out" if card.deadlocked["policy"] == "exclude" else "kept"
        err_console.print(
            f"[yellow]warning:[/] {len(dropped)} of {card.replications} replications deadlocked ({what}): "
            f"{', '.join(map(str, dropped[:10]))}",
            highlight=False,
        )
    if as_json:
        print_json(data)
    elif not quiet:
        counts = ", ".join(f"{name}: {n:,}" for name, n in data["rows"].items())
        out_console.print(
            f"dataset written to [bold]{out}[/] ({counts}); card: {out / 'dataset.json'}", highlight=False
        )


@app.command("report")
@user_errors
def report_command(
    folder: Annotated[Path, typer.Argument(help="The --out folder of a run, what-if study or sweep.")],
) -> None:
    """Re-render report.html / report.md / summary.json from saved results, without simulating again."""
    _write_report(folder, quiet=False)


def _write_report(folder: Path, quiet: bool) -> None:
    from reports.folders import folder_report
    from reports.write import write_report

    write_report(folder_report(folder), folder)
    if not quiet:
        out_console.print(f"report written to [bold]{folder / 'report.html'}[/] and report.md", highlight=False)


def _out_for_report(out: Path | None, report: bool, name: str) -> Path | None:
    """``--report`` needs a folder: ``--out`` or ``out/NAME``."""
    if report and out is None:
        return Path("out") / Path(name).stem
    return out


@contextlib.contextmanager
def _simulations(out: Path | None, cache: Path | None, no_cache: bool, total: int, show: bool):
    """The evaluation cache (``cache``, else ``OUT/cache.sqlite``; none with ``--no-cache``) and a progress bar."""
    from scenarios.cache import EvaluationCache

    target = None if no_cache else cache or (out / "cache.sqlite" if out is not None else None)
    with contextlib.ExitStack() as stack:
        store = stack.enter_context(EvaluationCache(target)) if target is not None else None
        advance = stack.enter_context(
            progress_bar(err_console, "simulations", total, enabled=show and err_console.is_terminal)
        )
        yield store, advance


def _warn_deadlocks(deadlocks: dict[str, Any], replications: int) -> None:
    """One warning line for a what-if or sweep whose replications deadlocked."""
    count = deadlocks["count"]
    total = sum(count.values()) if isinstance(count, dict) else count
    if total:
        what = "left out of the estimates" if deadlocks["policy"] == "exclude" else "averaged in"
        where = ", ".join(f"{name}: {n}" for name, n in count.items() if n) if isinstance(count, dict) else ""
        err_console.print(
            f"[yellow]warning:[/] {total} replications deadlocked ({what}){f' — {where}' if where else ''}; "
            f"{replications} replications per point",
            highlight=False,
        )


def _scenario_block(scenario: Any) -> dict[str, str]:
    """Name, content hash and time unit of a study's base scenario, for its summary."""
    return {"name": scenario.name, "hash": scenario.content_hash, "time_unit": scenario.scenario.time_unit}


@app.command()
@user_errors
def validate(scenario: ScenarioArg, set_: SetOpt = None) -> None:
    """Check a scenario file and explain every problem; show offered loads and capacity warnings."""
    spec = catalog.load(scenario, set_ or [])
    out_console.print(
        f"[green]ok[/] {spec.source}: scenario {spec.name!r}, {len(spec.stations)} stations, "
        f"{len(spec.products)} products, hash {spec.content_hash[:12]}",
        highlight=False,
    )
    for name, load in offered_load(spec).items():
        flag = "[yellow] overloaded[/]" if load >= 1 else ""
        out_console.print(f"  offered load {name}: {load:.2f}{flag}", highlight=False)
    for warning in capacity_warnings(spec):
        out_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


@app.command("list")
def list_scenarios() -> None:
    """List the bundled scenarios and studies."""
    from rich.table import Table

    table = Table(box=None, show_header=True, header_style="bold")
    table.add_column("name", style="bold")
    table.add_column("kind")
    table.add_column("description")
    for name in catalog.bundled_names():
        table.add_row(name, "scenario", catalog.load(name).scenario.description)
    for name in catalog.study_names():
        table.add_row(name, "study", f"shopfloor whatif {name} · shopfloor sweep {name}")
    out_console.print(table)


@import_app.command("jssp")
@user_errors
def import_jssp(
    file: Annotated[Path, typer.Argument(help="Job-shop instance in the standard text format.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Scenario TOML file to write.")],
    dispatch: Annotated[str, typer.Option(help="Dispatching rule of every machine.")] = "spt",
    name: Annotated[str | None, typer.Option(help="Scenario name (default: the file's stem).")] = None,
    optimum: Annotated[
        float | None,
        typer.Option(help="Best known makespan for the report (default: known for ft06, ft10, ft20, la01 and la16)."),
    ] = None,
) -> None:
    """Convert a job-shop instance (n_jobs n_machines, then `machine duration` pairs) into a scenario."""
    from sim import jssp
    from sim.spec import scenario_from_dict

    instance = jssp.read_jssp(file)
    data = jssp.jssp_scenario(instance, name or file.stem, dispatch, optimum=optimum)
    scenario_from_dict(data, str(output))  # refuse to write a scenario that would not load
    jssp.write_scenario_toml(data, output)
    out_console.print(
        f"wrote {output}: {instance.n_jobs} jobs × {instance.n_machines} machines, dispatch {dispatch}", highlight=False
    )


def main() -> None:
    """Entry point of the ``shopfloor`` console script."""
    app()
