"""What every ``shopfloor`` sub-command shares: the consoles, the user-error guard, JSON output, and the learned
models' options (seed, device, threads) with a progress bar."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sim import files
from sim.errors import ShopfloorError

out_console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    """Print user errors (bad files, options) without a traceback and exit with code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ShopfloorError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def print_json(data: dict[str, Any]) -> None:
    """A command's summary as JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def command_line() -> str:
    """The command as typed, for summaries and cards."""
    return " ".join(["shopfloor", *sys.argv[1:]])


SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of the model and its samples.")]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q")]
ThreadsOpt = Annotated[
    int | None, typer.Option(min=1, help="Threads for torch and the numeric libraries (default: all cores).")
]


@contextlib.contextmanager
def threads_limited(threads: int | None) -> Iterator[None]:
    """Cap torch's and the BLAS/OpenMP pools' threads (on a shared machine one thread each can be much faster)."""
    if threads is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def status_bar(label: str, total: int | None, enabled: bool) -> Iterator[Any]:
    """A rich progress bar whose description can be updated; a no-op when disabled."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        yield progress, progress.add_task(label, total=total)


def check_device(device: str) -> None:
    """A device this machine has, checked before any work starts."""
    if device not in ("auto", "cpu", "cuda"):
        raise ShopfloorError(f"--device: must be auto, cpu or cuda, got {device!r}")
    from surrogates.training import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise ShopfloorError(f"--device: {exc}") from None


def epoch_progress(bar: Any) -> Callable[[int, int, Any], None]:
    """A training progress callback that shows the epoch and its losses on a `status_bar` (β left out)."""

    def progress(epoch: int, total: int, log: Any) -> None:
        if bar:
            losses = "  ".join(f"{k} {v:+.3f}" for k, v in log.losses.items() if k != "beta")
            bar[0].update(bar[1], completed=epoch, total=total, description=f"epoch {epoch}/{total}  {losses}")

    return progress


def describe(bar: Any) -> Callable[[str], None]:
    """A callback that writes what is going on into a `status_bar`'s description."""

    def say(text: str) -> None:
        if bar:
            bar[0].update(bar[1], description=text)

    return say


def model_written(out: Path, history: Sequence[Any], losses_png: bytes, quiet: bool) -> None:
    """After a fit command: the loss plot next to the model, and one line saying where both are."""
    files.write_atomic(out / "losses.png", lambda tmp: tmp.write_bytes(losses_png))
    if not quiet:
        seconds = sum(log.seconds for log in history)
        out_console.print(
            f"model written to [bold]{out}[/] ({len(history)} epochs, {seconds:.0f} s); losses: {out / 'losses.png'}",
            highlight=False,
        )
