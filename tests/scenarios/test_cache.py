"""The evaluation cache: exact round trips, keys that miss when they should, clear errors, writes by the parent only."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
from pathlib import Path

import pytest

import scenarios.cache
import scenarios.evaluate
from scenarios import catalog
from scenarios.cache import EvaluationCache, engine_version, source_hash
from scenarios.evaluate import Task, evaluate
from sim.errors import ShopfloorError
from sim.measurement import Replication
from sim.records import Deadlock

HASH = "ab" * 32
KPIS = {"throughput": 0.8125, "late_share": math.nan, "cycle_time_mean": 1 / 3, "completed": 812.0, "tiny": 5e-324}


def result(kpis: dict[str, float], replication: int = 0, deadlock: Deadlock | None = None) -> Replication:
    return Replication(replication, dict(kpis), None, deadlock)


def test_round_trip_keeps_values_exactly_including_nan(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with EvaluationCache(path) as cache:
        assert len(cache) == 0
        cache.put((HASH, 7, 0), '{"scenario": 1}', result(KPIS))
        cache.put(
            (HASH, 7, 1), '{"scenario": 1}', result({"throughput": 0.5}, 1, Deadlock(12.5, "circular_wait", ("a", "b")))
        )
        cache.put_warmup(HASH, 7, 123.25)
        assert len(cache) == 2
    with EvaluationCache(path) as cache:  # reopened: the results were committed
        found = cache.get_many([(HASH, 7, 0), (HASH, 7, 1), (HASH, 7, 2)])
        assert cache.warmup(HASH, 7) == 123.25
        assert cache.warmup(HASH, 8) is None
    assert set(found) == {(HASH, 7, 0), (HASH, 7, 1)}
    got = found[(HASH, 7, 0)].kpis
    assert list(got) == list(KPIS)
    assert math.isnan(got["late_share"])
    assert {k: v for k, v in got.items() if k != "late_share"} == {k: v for k, v in KPIS.items() if k != "late_share"}
    assert found[(HASH, 7, 0)].deadlock is None
    assert found[(HASH, 7, 1)] == result({"throughput": 0.5}, 1, Deadlock(12.5, "circular_wait", ("a", "b")))


def test_the_key_is_hash_seed_replication_and_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cache.sqlite"
    with EvaluationCache(path) as cache:
        cache.put((HASH, 7, 0), "{}", result({"throughput": 1.0}))
        assert cache.engine == engine_version()
        for other in ((HASH, 8, 0), (HASH, 7, 1), ("cd" * 32, 7, 0)):
            assert cache.get_many([other]) == {}, other
        cache.put((HASH, 7, 0), "{}", result({"throughput": 2.0}))  # the same key again replaces, never duplicates
        assert len(cache) == 1
        assert cache.get_many([(HASH, 7, 0)]) == {(HASH, 7, 0): result({"throughput": 2.0})}
    monkeypatch.setattr(scenarios.cache, "engine_version", lambda: "0" * 64)
    with EvaluationCache(path) as newer:
        assert newer.engine == "0" * 64
        assert newer.get_many([(HASH, 7, 0)]) == {}  # a new engine may simulate differently: a miss
        assert len(newer) == 0
        newer.put((HASH, 7, 0), "{}", result({"throughput": 3.0}))
    monkeypatch.undo()
    with EvaluationCache(path) as cache:  # the old engine's entry is still there, beside the new one
        assert cache.get_many([(HASH, 7, 0)]) == {(HASH, 7, 0): result({"throughput": 2.0})}
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM replications").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM scenarios").fetchone()[0] == 1
    db.close()


@pytest.mark.parametrize("garbage", [b"\x00\xffnot a database" * 300, b"hello", os.urandom(8192)])
def test_a_garbage_file_is_a_clear_error(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(garbage)
    with pytest.raises(ShopfloorError) as caught:
        EvaluationCache(path)
    assert str(caught.value) == f"{path}: not a usable shopfloor cache (file is not a database)"


def test_a_damaged_cache_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with EvaluationCache(path) as cache:
        for r in range(300):
            cache.put((HASH, 1, r), "{}", result({"throughput": float(r), "padding": 1.0 + r / 7}, r))
    data = bytearray(path.read_bytes())
    assert len(data) > 6 * 4096 and not Path(f"{path}-wal").exists()
    data[3 * 4096 : 6 * 4096] = b"\xa5" * (3 * 4096)  # garbage over pages 4-6, header and schema intact
    path.write_bytes(data)
    with pytest.raises(ShopfloorError, match=re.escape(str(path))), EvaluationCache(path) as cache:
        cache.get_many((HASH, 1, r) for r in range(300))
        len(cache)


def test_a_folder_in_place_of_the_cache_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    path.mkdir()
    with pytest.raises(ShopfloorError, match=f"^{re.escape(str(path))}: not a usable shopfloor cache"):
        EvaluationCache(path)


# ------------------------------------------------------------------------------------------ only the parent writes

PARENT = os.getpid()


ORIGINAL_EXECUTE = scenarios.evaluate._execute


def simulate_and_tell_pid(run: scenarios.evaluate._Run) -> Replication:
    """What a worker runs, plus the id of the process that ran it (module level: picklable by reference)."""
    done = ORIGINAL_EXECUTE(run)
    done.kpis["pid"] = float(os.getpid())
    return done


def test_workers_simulate_and_the_parent_stores(
    tmp_path: Path, line_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = catalog.load(line_file, {"scenario.horizon": 300})
    tasks = [Task(scenario, 2, r) for r in range(6)]
    puts: list[tuple[int, tuple]] = []
    original_put = EvaluationCache.put

    def recording_put(self: EvaluationCache, key: tuple[str, int, int], canonical: str, done: Replication) -> None:
        puts.append((os.getpid(), key))
        return original_put(self, key, canonical, done)

    monkeypatch.setattr(EvaluationCache, "put", recording_put)
    monkeypatch.setattr(scenarios.evaluate, "_execute", simulate_and_tell_pid)
    stored_when_reported: list[tuple[int, int]] = []
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:

        def progress(done: int) -> None:
            stored_when_reported.append((done, len(cache)))

        evaluation = evaluate(tasks, workers=2, cache=cache, progress=progress)
        assert len(cache) == 6
        stored = cache.get_many(task.key for task in tasks)
    # what was stored is what was returned, in task order
    assert [json.dumps(stored[task.key].kpis) for task in tasks] == [json.dumps(kpis) for kpis in evaluation.kpis]
    # workers (other processes) simulated every task; the parent stored every result, each as it arrived
    worker_pids = {int(kpis["pid"]) for kpis in evaluation.kpis}
    assert PARENT not in worker_pids and worker_pids
    assert [pid for pid, _ in puts] == [os.getpid()] * 6
    assert [key for _, key in puts] == [task.key for task in tasks]
    assert stored_when_reported == [(done, done) for done in range(7)]
    assert evaluation.simulated == 6
    # the tasks sent to workers carry no cache, only what to simulate
    assert set(vars(tasks[0])) == {"scenario", "seed", "replication"}


def test_cached_tasks_are_not_simulated(tmp_path: Path, line_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = catalog.load(line_file, {"scenario.horizon": 300})
    tasks = [Task(scenario, 2, r) for r in range(4)]
    with EvaluationCache(tmp_path / "cache.sqlite") as cache:
        first = evaluate(tasks[:2], workers=1, cache=cache)
        simulated: list[int] = []

        def counting(run: scenarios.evaluate._Run) -> Replication:
            simulated.append(run.replication)
            return ORIGINAL_EXECUTE(run)

        monkeypatch.setattr(scenarios.evaluate, "_execute", counting)
        second = evaluate(tasks, workers=1, cache=cache)
    assert simulated == [2, 3]
    assert second.simulated == 2 and first.simulated == 2
    assert second.kpis[:2] == first.kpis


def test_any_change_to_the_engine_source_invalidates_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine key is a hash of the ``sim`` sources: one changed byte there, and every old entry misses."""
    import shutil

    import sim

    copy = tmp_path / "sim"
    shutil.copytree(Path(sim.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert source_hash(copy) == engine_version()
    path = tmp_path / "cache.sqlite"
    with EvaluationCache(path) as cache:
        cache.put((HASH, 7, 0), "{}", result({"throughput": 1.0}))
        cache.put_warmup(HASH, 7, 50.0)
    kpi = copy / "kpi.py"
    kpi.write_text(kpi.read_text(encoding="utf-8") + "\n# a comment changes nothing, but the cache cannot know\n")
    changed = source_hash(copy)
    assert changed != engine_version()
    monkeypatch.setattr(scenarios.cache, "engine_version", lambda: changed)
    with EvaluationCache(path) as cache:
        assert cache.get_many([(HASH, 7, 0)]) == {}
        assert cache.warmup(HASH, 7) is None
