"""Where replications run: in this process, on a local pool of processes, or on a Dask cluster.

Every executor maps a function over tasks and yields the results **in task order**, keeping at most a bounded
number of tasks in flight, so that results (and files written from them) are identical whichever executor and
worker count is used, and memory stays bounded however many tasks there are.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
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
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )

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
        problem = _address_problem(address)
        if problem is None:
            try:
                self._client = Client(address, timeout="10s")
                self.workers = max(sum(self._client.nthreads().values()), 1)
                return
            except Exception as exc:  # OSError, TimeoutError, ValueError, ...: all are the user's to fix
                problem = str(exc) or type(exc).__name__
            # out of the except block nothing refers to the half-built client: collect it now, as its __del__ run
            # by a later collection can deadlock the construction of another Client
            gc.collect()
        raise ShopfloorError(f"--scheduler {address}: cannot reach the Dask scheduler ({problem})")

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        return _ordered(lambda task: self._client.submit(fn, task, pure=False), tasks, 2 * self.workers)

    def close(self) -> None:
        self._client.close()


def _address_problem(address: str) -> str | None:
    """Why ``address`` is no scheduler address (checked before a ``Client`` is built), or None."""
    from distributed.comm.addressing import get_address_host_port, parse_address
    from distributed.comm.registry import get_backend

    try:
        scheme, _ = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            get_address_host_port(address)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent(parent: int) -> None:
    """Worker initializer: have the kernel kill this worker when its parent dies (Linux), and exit if it already has.

    Without this, workers of a parent killed with SIGKILL keep running (and computing) until their queue breaks.
    The kernel signals when the *thread* that forked the worker ends; the pool forks from the thread using it.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


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
