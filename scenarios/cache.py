"""The evaluation cache: every simulated (scenario, seed, replication) in an embedded SQLite database.

A result is keyed by the content hash of the canonical scenario text (which holds the measurement policy: warm-up,
horizon, pilot, deadlock handling), the seed, the replication and the *engine*: a hash of the source of the
``sim`` package, so that any change to the simulator invalidates old entries however the version number reads.
The pooled warm-up of ``warmup = "auto"`` is cached per (scenario, seed). Only the parent process writes, one
transaction per result, in WAL mode, so a sweep killed at any moment leaves a consistent file and a rerun
simulates only what is missing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

import sim
from sim import files
from sim.errors import ShopfloorError
from sim.measurement import Replication
from sim.records import Deadlock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scenarios (hash TEXT PRIMARY KEY, canonical TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replications (
    hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    replication INTEGER NOT NULL,
    engine TEXT NOT NULL,
    kpis TEXT NOT NULL,
    deadlock TEXT,
    PRIMARY KEY (hash, seed, replication, engine)
);
CREATE TABLE IF NOT EXISTS warmups (
    hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    engine TEXT NOT NULL,
    warmup REAL NOT NULL,
    PRIMARY KEY (hash, seed, engine)
);
"""

Key = tuple[str, int, int]  # (scenario hash, seed, replication)


def source_hash(root: Path) -> str:
    """SHA-256 of the Python source files under ``root`` (relative names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def engine_version() -> str:
    """The engine key of cache entries: the source hash of the installed ``sim`` package."""
    return source_hash(Path(sim.__file__).parent)


class EvaluationCache:
    """Measured replications looked up by ``(scenario hash, seed, replication)``, and pooled warm-ups."""

    def __init__(self, path: str | Path, engine: str | None = None):
        self.path = Path(path)
        files.ensure_dir(self.path.parent)
        self.engine = engine or engine_version()
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ShopfloorError(f"{self.path}: not a usable shopfloor cache ({exc})") from None

    @contextlib.contextmanager
    def _damage_is_a_user_error(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise ShopfloorError(
                f"{self.path}: not a usable shopfloor cache ({exc}); delete it or use --no-cache"
            ) from None

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Replication]:
        """The cached replications of those keys that are present."""
        found: dict[Key, Replication] = {}
        query = "SELECT kpis, deadlock FROM replications WHERE hash = ? AND seed = ? AND replication = ? AND engine = ?"
        with self._damage_is_a_user_error():
            for key in keys:
                row = self._db.execute(query, (*key, self.engine)).fetchone()
                if row is not None:
                    deadlock = None
                    if row[1] is not None:
                        data = json.loads(row[1])
                        deadlock = Deadlock(data["time"], data["kind"], tuple(data["stations"]))
                    found[key] = Replication(key[2], json.loads(row[0]), None, deadlock)
        return found

    def put(self, key: Key, canonical: str, result: Replication) -> None:
        """Store one result (a transaction of its own: a kill never leaves half a row)."""
        deadlock = json.dumps(asdict(result.deadlock)) if result.deadlock is not None else None
        with self._damage_is_a_user_error(), self._db:
            self._db.execute("INSERT OR IGNORE INTO scenarios VALUES (?, ?)", (key[0], canonical))
            self._db.execute(
                "INSERT OR REPLACE INTO replications VALUES (?, ?, ?, ?, ?, ?)",
                (*key, self.engine, json.dumps(result.kpis), deadlock),
            )

    def warmup(self, scenario_hash: str, seed: int) -> float | None:
        """The cached pooled warm-up of a scenario and seed (``warmup = "auto"``), if any."""
        query = "SELECT warmup FROM warmups WHERE hash = ? AND seed = ? AND engine = ?"
        with self._damage_is_a_user_error():
            row = self._db.execute(query, (scenario_hash, seed, self.engine)).fetchone()
        return None if row is None else float(row[0])

    def put_warmup(self, scenario_hash: str, seed: int, warmup: float) -> None:
        with self._damage_is_a_user_error(), self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO warmups VALUES (?, ?, ?, ?)", (scenario_hash, seed, self.engine, warmup)
            )

    def __len__(self) -> int:
        with self._damage_is_a_user_error():
            query = "SELECT COUNT(*) FROM replications WHERE engine = ?"
            return self._db.execute(query, (self.engine,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EvaluationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
