"""Scenario files: pydantic models, loading, ``--set`` overrides and clear error messages.

``load_scenario(path, overrides)`` reads a TOML file, applies dotted-path overrides, validates everything and
returns a frozen ``Scenario``. Every problem is reported at once as ``file: field.path: message``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from sim.batching import BatchSpec
from sim.bounds import BUFFER_WHY, MAX_BUFFER, MAX_TIME, SPEC_CONFIG, TIME_WHY, Count, PositiveTime, Time, at_most
from sim.costs import CostSpec
from sim.dispatch import RULES
from sim.distributions import DIST_KINDS, Distribution
from sim.errors import ScenarioError
from sim.failures import CrewSpec, FailureSpec, MaintenanceSpec
from sim.faults import FaultSpec
from sim.files import read_text
from sim.quality import InspectionSpec, QualitySpec
from sim.sensors import ExcursionSpec, ParameterSpec, WearSpec
from sim.sequence import sequence_problems
from sim.setups import SetupSpec
from sim.shifts import Calendar, CalendarSpec
from sim.transport import TransportSpec


class _Strict(BaseModel):
    model_config = ConfigDict(**SPEC_CONFIG, populate_by_name=True)


class ScenarioMeta(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    time_unit: Literal["s", "min", "h"] = "min"
    calendar: str | None = Field(None, description="shift calendar of every station without its own")
    warmup: float | Literal["auto"] = Field(
        0.0,
        description='time discarded before measuring, or "auto": MSER-5 on the pilot (the run lasts 2 × horizon)',
    )
    horizon: PositiveTime | None = Field(None, description="measured time after warm-up; None runs an order book out")
    warmup_pilot: int = Field(
        5, ge=1, le=1000, description='with warmup = "auto": replications whose mean WIP series picks the warm-up'
    )
    deadlocks: Literal["exclude", "include", "fail"] = Field(
        "exclude", description="replications that end in a deadlock: left out of estimates, averaged in, or an error"
    )
    seed: int = Field(0, ge=0)

    @field_validator("warmup", mode="plain")
    @classmethod
    def _warmup(cls, value: Any) -> float | str:
        """A number ≥ 0 and < 1e12 time units, or exactly the word ``"auto"`` (no numeric text)."""
        if isinstance(value, str) and value == "auto":
            return "auto"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f'expected a number or "auto", got {_show(value)}')
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {_show(value)}")
        if value < 0:
            raise ValueError(f"must be ≥ 0, got {_show(value)}")
        if value >= MAX_TIME:
            raise ValueError(f"must be < 1e12 time units, got {_show(value)} ({TIME_WHY})")
        return float(value)


class DueDate(_Strict):
    """How due dates of released jobs are set: ``twk`` = release + factor × the job's drawn total work content."""

    rule: Literal["twk", "constant", "none"] = "none"
    factor: float = Field(3.0, gt=0)
    allowance: Time = 0.0


class Order(_Strict):
    id: str = Field(min_length=1)
    product: str
    release: Time = 0.0
    due: Time | None = None


class Release(_Strict):
    interarrival: Distribution | None = None
    calendar: str | None = Field(None, description="jobs arrive only on shift (inter-arrival times count shift time)")
    orders: list[Order] | None = None
    product_mix: dict[str, float] = Field(default_factory=dict)
    due_date: DueDate = DueDate()

    @field_validator("interarrival")
    @classmethod
    def _arrivals_take_time(cls, value: Any) -> Any:
        if value is not None and not value.mean > 0:
            raise ValueError(f"mean must be > 0, got {value.mean:g} (every job would arrive at one instant, for ever)")
        return value


