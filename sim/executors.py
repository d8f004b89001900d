"""Where replications run: in this process, on a local pool of processes, or on a Dask cluster.

Every executor maps a function over tasks and yields the results **in task order**, keeping at most a bounded
number of tasks in flight, so that results (and files written from them) are identical whichever executor and
worker count is used, and memory stays bounded however many tasks there are.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from sim.errors import ShopfloorError


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class Executor:
    """Runs ``fn(task)`` for each task; ``map`` yields results in task order."""

    workers = 1

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        for task in tasks:
            yield fn(task)

    def close(self) -> None:
        """Release workers (nothing to do in-process)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalPool(Executor):
    """A pool of worker processes on this machine."""

    def __init__(self, workers: int):
        self.workers = workers
        # fork: workers start in milliseconds and scripts need no ``if __name__ == "__main__"`` guard
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        return _ordered(lambda task: self._pool.submit(fn, task), tasks, 2 * self.workers)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskCluster(Executor):
    """An existing Dask distributed cluster, reached through its scheduler address."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise ShopfloorError("--scheduler needs Dask: pip install 'shopfloor[dask]'") from None
        try:
            self._client = Client(address, timeout="10s")
        except OSError as exc:
            raise ShopfloorError(f"--scheduler {address}: cannot reach the Dask scheduler ({exc})") from None
        self.workers = max(sum(self._client.nthreads().values()), 1)

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        return _ordered(lambda task: self._client.submit(fn, task, pure=False), tasks, 2 * self.workers)

    def close(self) -> None:
        self._client.close()


def _ordered(submit: Callable[[Any], Future], tasks: Iterable[Any], window: int) -> Iterator[Any]:
    pending: deque = deque()
    iterator = iter(tasks)
    for task in iterator:
        pending.append(submit(task))
        if len(pending) >= window:
            break
    while pending:
        yield pending.popleft().result()
        for task in iterator:
            pending.append(submit(task))
            break


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """An executor: Dask when ``scheduler`` is given, else a local pool of ``workers`` (1: in this process)."""
    if scheduler:
        return DaskCluster(scheduler)
    workers = workers or default_workers()
    return LocalPool(workers) if workers > 1 else Executor()
