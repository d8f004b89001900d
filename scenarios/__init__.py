"""The user level: scenario library, what-if, sweeps, optimisation, the `shopfloor` CLI."""

from scenarios.catalog import bundled_names, load

__all__ = ["bundled_names", "load"]