class Station(_Strict):
    machines: Count = 1
    buffer: Annotated[int, Field(ge=0), at_most(MAX_BUFFER, BUFFER_WHY)] | None = Field(
        None, description="queue capacity in front; None = unlimited"
    )
    dispatch: str = "fifo"
    calendar: str | None = None
    failures: FailureSpec | None = None
    maintenance: MaintenanceSpec | None = None
    setup: SetupSpec | None = None
    batch: BatchSpec | None = None
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    wear: WearSpec | None = None
    excursions: ExcursionSpec | None = None
    quality: QualitySpec | None = None
    inspection: InspectionSpec | None = None
    sequence: list[str] | None = Field(
        None,
        description="order ids in the order the station starts them (its machines wait for the next one); orders "
        "it does not list follow by the dispatch rule",
    )


class Operation(_Strict):
    station: str
    time: Distribution
    kit: dict[str, int] | None = Field(None, description="components (product -> count) this assembly step consumes")


class Product(_Strict):
    route: list[Operation] = Field(min_length=1)


class Scenario(_Strict):
    scenario: ScenarioMeta
    release: Release
    stations: dict[str, Station] = Field(min_length=1)
    products: dict[str, Product] = Field(min_length=1)
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict)
    crews: dict[str, CrewSpec] = Field(default_factory=dict)
    transport: TransportSpec | None = None
    faults: list[FaultSpec] = Field(default_factory=list)
    costs: CostSpec | None = None

    _source: str = PrivateAttr(default="<scenario>")

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def source(self) -> str:
        """Where the scenario came from (file path or name), used in messages."""
        return self._source

    @property
    def has_order_book(self) -> bool:
        return self.release.orders is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain data with every default filled in (TOML/JSON-ready, ``None`` values dropped)."""
        return _drop_none(self.model_dump(mode="json", by_alias=True))

    def canonical_json(self) -> str:
        """A canonical text of the scenario: defaults filled in, fields in model order, comments and layout gone.

        The order of named tables (stations, products, product mix) is kept: it decides the order in which the
        simulation creates processes and draws products, so two orders may simulate differently.
        """
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical text: the scenario's identity for caches and reports."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def with_overrides(self, overrides: Iterable[str] | Mapping[str, Any]) -> Scenario:
        """A new scenario with dotted-path overrides applied and validated."""
        return _validate(self.to_dict(), self._source, parse_overrides(overrides))


def _drop_none(value: Any) -> Any:
    """Leave out unset options (None) and empty tables or lists, so that absent and empty read alike."""
    if isinstance(value, dict):
        cleaned = {k: _drop_none(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------------- loading


def load_scenario(
    path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = (), source: str | None = None
) -> Scenario:
    """Read, override and validate a scenario TOML file.

    ``overrides`` are ``"dotted.path=value"`` strings (values parsed as TOML, else taken as text) or a mapping.
    ``source`` is the name used in messages (default: the path as given).
    """
    path = Path(path)
    source = source or str(path)
    parsed = parse_overrides(overrides)
    text = read_text(path, source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [("", f"not valid TOML: {exc}")]) from None
    return _validate(raw, source, parsed, base_dir=path.parent)


def scenario_from_dict(raw: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as plain data (as read from TOML); errors name ``source``."""
    return _validate(json.loads(json.dumps(raw)), source, {})


def read_orders_csv(path: Path, label: str | None = None) -> list[dict[str, Any]]:
    """Read an order book (columns id, product, release, due; due optional) into plain dicts."""
    label = label or str(path)
    text = read_text(path, label, "order book", keep_line_ends=True)
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ScenarioError(label, [("", f"cannot read order book ({exc})")]) from None
    if not rows:
        raise ScenarioError(label, [("", "order book has no rows")])
    missing = {"id", "product", "release"} - set(rows[0])
    if missing:
        raise ScenarioError(label, [("", f"missing column(s) {', '.join(sorted(missing))}")])
    orders, problems = [], []
    for line, row in enumerate(rows, start=2):
        order: dict[str, Any] = {"id": row["id"], "product": row["product"]}
        for column in ("release", "due"):
            value = (row.get(column) or "").strip()
            if not value:
                continue
            try:
                order[column] = float(value)
            except ValueError:
                problems.append((f"line {line}.{column}", f"expected a number, got {value!r}"))
        orders.append(order)
    if problems:
        raise ScenarioError(label, problems)
    return orders


