"""``shopfloor augment fit | sample | evaluate``: rare-defect augmentation with a conditional tabular GAN."""

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

augment_app = typer.Typer(
    help="Augment rare defect rows with a conditional tabular GAN, and evaluate whether it helps.",
    no_args_is_help=True,
)


@augment_app.command("fit")
@user_errors
def fit(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder written by `shopfloor generate`.")],
    out: Annotated[Path, typer.Option(help="Model folder (model.safetensors, model.json, losses.png).")],
    condition: Annotated[str, typer.Option(help="defect (flag) or defect_type.")] = "defect",
    epochs: Annotated[int | None, typer.Option(min=1, help="Epochs (default: a fixed step budget).")] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Fit a conditional GAN to a dataset's operations at the stations that create defects."""
    from reports.augment import loss_figure
    from scenarios.augment import fit_command

    check_device(device)
    show = not quiet and err_console.is_terminal
    with status_bar("training", None, show) as bar, threads_limited(threads):
        gan = fit_command(dataset, condition, out, seed, device, epochs, epoch_progress(bar))
    model_written(out, gan.history, loss_figure(gan.history), quiet)


@augment_app.command("sample")
@user_errors
def sample(
    model: Annotated[Path, typer.Argument(help="Model folder written by `augment fit`.")],
    out: Annotated[Path, typer.Option(help="Parquet file for the synthetic rows.")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Rows to sample.")] = 1000,
    where: Annotated[
        list[str] | None, typer.Option("--where", "-w", help="Condition column=value, e.g. defect=true (repeatable).")
    ] = None,
    seed: SeedOpt = 0,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Sample synthetic rows that meet the condition exactly."""
    from scenarios.augment import sample_command

    check_device(device)
    table = sample_command(model, n, where or [], out, seed, device)
    if not quiet:
        out_console.print(f"{table.num_rows:,} rows written to [bold]{out}[/]", highlight=False)


@augment_app.command("evaluate")
@user_errors
def evaluate(
    source: Annotated[str, typer.Argument(help="Scenario (file or bundled name) or a dataset folder.")],
    out: Annotated[Path | None, typer.Option(help="Folder for data, summary.json and the report.")] = None,
    report: Annotated[bool, typer.Option("--report", help="Also write report.html / report.md into --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per regime (models and subsamples).")] = 5,
    train_rows: Annotated[int, typer.Option(min=1000, help="Operation rows of the training data.")] = 450_000,
    test_rows: Annotated[int, typer.Option(min=1000, help="Operation rows of the fresh test data.")] = 200_000,
    regimes: Annotated[str, typer.Option(help="Comma-separated: full, scarce, new_type.")] = "full,scarce,new_type",
    new_type: Annotated[str | None, typer.Option(help="Defect type of the new_type regime.")] = None,
    ratio: Annotated[float, typer.Option(min=0.001, help="Positives : negatives after resampling.")] = 0.2,
    scarce_defects: Annotated[int, typer.Option(min=10, help="Defects in the scarce regime's history.")] = 300,
    new_type_examples: Annotated[int, typer.Option(min=2, help="Rows of the new defect type kept.")] = 30,
    epochs: Annotated[int | None, typer.Option(min=1, help="GAN epochs (default: --gan-steps).")] = None,
    gan_steps: Annotated[int, typer.Option(min=1, help="GAN generator steps when --epochs is not given.")] = 2000,
    gan_rows: Annotated[str, typer.Option(help="The GAN learns 'all' training rows or the 'positives' only.")] = "all",
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed of the training data (default: the scenario's).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes for simulation.")] = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Evaluate augmentation arms on fresh replications, with the simulator's ground truth as the ceiling."""
    from scenarios.augment_data import REGIMES
    from scenarios.augment_eval import Settings
    from scenarios.augment_eval import evaluate as run_evaluate

    check_device(device)
    chosen = tuple(r.strip() for r in regimes.split(",") if r.strip())
    if any(r not in REGIMES for r in chosen):
        raise ShopfloorError(f"--regimes: choose from {', '.join(REGIMES)}, got {regimes!r}")
    settings = Settings(
        train_rows=train_rows,
        test_rows=test_rows,
        seeds=seeds,
        ratio=ratio,
        scarce_defects=scarce_defects,
        new_type_examples=new_type_examples,
        new_type=new_type,
        regimes=chosen,
        epochs=epochs,
        gan={"target_steps": gan_steps},
        gan_rows=gan_rows,
        device=device,
    )
    folder = out or Path("out") / f"augment_{Path(source).stem}"
    files.ensure_dir(folder)
    total = 2 + len(chosen) * seeds * len(settings.arms) + 1
    show = not (quiet or as_json) and err_console.is_terminal
    with status_bar("augment evaluate", total, show) as bar, threads_limited(threads):

        def step(text: str) -> None:
            if bar:
                bar[0].update(bar[1], advance=1, description=text)

        summary = run_evaluate(source, folder, settings, seed, workers, step)
    summary["command"] = command_line()
    files.write_json(folder / "summary.json", summary)
    if report:
        from reports.augment import augment_report
        from reports.write import write_report

        write_report(augment_report(summary), folder)
    if as_json:
        print_json(summary)
    elif not quiet:
        _print_targets(summary, folder, report)


def _print_targets(summary: dict[str, Any], folder: Path, report: bool) -> None:
    for entry in summary["targets"]:
        mark = "[green]met[/]" if entry["met"] else "[red]missed[/]"
        value = entry["value"]
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        out_console.print(f"{mark}  {entry['target']}: {shown} (goal {entry['goal']})", highlight=False)
    where = folder / ("report.html" if report else "summary.json")
    out_console.print(f"results in [bold]{where}[/]", highlight=False)
