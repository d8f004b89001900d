"""``shopfloor latents fit | score | evaluate | recommend``: process latents of a VAE for monitoring and set-points."""

from __future__ import annotations

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
    epoch_progress,
    err_console,
    model_written,
    out_console,
    print_json,
    status_bar,
    threads_limited,
    user_errors,
)
from sim import files
from sim.errors import ShopfloorError

latents_app = typer.Typer(
    help="Learn process latents with a VAE: monitor, detect faults and drift, recommend set-points.",
    no_args_is_help=True,
)

LatentOpt = Annotated[int, typer.Option(min=1, help="Latent dimensions (2 for maps).")]
BetaOpt = Annotated[float, typer.Option(min=0.0, help="Weight of the KL term (β-VAE).")]
EpochsOpt = Annotated[int | None, typer.Option(min=1, help="Training epochs (default: a fixed step budget).")]
WorkersOpt = Annotated[int | None, typer.Option(min=1, help="Worker processes for simulation.")]


def _source(source: str):
    """A scenario (file or bundled name), or a dataset folder and the scenario it was generated from."""
    from scenarios.augment_data import scenario_of
    from scenarios.catalog import load
    from sim.card import CARD_NAME, DatasetCard

    folder = Path(source)
    if (folder / CARD_NAME).is_file():
        return scenario_of(DatasetCard.load(folder), folder), folder
    if folder.is_dir():
        raise ShopfloorError(f"{folder}: a folder without {CARD_NAME} is not a dataset (run `shopfloor generate`)")
    return load(source), None


