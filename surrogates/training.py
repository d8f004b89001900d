"""Pieces every learned model shares: device choice, scoped seeding, per-epoch logs and the progress callback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn "auto", "cpu", "cuda" or "cuda:N" into a torch device; ValueError if CUDA is asked for and absent."""
    if isinstance(device, torch.device):
        device = str(device)
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use 'cpu' or 'auto'")
        resolved = torch.device(name)
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) found")
        return resolved
    raise ValueError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)} or 'cuda:N'")


def check_seed(seed: int) -> int:
    """Validate a seed (a non-negative int below 2**63) and return it."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a non-negative integer below 2**63, got {seed!r}")
    return seed


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh torch.Generator on `device` seeded with `seed` (explicit randomness, no global state)."""
    return torch.Generator(device=torch.device(device)).manual_seed(check_seed(seed))


@contextlib.contextmanager
def seeded(seed: int, device: str | torch.device = "cpu") -> Iterator[None]:
    """Seed torch's global generator (for layer initialisation and dropout) inside the block only.

    The global CPU state, and on a CUDA device that device's state, are restored on exit, so nothing is left behind.
    """
    device = torch.device(device)
    check_seed(seed)
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(cuda[0]):
                torch.cuda.manual_seed(seed)
        yield


@dataclass(frozen=True, slots=True)
class EpochLog:
    """What one training epoch reported: its number (from 1), mean losses by name and wall-clock seconds."""

    epoch: int
    losses: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"epoch": self.epoch, "losses": {k: float(v) for k, v in self.losses.items()}, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpochLog:
        """Inverse of `to_dict`."""
        losses = {str(k): float(v) for k, v in data["losses"].items()}
        return cls(epoch=int(data["epoch"]), losses=losses, seconds=float(data["seconds"]))


class Progress(Protocol):
    """Called after each epoch with the epoch number (from 1), the number of epochs and that epoch's log."""

    def __call__(self, epoch: int, epochs: int, log: EpochLog) -> None: ...
