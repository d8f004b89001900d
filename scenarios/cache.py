"""The evaluation cache: every simulated (scenario, seed, replication) in an embedded SQLite database.

The key is the content hash of the canonical scenario text plus the seed, the replication and the shopfloor version
(a new engine may simulate differently). Only the parent process writes, one transaction per result, in WAL mode,
so a sweep killed at any moment leaves a consistent file and a rerun simulates only what is missing.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from importlib.metadata import version
from pathlib import Path

from sim import files
from sim.errors import ShopfloorError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scenarios (hash TEXT PRIMARY KEY, canonical TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    replication INTEGER NOT NULL,
    engine TEXT NOT NULL,
    kpis TEXT NOT NULL,
    PRIMARY KEY (hash, seed, replication, engine)
);
"""

Key = tuple[str, int, int]  # (scenario hash, seed, replication)


def engine_version() -> str:
    return version("shopfloor")


class EvaluationCache:
    """KPIs of simulated replications, looked up by ``(scenario hash, seed, replication)``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        files.ensure_dir(self.path.parent)
        self.engine = engine_version()
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

    def get_many(self, keys: Iterable[Key]) -> dict[Key, dict[str, float]]:
        """The cached KPIs of those keys that are present."""
        found: dict[Key, dict[str, float]] = {}
        query = "SELECT kpis FROM evaluations WHERE hash = ? AND seed = ? AND replication = ? AND engine = ?"
        with self._damage_is_a_user_error():
            for key in keys:
                row = self._db.execute(query, (*key, self.engine)).fetchone()
                if row is not None:
                    found[key] = json.loads(row[0])
        return found

    def put(self, key: Key, canonical: str, kpis: dict[str, float]) -> None:
        """Store one result (a transaction of its own: a kill never leaves half a row)."""
        with self._damage_is_a_user_error(), self._db:
            self._db.execute("INSERT OR IGNORE INTO scenarios VALUES (?, ?)", (key[0], canonical))
            self._db.execute(
                "INSERT OR REPLACE INTO evaluations VALUES (?, ?, ?, ?, ?)", (*key, self.engine, json.dumps(kpis))
            )

    def __len__(self) -> int:
        with self._damage_is_a_user_error():
            query = "SELECT COUNT(*) FROM evaluations WHERE engine = ?"
            return self._db.execute(query, (self.engine,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EvaluationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