@latents_app.command("fit")
@user_errors
def fit(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder written by `shopfloor generate`.")],
    out: Annotated[Path, typer.Option(help="Model folder (model.safetensors, model.json, losses.png).")],
    latent_dim: LatentOpt = 8,
    beta: BetaOpt = 1.0,
    window: Annotated[int, typer.Option(min=1, help="Consecutive operations of one machine per example.")] = 1,
    epochs: EpochsOpt = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Fit a VAE to a dataset's fault-free operations (rows with an injected fault are left out)."""
    from reports.latents_figures import history_figure
    from scenarios.latents_model import fit_command

    check_device(device)
    show = not quiet and err_console.is_terminal
    with status_bar("training", None, show) as bar, threads_limited(threads):
        vae = fit_command(dataset, out, latent_dim, beta, window, epochs, seed, device, epoch_progress(bar))
    history = [{"epoch": h.epoch, **h.losses} for h in vae.history]
    model_written(out, vae.history, history_figure(history), quiet)


@latents_app.command("score")
@user_errors
def score(
    model: Annotated[Path, typer.Argument(help="Model folder written by `latents fit`.")],
    dataset: Annotated[Path, typer.Argument(help="Dataset folder written by `shopfloor generate`.")],
    out: Annotated[Path, typer.Option(help="Parquet file: the operations with latent and score columns.")],
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Add latent means (latent_0 …), their variances (latent_var_0 …) and the score (negative ELBO) to every row."""
    from scenarios.latents_model import score_command

    check_device(device)
    table = score_command(model, dataset, out, device)
    if not quiet:
        out_console.print(f"{table.num_rows:,} scored rows written to [bold]{out}[/]", highlight=False)


@latents_app.command("evaluate")
@user_errors
def evaluate(
    source: Annotated[str, typer.Argument(help="Scenario (file or bundled name) or a dataset folder (test data).")],
    out: Annotated[Path | None, typer.Option(help="Folder for data, figures, summary.json and the report.")] = None,
    report: Annotated[bool, typer.Option("--report", help="Also write report.html / report.md into --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    rows: Annotated[
        int, typer.Option(min=1000, help="Fault-free operation rows: ~4/5 for training, the rest held out.")
    ] = 300_000,
    test_rows: Annotated[int, typer.Option(min=1000, help="Operation rows of the test data with faults.")] = 200_000,
    window: Annotated[float, typer.Option(min=1e-9, help="Window length per machine, in time units.")] = 60.0,
    quantile: Annotated[float, typer.Option(min=0.5, max=0.99999, help="Alarm threshold quantile.")] = 0.99,
    latent_dim: LatentOpt = 8,
    beta: BetaOpt = 1.0,
    epochs: EpochsOpt = None,
    gan_steps: Annotated[int, typer.Option(min=1, help="Steps of the GAN whose critic is a baseline.")] = 1000,
    methods: Annotated[
        str, typer.Option(help="Comma-separated methods.")
    ] = "vae,pca,mahalanobis,iforest,ewma,gan_critic",
    seed: SeedOpt = 0,
    data_seed: Annotated[
        int | None, typer.Option(min=0, help="Seed of the training data (default: the scenario's).")
    ] = None,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train on fault-free replications, test on fresh ones with random faults: every method side by side."""
    from scenarios.latents_eval import Settings
    from scenarios.latents_eval import evaluate as run_evaluate
    from scenarios.latents_scores import METHODS

    check_device(device)
    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    if not chosen or any(m not in METHODS for m in chosen):
        raise ShopfloorError(f"--methods: choose from {', '.join(METHODS)}, got {methods!r}")
    if "vae" not in chosen:
        raise ShopfloorError("--methods: 'vae' is the method under test and cannot be left out")
    scenario, dataset = _source(source)
    settings = Settings(
        rows=rows,
        test_rows=test_rows,
        window=window,
        quantile=quantile,
        latent_dim=latent_dim,
        beta=beta,
        epochs=epochs,
        gan_steps=gan_steps,
        methods=chosen,
        seed=seed,
        data_seed=data_seed,
        device=device,
        workers=workers,
    )
    folder = files.ensure_dir(out or Path("out") / f"latents_{Path(source).stem}")
    show = not (quiet or as_json) and err_console.is_terminal
    with status_bar("latents evaluate", None, show) as bar, threads_limited(threads):
        summary = run_evaluate(scenario, folder, settings, describe(bar), epoch_progress(bar), test_folder=dataset)
    _finish(summary, folder, report, as_json, quiet, "latents")


@latents_app.command("recommend")
@user_errors
def recommend(
    scenario_name: Annotated[str, typer.Argument(metavar="SCENARIO", help="Scenario file or bundled name.")],
    out: Annotated[Path | None, typer.Option(help="Folder for data, summary.json and the report.")] = None,
    report: Annotated[bool, typer.Option("--report", help="Also write report.html / report.md into --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    rows: Annotated[int, typer.Option(min=1000, help="Operation rows simulated to learn from.")] = 150_000,
    replications: Annotated[int, typer.Option(min=2, help="Replications of the verification.")] = 10,
    latent_dim: LatentOpt = 8,
    beta: BetaOpt = 0.1,
    epochs: EpochsOpt = None,
    radius: Annotated[float, typer.Option(min=0.0, help="Search radius around the data (Mahalanobis).")] = 2.0,
    seed: SeedOpt = 0,
    data_seed: Annotated[int | None, typer.Option(min=0, help="Seed of the data (default: the scenario's).")] = None,
    workers: WorkersOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Recommend set-points from the latents and verify them by re-simulation against the truth and a direct search."""
    from scenarios.catalog import load
    from scenarios.latents_recommend import RecommendSettings
    from scenarios.latents_recommend import recommend as run_recommend

    check_device(device)
    scenario = load(scenario_name)
    settings = RecommendSettings(
        rows=rows,
        replications=replications,
        latent_dim=latent_dim,
        beta=beta,
        epochs=epochs,
        radius=radius,
        seed=seed,
        data_seed=data_seed,
        device=device,
        workers=workers,
    )
    folder = files.ensure_dir(out or Path("out") / f"recommend_{Path(scenario_name).stem}")
    show = not (quiet or as_json) and err_console.is_terminal
    with status_bar("latents recommend", None, show) as bar, threads_limited(threads):
        summary = run_recommend(scenario, folder, settings, describe(bar), epoch_progress(bar))
    _finish(summary, folder, report, as_json, quiet, "recommend")


def _finish(summary: dict[str, Any], folder: Path, report: bool, as_json: bool, quiet: bool, kind: str) -> None:
    summary["command"] = command_line()
    files.write_json(folder / "summary.json", summary)
    if report:
        from reports.latents import latents_report
        from reports.latents_recommend import recommend_report
        from reports.write import write_report

        built = latents_report(summary, folder) if kind == "latents" else recommend_report(summary)
        write_report(built, folder)
    if as_json:
        print_json(summary)
        return
    if quiet:
        return
    for entry in summary["targets"]:
        mark = {True: "[green]met[/]", False: "[red]missed[/]", None: "[dim]reported[/]"}[entry["met"]]
        out_console.print(f"{mark}  {entry['name']}: {entry['value']} (target {entry['target']})", highlight=False)
    where = folder / ("report.html" if report else "summary.json")
    out_console.print(f"results in [bold]{where}[/]", highlight=False)
