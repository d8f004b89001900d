"""The plant: scenario spec -> SimPy model -> records -> KPIs; replications, datasets. No torch."""

from typing import Any

__all__ = ["generate"]


def __getattr__(name: str) -> Any:
    # ``sim.generate`` without importing pyarrow's writer and the executors on every ``import sim``
    if name == "generate":
        from sim.dataset import generate

        return generate
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
