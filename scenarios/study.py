"""Study files: a base scenario with what-if variants and/or a design-of-experiments sweep.

```toml
[study]
name = "weld_capacity"
scenario = "flow_line"          # a bundled name or a path relative to this file
replications = 10
seed = 42
objective = "max throughput"    # ranks the variants ("max KPI" or "min KPI")

[variants.third_welder]
"stations.weld.machines" = 3

[variants.bigger_weld_buffer]
"stations.weld.buffer" = 12

[sweep]
design = "lhs"                  # grid, lhs (Latin hypercube) or sobol
points = 32
replications = 3
# objective = "max throughput"  # picks the best points; default: the study's objective

[sweep.variables]
"stations.weld.machines" = { type = "int", low = 1, high = 3 }
"release.interarrival.mean" = { type = "float", low = 1.1, high = 1.6 }
"stations.weld.dispatch" = { type = "choice", choices = ["fifo", "spt", "edd"] }
```
Every override must name a key that exists in the base scenario, and every variant and design point is validated
like a scenario file; problems are reported as ``study.toml: variants.x.stations.weld.machinez: ...``.
:func:`scenario_changes` lists what a variant changes in its base, by dotted path, whichever way it was built.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from scenarios import catalog
from scenarios.optimize_spec import OptimizeSpec
from sim.bounds import SPEC_CONFIG
from sim.errors import ScenarioError
from sim.files import read_text
from sim.objective import ObjectiveError, check_objective, parse_objective
from sim.spec import Scenario, _describe, load_scenario

MAX_POINTS = 100_000  # design points of one sweep; each runs every replication


class _Strict(BaseModel):
    model_config = SPEC_CONFIG


class StudyMeta(_Strict):
    name: str = Field(min_length=1)
    scenario: str
    replications: int = Field(5, ge=1, le=MAX_POINTS)
    seed: int | None = Field(None, ge=0)
    objective: str = "max throughput"

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: str) -> str:
        parse_objective(value)
        return value


class Variable(_Strict):
    type: Literal["int", "float", "choice"]
    low: float | None = None
    high: float | None = None
    levels: int = Field(3, ge=2, le=MAX_POINTS, description="grid levels of a float variable")
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Variable:
        if self.type == "choice":
            if not self.choices:
                raise ValueError("a choice variable needs a non-empty list of choices")
        elif self.low is None or self.high is None:
            raise ValueError(f"an {self.type} variable needs low and high")
        elif self.high < self.low:
            raise ValueError(f"high must be ≥ low, got low={self.low:g}, high={self.high:g}")
        elif self.type == "int" and self.high - self.low >= MAX_POINTS:
            raise ValueError(
                f"an int variable may span at most {MAX_POINTS} values, got low={self.low:g}, high={self.high:g}"
            )
        return self

    @property
    def grid_size(self) -> int:
        """Levels of the variable in a grid design."""
        if self.type == "choice":
            return len(self.choices or [])
        if self.type == "int":
            return int(self.high or 0) - int(self.low or 0) + 1
        return self.levels


class SweepSpec(_Strict):
    design: Literal["grid", "lhs", "sobol"] = "lhs"
    points: int = Field(16, ge=1, le=MAX_POINTS)
    replications: int | None = Field(None, ge=1, le=MAX_POINTS)
    variables: dict[str, Variable] = Field(min_length=1)
    objective: str | None = Field(None, description="picks the best points; load_study fills in the study's")

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: str | None) -> str | None:
        if value is not None:
            parse_objective(value)
        return value

    @model_validator(mode="after")
    def _grid_size(self) -> SweepSpec:
        if self.design == "grid" and math.prod(v.grid_size for v in self.variables.values()) > MAX_POINTS:
            raise ValueError(f"a grid over these variables has more than {MAX_POINTS} points; use fewer levels or lhs")
        return self


class StudyOptimize(OptimizeSpec):
    variables: dict[str, Variable] | None = Field(None, min_length=1)


class StudySchedule(_Strict):
    """``[schedule]``: the base scenario is a job shop whose machine sequences ``shopfloor optimize`` searches."""

    seconds: float = Field(60.0, gt=0, le=3600, description="time limit of the schedule search")
    replications: int | None = Field(None, ge=1, le=1000, description="per schedule (default 1, 10 if random)")


class StudySpec(_Strict):
    study: StudyMeta
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sweep: SweepSpec | None = None
    optimize: StudyOptimize | None = None
    schedule: StudySchedule | None = None


class Study:
    """A loaded study: the validated spec, its base scenario, and its variant scenarios."""

    def __init__(self, spec: StudySpec, base: Scenario, source: str):
        self.spec = spec
        self.base = base
        self.source = source

    @property
    def seed(self) -> int:
        return self.base.scenario.seed if self.spec.study.seed is None else self.spec.study.seed

    @property
    def decision_variables(self) -> dict[str, Variable]:
        """The optimiser's decision variables: ``[optimize.variables]``, else the sweep's (empty without both)."""
        if self.spec.optimize is not None and self.spec.optimize.variables:
            return self.spec.optimize.variables
        return self.spec.sweep.variables if self.spec.sweep is not None else {}

    def variants(self) -> dict[str, Scenario]:
        """The base (named ``base``) and every variant, validated."""
        scenarios = {"base": self.base}
        for name, overrides in self.spec.variants.items():
            scenarios[name] = apply(self.base, overrides, self.source, f"variants.{name}")
        return scenarios


def apply(base: Scenario, overrides: dict[str, Any], source: str, where: str) -> Scenario:
    """``base`` with overrides by dotted path; each path must exist in the base scenario."""
    full = base.model_dump(mode="json", by_alias=True)
    missing = [(f"{where}.{key}", "no such key in the base scenario") for key in overrides if not _exists(full, key)]
    if missing:
        raise ScenarioError(source, missing)
    try:
        return base.with_overrides(overrides)
    except ScenarioError as exc:
        problems = [(f"{where}.{field.removesuffix(' (from --set)')}", message) for field, message in exc.problems]
        raise ScenarioError(source, problems) from None


def scenario_changes(base: Scenario, variant: Scenario) -> list[dict[str, Any]]:
    """What ``variant`` changes in ``base``: ``[{"path": dotted, "base": old, "value": new}]`` in the variant's order.

    Found by comparing the two scenarios' full data (defaults filled in), so it holds for study variants, ``--variant``
    options and any scenario alike; ``base`` is None for a key the base lacks, ``value`` None for one it dropped.
    """
    old, new = _flatten(base.to_dict()), _flatten(variant.to_dict())
    paths = [p for p in new if old.get(p, _ABSENT) != new[p]] + [p for p in old if p not in new]
    return [{"path": p, "base": old.get(p), "value": new.get(p)} for p in paths]


_ABSENT = object()


def scenario_values(scenario: Scenario) -> dict[str, Any]:
    """Every setting of ``scenario`` (defaults filled in) by dotted path, as overrides name them."""
    return _flatten(scenario.to_dict())


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested dicts and lists by dotted path (list items by index, as overrides name them)."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = ((str(i), v) for i, v in enumerate(data))
    else:
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat |= _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def _exists(data: Any, dotted: str) -> bool:
    node = data
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _check_optimize(study: Study) -> None:
    """The ``[optimize]`` section against the base scenario: its KPIs exist, its inputs are decision variables."""
    spec, base, source = study.spec.optimize, study.base, study.source
    assert spec is not None
    problems = []
    for i, text in enumerate(spec.objectives):
        try:
            check_objective(parse_objective(text), base)
        except ObjectiveError as exc:
            problems.append((f"optimize.objectives[{i}]", str(exc)))
    variables = study.decision_variables
    if not variables:
        problems.append(("optimize", "no decision variables: give [optimize.variables] or [sweep.variables]"))
    full = base.model_dump(mode="json", by_alias=True)
    problems += [
        (f"optimize.variables.{n}", "no such key in the base scenario") for n in variables if not _exists(full, n)
    ]
    for i, constraint in enumerate(spec.constraints):
        where = f"optimize.constraints[{i}]"
        if constraint.kpi is not None:
            try:
                check_objective(parse_objective(f"max {constraint.kpi}"), base)
            except ObjectiveError as exc:
                problems.append((f"{where}.kpi", str(exc)))
        for name in constraint.inputs or {}:
            if name not in variables:
                problems.append((f"{where}.inputs.{name}", f"not a decision variable (one of {list(variables)})"))
            elif variables[name].type == "choice":
                problems.append((f"{where}.inputs.{name}", "a choice variable has no numeric value to weigh"))
    if problems:
        raise ScenarioError(source, problems)


def is_study_file(path: str | Path) -> bool:
    """Whether a TOML file is a study (has a [study] table) rather than a scenario.

    A file that exists but is not UTF-8 text is an error (a ``ScenarioError``), not "no study".
    """
    if not Path(path).is_file():
        return False
    try:
        return "study" in tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError:
        return False


def load_study(path: str | Path) -> Study:
    """Read and validate a study file and its base scenario."""
    path = Path(path)
    source = str(path)
    try:
        raw = tomllib.loads(read_text(path, source))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [("", f"not valid TOML: {exc}")]) from None
    try:
        spec = StudySpec.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(source, [_describe(err) for err in exc.errors()]) from None
    if "base" in spec.variants:
        raise ScenarioError(
            source, [("variants.base", "'base' is the unchanged scenario; give the variant another name")]
        )
    scenario_ref = spec.study.scenario
    relative = path.parent / scenario_ref
    try:
        base_path, label = catalog.resolve(relative if relative.is_file() else scenario_ref)
    except ScenarioError:
        names = ", ".join(catalog.bundled_names())
        problem = f"no file {scenario_ref!r} next to the study, and no bundled scenario of that name ({names})"
        raise ScenarioError(source, [("study.scenario", problem)]) from None
    base = load_scenario(base_path, source=label)
    try:
        check_objective(parse_objective(spec.study.objective), base)
    except ObjectiveError as exc:
        raise ScenarioError(source, [("study.objective", str(exc))]) from None
    if spec.sweep is not None:
        if spec.sweep.objective is None:  # the sweep's best points follow the study's objective unless it has its own
            spec = spec.model_copy(update={"sweep": spec.sweep.model_copy(update={"objective": spec.study.objective})})
        else:
            try:
                check_objective(parse_objective(spec.sweep.objective), base)
            except ObjectiveError as exc:
                raise ScenarioError(source, [("sweep.objective", str(exc))]) from None
    study = Study(spec, base, source)
    if spec.optimize is not None:
        _check_optimize(study)
    study.variants()  # validate every variant now, before anything runs
    if spec.sweep is not None:
        from scenarios.sweep import design_points, point_scenario  # a sweep validates its variables on the base

        full = base.model_dump(mode="json", by_alias=True)
        unknown = [name for name in spec.sweep.variables if not _exists(full, name)]
        if unknown:
            raise ScenarioError(source, [(f"sweep.variables.{n}", "no such key in the base scenario") for n in unknown])
        for i, point in enumerate(design_points(spec.sweep, study.seed)[:1]):
            point_scenario(base, point, source, f"sweep.point[{i}]")
    return study
