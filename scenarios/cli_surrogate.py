"""``shopfloor surrogate fit | predict | evaluate | refine``: a deep ensemble that stands in for the simulator."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from scenarios.cli_common import (
    DeviceOpt,
    QuietOpt,
    SeedOpt,
    ThreadsOpt,
    check_device,
    command_line,
    describe,
    err_console,
    out_console,
    print_json,
    status_bar,
    threads_limited,
    user_errors,
)
from sim import files
from sim.errors import ShopfloorError

surrogate_app = typer.Typer(
    help="A deep-ensemble surrogate of a study: KPIs of a scenario in microseconds, with intervals.",
    no_args_is_help=True,
)

ModelArg = Annotated[Path, typer.Argument(help="Model folder written by `surrogate fit`.")]
StudyOpt = Annotated[Path | None, typer.Option(help="The study file, if it moved since the fit.")]
CacheOpt = Annotated[Path | None, typer.Option(help="Evaluation cache (default: MODEL/cache.sqlite).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Simulate everything again.")]
WorkersOpt = Annotated[int | None, typer.Option(min=1, help="Worker processes for simulation.")]
ReplicationsOpt = Annotated[
    int | None, typer.Option(min=1, help="Replications per point (default: the study's sweep's).")
]


@contextlib.contextmanager
def _simulating(cache: Path | None, no_cache: bool, model: Path, show: bool) -> Iterator[tuple[Any, Any]]:
    """The evaluation cache and a progress bar for simulations and training."""
    from scenarios.cache import EvaluationCache

    target = None if no_cache else cache or model / "cache.sqlite"
    with contextlib.ExitStack() as stack:
        if target is not None:
            files.ensure_dir(target.parent)
        store = stack.enter_context(EvaluationCache(target)) if target is not None else None
        yield store, stack.enter_context(status_bar("simulating", None, show))


def _progress(bar: Any, total: int) -> Callable[[int], None]:
    def advance(done: int) -> None:
        if bar:
            bar[0].update(bar[1], completed=done, total=total)

    return advance


def _load(model: Path, device: str, study: Path | None = None):
    from scenarios.surrogate_model import load_surrogate

    check_device(device)
    return load_surrogate(model, device, study)


@surrogate_app.command("fit")
@user_errors
def fit(
    study: Annotated[str, typer.Argument(help="Study file or bundled study name with a [sweep] section.")],
    out: Annotated[Path, typer.Option(help="Model folder (model.safetensors, model.json, training.parquet).")],
    points: Annotated[int, typer.Option(min=8, max=5000, help="Latin-hypercube design points to simulate.")] = 200,
    replications: ReplicationsOpt = None,
    members: Annotated[int, typer.Option(min=1, max=50, help="Networks in the ensemble.")] = 5,
    epochs: Annotated[int, typer.Option(min=1, help="Most epochs per network (early stopping).")] = 400,
    seed: SeedOpt = 0,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Simulate (or reuse from the cache) a space-filling design of the study's decision variables and train."""
    from scenarios.catalog import resolve_study
    from scenarios.study import load_study
    from scenarios.surrogate_data import default_replications
    from scenarios.surrogate_model import FitSettings, fit_surrogate

    check_device(device)
    if out.exists() and not out.is_dir():
        raise ShopfloorError(f"--out {out}: exists and is not a folder (a model is a folder of files)")
    loaded = load_study(resolve_study(study))
    reps = replications or default_replications(loaded)
    settings = FitSettings(members=members, epochs=epochs, seed=seed, device=device)
    show = not quiet and err_console.is_terminal
    with _simulating(cache, no_cache, out, show) as (store, bar), threads_limited(threads):
        progress = _progress(bar, points * reps)
        surrogate = fit_surrogate(loaded, points, settings, reps, store, workers, progress)
        surrogate.save(out)
    if not quiet:
        data = surrogate.data
        out_console.print(
            f"surrogate of [bold]{loaded.spec.study.name}[/] on {data.n_points} points × {reps} replications "
            f"({data.simulated} simulated now) for {len(data.kpis)} KPIs: {', '.join(data.kpis)} → [bold]{out}[/]",
            highlight=False,
        )


@surrogate_app.command("predict")
@user_errors
def predict(
    model: ModelArg,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="path=value of a decision variable (others: the base's).")
    ] = None,
    level: Annotated[float, typer.Option(min=0.5, max=0.999, help="Level of the predictive interval.")] = 0.9,
    study: StudyOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON on stdout.")] = False,
    device: DeviceOpt = "cpu",
) -> None:
    """The KPIs of one scenario: predictive mean and interval (one simulated replication's), flagged when the
    point lies outside the training domain."""
    from scenarios.surrogate_model import design_point

    surrogate = _load(model, device, study)
    given = {}
    for item in set_ or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise ShopfloorError(f"--set {item}: expected path=value")
        given[name.strip()] = value.strip()
    point = design_point(surrogate, given)
    prediction = surrogate.predict([point])
    lo, hi = prediction.interval(level)
    outside = surrogate.data.encoder.outside([point])[0]
    answer = {
        "time_unit": surrogate.study.base.scenario.time_unit,
        "point": point,
        "outside_training_domain": outside,
        "level": level,
        "kpis": {
            k: {"mean": float(prediction.mean[0, j]), "low": float(lo[0, j]), "high": float(hi[0, j])}
            for j, k in enumerate(surrogate.kpis)
        },
    }
    if as_json:
        print_json(answer)
        return
    _print_prediction(answer)


