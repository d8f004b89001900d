"""The user level: scenario library, what-if studies, sweeps, the `shopfloor` CLI."""

from scenarios.catalog import bundled_names, load
from scenarios.study import load_study
from scenarios.sweep import sweep
from scenarios.whatif import whatif

__all__ = ["bundled_names", "load", "load_study", "sweep", "whatif"]