def parse_overrides(overrides: Iterable[str] | Mapping[str, Any]) -> dict[str, Any]:
    """``["a.b=1", "c=spt"]`` -> ``{"a.b": 1, "c": "spt"}`` (values parsed as TOML, else kept as text)."""
    if isinstance(overrides, Mapping):
        # numpy scalars (a design point, a chosen warm-up) as Python numbers: the models take no numpy types
        return {key: value.item() if isinstance(value, np.generic) else value for key, value in overrides.items()}
    parsed: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError("--set", [(item, "expected key.path=value")])
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # bare words such as spt or flow_line
        parsed[key.strip()] = value
    return parsed


_OVERRIDE_NAMED = ("stations", "products", "calendars", "crews")  # --set changes these, never adds to them


def _apply_override(raw: dict[str, Any], dotted: str, value: Any) -> str | None:
    """Set ``raw[a][b][c] = value`` for ``"a.b.c"``; return a problem message or None."""
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return f"no element {part} in the list at {'.'.join(parts[:i]) or 'top level'}"
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if i > 0 and parts[i - 1] in _OVERRIDE_NAMED and part not in node:
                # a typo such as stations.wled.machines would otherwise add a new station silently
                known = ", ".join(node) or "none"
                return f"no {parts[i - 1].rstrip('s')} named {part!r} ({parts[i - 1]}: {known})"
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            return f"{'.'.join(parts[:i])} is a value, not a table"
    return None


def _validate(raw: dict[str, Any], source: str, overrides: Mapping[str, Any], base_dir: Path = Path(".")) -> Scenario:
    problems = []
    for dotted, value in overrides.items():
        problem = _apply_override(raw, dotted, value)
        if problem:
            problems.append((f"{dotted} (from --set)", problem))
    if problems:
        raise ScenarioError(source, problems)
    release = raw.get("release")
    if isinstance(release, dict) and isinstance(release.get("orders"), str):
        release["orders"] = read_orders_csv(base_dir / release["orders"])  # relative to the scenario file
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors()]
        raise ScenarioError(source, _mark_overrides(problems, overrides)) from None
    problems = _cross_check(scenario)
    if problems:
        raise ScenarioError(source, _mark_overrides(problems, overrides))
    scenario._source = source
    return scenario


def _mark_overrides(problems: list[tuple[str, str]], overrides: Mapping[str, Any]) -> list[tuple[str, str]]:
    def mark(field: str) -> str:
        dotted = re.sub(r"\[(\d+)\]", r".\1", field)  # products.A.route[0] -> products.A.route.0, as in --set
        hit = any(dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + ".") for key in overrides)
        return f"{field} (from --set)" if hit else field

    return [(mark(field), msg) for field, msg in problems]


# ----------------------------------------------------------------------------------------------------------- errors


