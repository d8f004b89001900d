"""The ``shopfloor`` command: parse, call the Python API, print. Exit code 2 for user errors."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from scenarios import catalog
from scenarios.console import kpi_tables, progress_bar
from sim.capacity import capacity_warnings, offered_load
from sim.errors import ShopfloorError
from sim.experiment import default_workers, run_experiment

app = typer.Typer(
    name="shopfloor",
    help="Discrete-event manufacturing simulator with learned surrogates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(help="Import scenarios from other formats.", no_args_is_help=True)
app.add_typer(import_app, name="import")

out_console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

ScenarioArg = Annotated[str, typer.Argument(help="Scenario file, or the name of a bundled scenario (see `list`).")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="Override a field by dotted path: key.path=value (repeatable).")
]


def user_errors(command: F) -> F:
    """Print user errors (bad files, options) without a traceback and exit with code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ShopfloorError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.command()
@user_errors
def run(
    scenario: ScenarioArg,
    set_: SetOpt = None,
    replications: Annotated[int, typer.Option("--replications", "-r", min=1, help="Independent replications.")] = 1,
    seed: Annotated[int | None, typer.Option(min=0, help="Master seed (default: the scenario's).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes (default: all cores).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for records (Parquet), KPIs and summary.json.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or tables.")] = False,
) -> None:
    """Simulate a scenario and report its KPIs with 95 % confidence intervals."""
    spec = catalog.load(scenario, set_ or [])
    for warning in capacity_warnings(spec):
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    show_progress = not (quiet or as_json) and err_console.is_terminal
    with progress_bar(err_console, "replications", replications, enabled=show_progress) as advance:
        result = run_experiment(
            spec, replications, seed, workers or default_workers(), keep_tables=out is not None, progress=advance
        )
    result.command = " ".join(["shopfloor", *sys.argv[1:]])
    summary = result.summary()
    if out is not None:
        result.save(out)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    elif not quiet:
        for table in kpi_tables(summary):
            out_console.print(table)
        if out is not None:
            out_console.print(f"records and summary written to [bold]{out}[/]")


@app.command()
@user_errors
def validate(scenario: ScenarioArg, set_: SetOpt = None) -> None:
    """Check a scenario file and explain every problem."""
    spec = catalog.load(scenario, set_ or [])
    out_console.print(
        f"[green]ok[/] {spec.source}: scenario {spec.name!r}, {len(spec.stations)} stations, "
        f"{len(spec.products)} products, hash {spec.content_hash[:12]}",
        highlight=False,
    )
    for name, load in offered_load(spec).items():
        flag = "[yellow] overloaded[/]" if load >= 1 else ""
        out_console.print(f"  offered load {name}: {load:.2f}{flag}", highlight=False)


@app.command("list")
def list_scenarios() -> None:
    """List the bundled scenarios."""
    for name in catalog.bundled_names():
        spec = catalog.load(name)
        out_console.print(f"[bold]{name}[/]  {spec.scenario.description}", highlight=False)


@import_app.command("jssp")
@user_errors
def import_jssp(
    file: Annotated[Path, typer.Argument(help="Job-shop instance in the standard text format.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Scenario TOML file to write.")],
    dispatch: Annotated[str, typer.Option(help="Dispatching rule of every machine.")] = "spt",
    name: Annotated[str | None, typer.Option(help="Scenario name (default: the file's stem).")] = None,
) -> None:
    """Convert a job-shop instance (n_jobs n_machines, then `machine duration` pairs) into a scenario."""
    from sim import jssp
    from sim.spec import _validate

    instance = jssp.read_jssp(file)
    data = jssp.jssp_scenario(instance, name or file.stem, dispatch)
    _validate(json.loads(json.dumps(data)), str(output), {})  # refuse to write a scenario that would not load
    jssp.write_scenario_toml(data, output)
    out_console.print(
        f"wrote {output}: {instance.n_jobs} jobs × {instance.n_machines} machines, dispatch {dispatch}", highlight=False
    )


def main() -> None:
    """Entry point of the ``shopfloor`` console script."""
    app()