def _print_prediction(answer: dict[str, Any]) -> None:
    from rich.table import Table

    from reports.surrogate_figures import kpi_title

    table = Table(title=f"predicted KPIs ({answer['level']:.0%} interval of one replication)")
    for column in ("KPI", "mean", "interval"):
        table.add_column(column, justify="left" if column == "KPI" else "right")
    for kpi, v in answer["kpis"].items():
        table.add_row(kpi_title(kpi, answer["time_unit"]), f"{v['mean']:.4g}", f"[{v['low']:.4g}, {v['high']:.4g}]")
    out_console.print(table)
    if answer["outside_training_domain"]:
        names = ", ".join(answer["outside_training_domain"])
        err_console.print(f"[yellow]warning:[/] outside the training domain in {names}: do not trust this answer")


@surrogate_app.command("evaluate")
@user_errors
def evaluate(
    model: ModelArg,
    out: Annotated[
        Path | None, typer.Option(help="Folder for summary.json, figures, report (default: MODEL/evaluation).")
    ] = None,
    report: Annotated[bool, typer.Option("--report", help="Also write report.html / report.md into --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    test_points: Annotated[int, typer.Option(min=8, max=5000, help="Points of the held-out design.")] = 100,
    test_seed: Annotated[
        int | None, typer.Option(min=0, help="Seed of the held-out design (default: fit seed + 1).")
    ] = None,
    replications: ReplicationsOpt = None,
    sizes: Annotated[
        str, typer.Option(help="Learning-curve sizes (design points), comma-separated.")
    ] = "50,100,200,400",
    peers: Annotated[
        str, typer.Option(help="Peers fitted on the same rows: gp, boosting (comma-separated).")
    ] = "gp,boosting",
    study: StudyOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Accuracy (R², MAPE, MAE, Spearman) and coverage on a fresh held-out design, against a GP and boosting."""
    from scenarios.surrogate_eval import EvalSettings, check_peers, evaluate_surrogate

    surrogate = _load(model, device, study)
    check_peers(tuple(p.strip() for p in peers.split(",") if p.strip()))
    settings = EvalSettings(
        test_points=test_points,
        test_seed=test_seed,
        replications=replications,
        sizes=_integers(sizes, "--sizes"),
        peers=tuple(p.strip() for p in peers.split(",") if p.strip()),
    )
    folder = files.ensure_dir(out or model / "evaluation")
    show = not (quiet or as_json) and err_console.is_terminal
    reps = replications or surrogate.replications
    with _simulating(cache, no_cache, model, show) as (store, bar), threads_limited(threads):
        summary = evaluate_surrogate(
            surrogate, settings, folder, store, workers, _progress(bar, test_points * reps), describe(bar)
        )
    summary["command"] = command_line()
    files.write_json(folder / "summary.json", summary)
    if report:
        from reports.surrogate import surrogate_report
        from reports.write import write_report

        write_report(surrogate_report(summary, folder), folder)
    if as_json:
        print_json(summary)
    elif not quiet:
        for entry in summary["targets"]:
            mark = "[green]met[/]" if entry["met"] else "[red]missed[/]"
            out_console.print(f"{mark}  {entry['name']}: {entry['value']} (target {entry['target']})", highlight=False)
        out_console.print(f"results in [bold]{folder / ('report.html' if report else 'summary.json')}[/]")


def _integers(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ShopfloorError(f"{option} {text}: expected comma-separated whole numbers") from None
    if not values or min(values) < 4:
        raise ShopfloorError(f"{option} {text}: expected sizes of at least 4 points")
    return values


@surrogate_app.command("refine")
@user_errors
def refine(
    model: ModelArg,
    budget: Annotated[int, typer.Option(min=1, max=2000, help="Points to simulate where the ensemble is least sure.")],
    out: Annotated[Path | None, typer.Option(help="Folder for the refined model (default: MODEL, replaced).")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=100, help="Split the budget over this many retrainings.")] = 1,
    study: StudyOpt = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Active learning: simulate the points of largest epistemic variance (spread out), add them and retrain."""
    from scenarios.surrogate_model import refine_surrogate

    if rounds > budget:
        raise ShopfloorError(f"--rounds {rounds}: more rounds than --budget {budget} points")
    surrogate = _load(model, device, study)
    target = out or model
    if target.exists() and not target.is_dir():
        raise ShopfloorError(f"--out {target}: exists and is not a folder")
    show = not quiet and err_console.is_terminal
    added: list[dict[str, Any]] = []
    with _simulating(cache, no_cache, model, show) as (store, bar), threads_limited(threads):
        for r in range(rounds):
            size = budget // rounds + (1 if r < budget % rounds else 0)
            progress = _progress(bar, size * surrogate.replications)
            surrogate, picked = refine_surrogate(surrogate, size, store, workers, progress)
            added += picked
        surrogate.save(target)
    if not quiet:
        out_console.print(
            f"{len(added)} points added where the ensemble was least sure; now {surrogate.data.n_points} points "
            f"→ [bold]{target}[/]",
            highlight=False,
        )