# tables whose keys are the user's names (a station may be called "constant")
_NAMED_TABLES = (
    "stations",
    "products",
    "calendars",
    "crews",
    "parameters",
    "types",
    "families",
    "product_mix",
    "matrix",
)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
            continue
        # pydantic puts the discriminator's value into the location of errors inside a tagged union
        if item in DIST_KINDS and i > 0 and loc[i - 1] not in _NAMED_TABLES:
            continue
        parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        return text if len(text) < 60 else text[:57] + "..."
    if isinstance(value, bool):
        return "true" if value else "false"  # as written in TOML
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _show_for_int(value: Any) -> str:
    """Like ``_show``, but a float reads as one (``2.0``, not ``2``) where an integer was expected."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return f"{value:.1f}"
    return _show(value)


def _describe(err: Mapping[str, Any]) -> tuple[str, str]:
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    field = _field_path(tuple(err["loc"]))
    messages = {
        "greater_than_equal": lambda: f"must be ≥ {_show(ctx.get('ge'))}, got {_show(value)}",
        "greater_than": lambda: f"must be > {_show(ctx.get('gt'))}, got {_show(value)}",
        "less_than_equal": lambda: f"must be ≤ {_show(ctx.get('le'))}, got {_show(value)}",
        "less_than": lambda: f"must be < {_show(ctx.get('lt'))}, got {_show(value)}",
        "finite_number": lambda: f"must be a finite number, got {_show(value)}",
        "string_too_short": lambda: "must not be empty",
        "extra_forbidden": lambda: "unknown key",
        "missing": lambda: "required key is missing",
        "union_tag_invalid": lambda: f"unknown distribution {ctx.get('tag')!r}; use one of {', '.join(DIST_KINDS)}",
        "union_tag_not_found": lambda: f"a distribution needs 'dist' (one of {', '.join(DIST_KINDS)})",
        "too_short": lambda: "must not be empty",
        "int_type": lambda: f"expected an integer, got {_show_for_int(value)}",
        "int_parsing": lambda: f"expected an integer, got {_show_for_int(value)}",
        "int_from_float": lambda: f"expected an integer, got {_show_for_int(value)}",
        "bool_type": lambda: f"expected true or false, got {_show(value)}",
        "float_type": lambda: f"expected a number, got {_show(value)}",
        "float_parsing": lambda: f"expected a number, got {_show(value)}",
        "string_type": lambda: f"expected text, got {_show(value)}",
        "dict_type": lambda: f"expected a table, got {_show(value)}",
        "model_type": lambda: f"expected a table, got {_show(value)}",
        "model_attributes_type": lambda: f"expected a table, got {_show(value)}",
        "list_type": lambda: f"expected a list, got {_show(value)}",
        "literal_error": lambda: f"must be one of {ctx.get('expected')}, got {_show(value)}",
        "value_error": lambda: str(ctx.get("error", err["msg"])),
    }
    describe = messages.get(kind)
    return field, describe() if describe else f"{err['msg']}, got {_show(value)}"


def _cross_check(s: Scenario) -> list[tuple[str, str]]:
    """Checks that span several sections of the file."""
    problems: list[tuple[str, str]] = []
    stations, products = set(s.stations), set(s.products)
    for name, station in s.stations.items():
        if station.dispatch not in RULES:
            problems.append(
                (
                    f"stations.{name}.dispatch",
                    f"unknown rule {station.dispatch!r}; use one of {', '.join(sorted(RULES))}",
                )
            )
    for name, product in s.products.items():
        for i, op in enumerate(product.route):
            if op.station not in stations:
                problems.append(
                    (
                        f"products.{name}.route[{i}].station",
                        f"no station named {op.station!r} (stations: {', '.join(sorted(stations))})",
                    )
                )
    rel = s.release
    if (rel.interarrival is None) == (rel.orders is None):
        problems.append(
            ("release", "give exactly one of 'interarrival' (a stream of jobs) or 'orders' (an order book)")
        )
    if rel.interarrival is not None:
        if not rel.product_mix:
            problems.append(("release.product_mix", "required with 'interarrival' (e.g. { A = 0.7, B = 0.3 })"))
        if s.scenario.horizon is None:
            problems.append(("scenario.horizon", "required when jobs arrive as a stream"))
    if s.scenario.warmup == "auto" and s.scenario.horizon is None:
        problems.append(("scenario.warmup", '"auto" needs a horizon (the run lasts 2 × horizon)'))
    for product, share in rel.product_mix.items():
        if product not in products:
            problems.append((f"release.product_mix.{product}", f"no product named {product!r}"))
        if share < 0:
            problems.append((f"release.product_mix.{product}", f"must be ≥ 0, got {share}"))
    if rel.product_mix and not math.isclose(sum(rel.product_mix.values()), 1.0, abs_tol=1e-6):
        problems.append(("release.product_mix", f"shares must sum to 1, got {sum(rel.product_mix.values()):g}"))
    problems += _check_mechanisms(s)
    seen: set[str] = set()
    for i, order in enumerate(rel.orders or ()):
        if order.product not in products:
            problems.append((f"release.orders[{i}].product", f"no product named {order.product!r}"))
        if order.id in seen:
            problems.append((f"release.orders[{i}].id", f"duplicate order id {order.id!r}"))
        seen.add(order.id)
    return problems


def components(s: Scenario) -> dict[str, str]:
    """Component product -> the assembly station whose kits consume it (validation keeps it unique)."""
    return {component: station for component, stations in _kit_stations(s).items() for station in stations[:1]}


def _kit_stations(s: Scenario) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for product in s.products.values():
        for op in product.route:
            for component in op.kit or {}:
                if op.station not in found.setdefault(component, []):
                    found[component].append(op.station)
    return found


def _check_mechanisms(s: Scenario) -> list[tuple[str, str]]:
    """Names that must refer to something declared elsewhere, and combinations that cannot work."""
    problems: list[tuple[str, str]] = []
    calendars, crews, stations = set(s.calendars), set(s.crews), set(s.stations)
    if s.release.calendar is not None and s.release.calendar not in calendars:
        problems.append(("release.calendar", f"no calendar named {s.release.calendar!r}"))
    if s.scenario.calendar is not None and s.scenario.calendar not in calendars:
        problems.append(("scenario.calendar", f"no calendar named {s.scenario.calendar!r}"))
    for name, spec in s.calendars.items():
        if not Calendar(spec, s.scenario.time_unit).intervals:
            problems.append((f"calendars.{name}", "has no working time (no days, or breaks cover every shift)"))
    visiting: dict[str, set[str]] = {name: set() for name in s.stations}
    for product, spec in s.products.items():
        for op in spec.route:
            visiting.setdefault(op.station, set()).add(product)
    for name, st in s.stations.items():
        where = f"stations.{name}"
        if st.calendar is not None and st.calendar not in calendars:
            problems.append((f"{where}.calendar", f"no calendar named {st.calendar!r}"))
        for section, spec in (("failures", st.failures), ("maintenance", st.maintenance)):
            if spec is not None and spec.crew is not None and spec.crew not in crews:
                problems.append(
                    (f"{where}.{section}.crew", f"no crew named {spec.crew!r} (declare [crews.{spec.crew}])")
                )
        if st.setup is not None:
            for product in sorted(visiting.get(name, ())):
                if product not in st.setup.families:
                    problems.append((f"{where}.setup.families", f"product {product!r} visits {name} but has no family"))
            for product in st.setup.families:
                if product not in s.products:
                    problems.append((f"{where}.setup.families.{product}", f"no product named {product!r}"))
            for origin, target in st.setup.missing_pairs():
                problems.append((f"{where}.setup.matrix", f"no change-over time from family {origin!r} to {target!r}"))
        assembles = any(op.kit for spec in s.products.values() for op in spec.route if op.station == name)
        if st.batch is not None and assembles:
            problems.append((f"{where}.batch", "a batch station cannot also assemble kits"))
        if st.batch is not None and st.buffer is not None and st.buffer < st.batch.max:
            problems.append(
                (f"{where}.buffer", f"a batch station needs buffer ≥ batch.max ({st.batch.max}), got {st.buffer}")
            )
        for kind in st.quality.types.values() if st.quality else ():
            if kind.driver is not None and kind.driver not in st.parameters:
                problems.append((f"{where}.quality.types", f"driver {kind.driver!r} is not a parameter of {name}"))
        if st.inspection is not None and st.inspection.rework is not None:
            if st.inspection.rework not in stations:
                problems.append((f"{where}.inspection.rework", f"no station named {st.inspection.rework!r}"))
            if st.inspection.rework_time is None:
                problems.append((f"{where}.inspection.rework_time", "required with rework"))
    units: dict[str, tuple[str, str]] = {}
    for name, st in s.stations.items():
        for param, p in st.parameters.items():
            if param in units and units[param][0] != p.unit:
                other = units[param][1]
                problems.append(
                    (
                        f"stations.{name}.parameters.{param}.unit",
                        f"{p.unit!r} differs from {other}'s {units[param][0]!r}",
                    )
                )
            units.setdefault(param, (p.unit, name))
    for product, spec in s.products.items():
        for i, op in enumerate(spec.route):
            for component, count in (op.kit or {}).items():
                field = f"products.{product}.route[{i}].kit.{component}"
                if component not in s.products:
                    problems.append((field, f"no product named {component!r}"))
                elif component == product:
                    problems.append((field, "a product cannot be a component of itself"))
                if count < 1:
                    problems.append((field, f"must be ≥ 1, got {count}"))
    cycle = _kit_cycle(s)
    if cycle:
        problems.append((f"products.{cycle[0]}", f"kits form a cycle: {' → '.join(cycle)} (each needs the next)"))
    for component, kit_stations in _kit_stations(s).items():
        if component in s.release.product_mix:
            problems.append((f"release.product_mix.{component}", _component_message(component, s)))
        if len(kit_stations) > 1:
            for product, spec in s.products.items():
                for i, op in enumerate(spec.route):
                    if component in (op.kit or {}) and op.station != kit_stations[0]:
                        problems.append(
                            (
                                f"products.{product}.route[{i}].kit.{component}",
                                f"{component} already feeds assembly station {kit_stations[0]}; a component may "
                                "feed one assembly station",
                            )
                        )
        for i, order in enumerate(s.release.orders or ()):
            if order.product == component:
                problems.append((f"release.orders[{i}].product", _component_message(component, s)))
    if s.transport is not None:
        for i, route in enumerate(s.transport.routes):
            for end in ("origin", "destination"):
                if getattr(route, end) not in stations:
                    problems.append((f"transport.routes[{i}].{end}", f"no station named {getattr(route, end)!r}"))
    for i, fault in enumerate(s.faults):
        if fault.station not in stations:
            problems.append((f"faults[{i}].station", f"no station named {fault.station!r}"))
        elif fault.parameter is not None and fault.parameter not in s.stations[fault.station].parameters:
            problems.append((f"faults[{i}].parameter", f"{fault.station} has no parameter {fault.parameter!r}"))
        elif isinstance(fault.machine, int) and fault.machine >= s.stations[fault.station].machines:
            count = s.stations[fault.station].machines
            problems.append((f"faults[{i}].machine", f"{fault.station} has {count} machine(s): use 0 to {count - 1}"))
    names = [fault.name for fault in s.faults]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append((f"faults[{i}].name", f"duplicate fault name {name!r}"))
    if s.costs is not None:
        problems += s.costs.problems(s.stations)
    return problems + sequence_problems(s)


def _component_message(component: str, s: Scenario) -> str:
    parents = sorted(p for p, spec in s.products.items() for op in spec.route if component in (op.kit or {}))
    return (
        f"{component!r} is a kit component of {', '.join(parents)}: it is released with each of them and cannot be "
        "released on its own"
    )


def _kit_cycle(s: Scenario) -> list[str]:
    """A cycle of products each needing the next as a kit component (empty if there is none)."""
    needs = {p: [c for op in spec.route for c in (op.kit or {}) if c in s.products] for p, spec in s.products.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(product: str, path: list[str]) -> list[str]:
        state[product] = 1
        for component in needs[product]:
            if state.get(component) == 1:
                return [*path[path.index(component) :], component] if component in path else [product, component]
            if component not in state:
                found = visit(component, [*path, component])
                if found:
                    return found
        state[product] = 2
        return []

    for product in s.products:
        if product not in state:
            found = visit(product, [product])
            if found:
                return found
    return []
