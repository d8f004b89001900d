"""Named random streams for common random numbers.

One master seed and a replication index define a root ``SeedSequence``; every stream is spawned from it by the
names of its purpose and entity (``streams.get("process", "A", 2)``). Because each name hashes to its own spawn key,
two variants of a scenario that share names share random numbers, and adding a station never shifts the numbers of
another. ``(seed, replication)`` pairs map to distinct roots: the seed is the entropy, the replication a spawn key, so
seed 1 / replication 11 and seed 11 / replication 1 never collide (no string concatenation).
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: object) -> tuple[int, int]:
    digest = hashlib.blake2b(str(name).encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")


class Streams:
    """Factory of independent, reproducible generators keyed by names."""

    def __init__(self, seed: int, replication: int = 0):
        if seed < 0 or replication < 0:
            raise ValueError("seed and replication must be non-negative")
        self.seed = seed
        self.replication = replication

    def sequence(self, *names: object) -> np.random.SeedSequence:
        """The ``SeedSequence`` of the stream named by ``names``."""
        key: tuple[int, ...] = (self.replication,)
        for name in names:
            key += _name_key(name)
        return np.random.SeedSequence(entropy=self.seed, spawn_key=key)

    def get(self, *names: object) -> np.random.Generator:
        """A fresh generator for the stream named by ``names`` (same names, same numbers)."""
        return np.random.Generator(np.random.PCG64(self.sequence(*names)))
