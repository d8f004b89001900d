"""Bundled scenario files, addressable by name (``flow_line``) as well as by path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.spec import Scenario, load_scenario


def library_dir() -> Path:
    """The folder of bundled scenario and study files."""
    return Path(str(resources.files("scenarios") / "library"))


def bundled_names() -> list[str]:
    """Names of the bundled scenarios."""
    return sorted(p.stem for p in library_dir().glob("*.toml"))


def resolve(name_or_path: str | Path) -> tuple[Path, str]:
    """``(path, label)`` of a scenario given as a file path or as the name of a bundled file."""
    path = Path(name_or_path)
    if path.is_file():
        return path, str(name_or_path)
    bundled = library_dir() / f"{path.name.removesuffix('.toml')}.toml"
    if path.parent == Path(".") and bundled.is_file():
        return bundled, bundled.name
    raise ScenarioError(
        str(name_or_path),
        [("", f"no such file, and no bundled scenario of that name ({', '.join(bundled_names())})")],
    )


def load(name_or_path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Scenario:
    """Load a scenario by path or bundled name, with ``--set``-style overrides."""
    path, label = resolve(name_or_path)
    return load_scenario(path, overrides, source=label)


def study_names() -> list[str]:
    """Names of the bundled study files."""
    return sorted(p.stem for p in (library_dir() / "studies").glob("*.toml"))


def resolve_study(name_or_path: str | Path) -> Path:
    """A study file given as a path or as the name of a bundled study."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = library_dir() / "studies" / f"{path.name.removesuffix('.toml')}.toml"
    if path.parent == Path(".") and bundled.is_file():
        return bundled
    return path  # not found: the caller reports it with the scenario names too
