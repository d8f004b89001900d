"""Executors: results in task order whatever finishes first, a bounded number of tasks in flight, clean shutdown."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.executors import Executor, LocalPool, default_workers, make_executor

# Task functions live at module level: worker processes receive them by reference.


def slower_when_earlier(task: tuple[int, int]) -> tuple[int, int, float]:
    """Task i of n sleeps (n - i) × 30 ms, so later tasks finish first; returns (i, pid, finish time)."""
    i, n = task
    time.sleep((n - i) * 0.03)
    return i, os.getpid(), time.monotonic()


def square(x: int) -> int:
    return x * x


def pid_of_worker(_: int) -> int:
    time.sleep(0.02)
    return os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"task {x} failed")
    return x


def mark_and_sleep(task: tuple[str, int]) -> int:
    folder, i = task
    Path(folder, f"{i}.done").touch()
    time.sleep(0.2)
    return i


class Recorder:
    """A generator of tasks that records how many the executor has taken so far."""

    def __init__(self, tasks: Iterator):
        self.taken = 0
        self._tasks = tasks

    def __iter__(self) -> Iterator:
        for task in self._tasks:
            self.taken += 1
            yield task


def test_make_executor_by_worker_count() -> None:
    with make_executor(1) as one:
        assert type(one) is Executor and one.workers == 1
    with make_executor(2) as two:
        assert isinstance(two, LocalPool) and two.workers == 2
    with make_executor() as default:
        assert default.workers == default_workers()
        assert isinstance(default, LocalPool) == (default_workers() > 1)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_in_task_order_when_tasks_finish_out_of_order(workers: int) -> None:
    n = 8
    with make_executor(workers) as executor:
        results = list(executor.map(slower_when_earlier, [(i, n) for i in range(n)]))
    assert [i for i, _, _ in results] == list(range(n))
    finished = [t for _, _, t in results]
    if workers > 1:
        assert finished[1] < finished[0]  # task 1 really finished before task 0 ...
        assert len({pid for _, pid, _ in results}) > 1  # ... on another worker
    else:
        assert finished == sorted(finished) and {pid for _, pid, _ in results} == {os.getpid()}


def test_every_executor_gives_the_same_results() -> None:
    expected = [x * x for x in range(40)]
    for workers in (1, 2, 4):
        with make_executor(workers) as executor:
            assert list(executor.map(square, range(40))) == expected


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_tasks_in_flight_are_bounded(workers: int) -> None:
    n = 30
    tasks = Recorder(iter(range(n)))
    window = 1 if workers == 1 else 2 * workers
    with make_executor(workers) as executor:
        taken_at_result = []
        for _ in executor.map(square, tasks):
            taken_at_result.append(tasks.taken)
    assert len(taken_at_result) == n
    # when result i arrives, at most `window` tasks beyond the i already delivered have been taken
    for i, taken in enumerate(taken_at_result):
        assert i + 1 <= taken <= min(i + window, n), (i, taken, taken_at_result)
    assert max(b - a for a, b in zip(range(n), taken_at_result, strict=True)) == window


@pytest.mark.parametrize("workers", [1, 2])
def test_an_endless_stream_of_tasks_is_consumed_lazily(workers: int) -> None:
    tasks = Recorder(itertools.count())
    with make_executor(workers) as executor:
        first = list(itertools.islice(executor.map(square, tasks), 10))
    assert first == [x * x for x in range(10)]
    assert tasks.taken <= 10 + 2 * workers


def test_a_failing_task_raises_its_error_in_order() -> None:
    with make_executor(2) as executor:
        results = executor.map(fail_on_three, range(8))
        assert [next(results) for _ in range(3)] == [0, 1, 2]
        with pytest.raises(ValueError, match="task 3 failed"):
            next(results)


def test_close_ends_the_worker_processes() -> None:
    with make_executor(2) as executor:
        pids = set(executor.map(pid_of_worker, range(8)))
    assert os.getpid() not in pids and len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # gone (and reaped), not left behind
    with pytest.raises(RuntimeError):
        next(executor.map(square, range(3)))  # a closed pool takes no more work


def test_close_cancels_tasks_not_yet_started(tmp_path: Path) -> None:
    n = 20
    started = time.monotonic()
    with make_executor(2) as executor:
        results = executor.map(mark_and_sleep, [(str(tmp_path), i) for i in range(n)])
        assert next(results) == 0
    elapsed = time.monotonic() - started
    ran = len(list(tmp_path.glob("*.done")))
    # only the few tasks submitted so far ran (window 4, one more after the first result), not all 20
    assert ran <= 5
    assert elapsed < n * 0.2 / 2


# --------------------------------------------------------------------------------------- workers and their parent

POOL_SCRIPT = """
import sys, time
from sim.executors import LocalPool

def nap(i):
    time.sleep(60)
    return i

with LocalPool(2) as pool:
    print("started", flush=True)
    list(pool.map(nap, range(8)))
"""


def children(pid: int) -> set[int]:
    """Child processes of ``pid`` (from /proc: psutil is not a dependency)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(p) for p in (task / "children").read_text().split())
        except OSError:  # the task ended meanwhile
            continue
    return found


def alive(pid: int) -> bool:
    """Running, not gone or a zombie waiting for a reaper."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "X")
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_die_with_a_killed_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", POOL_SCRIPT], stdout=subprocess.PIPE, text=True)
    workers: set[int] = set()
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 20
        while len(workers := children(parent.pid)) < 2:
            assert time.monotonic() < deadline, "the pool started no workers"
            time.sleep(0.05)
        assert all(alive(pid) for pid in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline, f"workers {sorted(p for p in workers if alive(p))} outlived the parent"
            time.sleep(0.05)
    finally:
        workers |= children(parent.pid) if parent.poll() is None else set()
        if parent.poll() is None:
            parent.kill()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)  # left behind by a failure: do not let them run on
        if parent.stdout is not None:
            parent.stdout.close()


def test_a_scheduler_that_is_no_address_is_a_user_error() -> None:
    pytest.importorskip("distributed")
    from sim.errors import ShopfloorError
    from sim.executors import DaskCluster

    for address in ("notaurl", "tcp://", "tcp://host:notaport"):
        with pytest.raises(ShopfloorError, match=f"^--scheduler {address}: cannot reach the Dask scheduler"):
            DaskCluster(address)
