"""The one registry of KPIs: name, human label, unit, description, direction and window of every KPI.

``kpi_spec(name)`` describes a KPI by its (dotted) name: ``throughput``, ``station.weld.utilisation`` and
``product.A.cycle_time_mean`` share the entry of their last part. Units are in the scenario's time unit and
currency; :meth:`KPISpec.display` converts a value to what a plant engineer reads: shares in percent, rates per
hour. The module is plain data (no NumPy, no simpy), so reports can use it.

``window`` says what a KPI counts: ``measured`` (the measurement window after the warm-up) or ``run`` (the whole
run, e.g. ``completed``: jobs completed from time 0 to the end, warm-up included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HOURS = {"s": 3600.0, "min": 60.0, "h": 1.0}  # time units per hour
NON_NEGATIVE_KINDS = ("share", "efficiency", "flag", "rate", "time", "jobs", "money", "money_rate")
PERCENT_KINDS = ("share", "efficiency", "flag", "ratio")


@dataclass(frozen=True)
class KPISpec:
    """What a KPI is. ``kind``: share (of jobs or time, in [0, 1]), efficiency (a ratio near 1 that may exceed it:
    OEE performance), ratio (may be negative), flag (0/1 per replication), rate (per time unit), time, jobs, money,
    money_rate (per hour)."""

    name: str
    label: str
    unit: str
    goal: str  # "max", "min" or "" (informational)
    description: str
    kind: str
    window: str = "measured"

    def display(self, value: float | None, time_unit: str = "min") -> float | None:
        """``value`` as shown in reports: shares × 100 (%), rates per hour; None for a missing or NaN value."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.kind in PERCENT_KINDS:
            return value * 100.0
        if self.kind == "rate":
            return value * HOURS.get(time_unit, 1.0)
        return value

    def display_unit(self, time_unit: str = "min") -> str:
        """The unit of :meth:`display`'s values."""
        if self.kind in PERCENT_KINDS:
            return "%"
        if self.kind == "rate" and time_unit in HOURS:
            return self.unit.rsplit("/", 1)[0] + "/h"
        return self.unit


# name: (label, unit template, goal, description, kind, window); {t} is the time unit, {c} the currency
_ENTRIES: dict[str, tuple[str, str, str, str, str, str]] = {
    "throughput": ("Throughput", "jobs/{t}", "max", "jobs completed per unit of time in the window", "rate", "m"),
    "cycle_time_mean": ("Mean cycle time", "{t}", "min", "mean release-to-completion time", "time", "m"),
    "cycle_time_p50": ("Median cycle time", "{t}", "min", "median cycle time", "time", "m"),
    "cycle_time_p95": ("Cycle time, 95th percentile", "{t}", "min", "95th percentile of cycle time", "time", "m"),
    "wip_mean": ("Mean WIP", "jobs", "min", "time-average number of jobs in the system", "jobs", "m"),
    "littles_law_gap": (
        "Little's law gap",
        "share",
        "",
        "(WIP − exit rate × time in system) / WIP; near 0 on long runs",
        "ratio",
        "m",
    ),
    "tardiness_mean": ("Mean tardiness", "{t}", "min", "mean tardiness of completed jobs", "time", "m"),
    "late_share": ("Late jobs", "share", "min", "share of completed jobs finished after their due date", "share", "m"),
    "makespan": ("Makespan", "{t}", "min", "first release to last completion of the order book", "time", "r"),
    "warmup": (
        "Warm-up",
        "{t}",
        "",
        'warm-up chosen by MSER-5 with warmup = "auto" (start of the window)',
        "time",
        "r",
    ),
    "deadlocked": (
        "Deadlocked",
        "share",
        "min",
        "the replication ended in a deadlock (1) or ran its full length (0)",
        "flag",
        "r",
    ),
    "deadlock_time": ("Deadlock time", "{t}", "", "when the replication deadlocked; NaN if it did not", "time", "r"),
    "released": ("Released", "jobs", "", "jobs released during the whole run", "jobs", "r"),
    "completed": ("Completed", "jobs", "", "jobs completed during the whole run", "jobs", "r"),
    "scrapped": ("Scrapped", "jobs", "min", "jobs scrapped during the whole run", "jobs", "r"),
    "consumed": ("Consumed in assemblies", "jobs", "", "components built into assemblies during the run", "jobs", "r"),
    "in_system": (
        "In system at the end",
        "jobs",
        "",
        "jobs in the system at the end: released − completed − scrapped − consumed",
        "jobs",
        "r",
    ),
    "scrap_rate": (
        "Scrap rate",
        "share",
        "min",
        "share of the jobs leaving in the window that were scrapped",
        "share",
        "m",
    ),
    "rework_rate": (
        "Rework rate",
        "share",
        "min",
        "share of the jobs leaving in the window that were reworked",
        "share",
        "m",
    ),
    "first_pass_yield": (
        "First-pass yield",
        "share",
        "max",
        "share of the jobs leaving in the window not scrapped, never reworked",
        "share",
        "m",
    ),
    "defective_share": (
        "Escaped defects",
        "share",
        "min",
        "share of completed jobs still carrying a defect (truth: escaped defects)",
        "share",
        "m",
    ),
    "utilisation": ("Utilisation", "share", "", "share of machine time busy", "share", "m"),
    "blocked": (
        "Blocked",
        "share",
        "min",
        "share of machine time holding a finished job (next buffer full)",
        "share",
        "m",
    ),
    "starved": ("Starved", "share", "", "share of machine time idle for lack of work", "share", "m"),
    "idle": (
        "Idle with work",
        "share",
        "",
        "share of machine time with work waiting that cannot start yet (batch, kit)",
        "share",
        "m",
    ),
    "setup": ("Set-up", "share", "min", "share of machine time changing over between product families", "share", "m"),
    "down": ("Down", "share", "min", "share of machine time failed (waiting for or under repair)", "share", "m"),
    "maintenance": ("Maintenance", "share", "", "share of machine time in preventive maintenance", "share", "m"),
    "off_shift": ("Off shift", "share", "", "share of machine time outside the shift calendar", "share", "m"),
    "queue_mean": ("Mean queue", "jobs", "min", "time-average number of jobs waiting in the buffer", "jobs", "m"),
    "wait_mean": (
        "Mean wait",
        "{t}",
        "min",
        "mean time from joining the queue to being taken by a machine",
        "time",
        "m",
    ),
    "availability": (
        "Availability",
        "share",
        "max",
        "ISO 22400 APT / PBT: production time / planned busy time (machine time − off shift − planned maintenance "
        "− starved − idle − blocked = busy + set-up + down)",
        "share",
        "m",
    ),
    "performance": (
        "Performance",
        "share",
        "max",
        "ISO 22400 effectiveness: nominal time of the operations ending in the window / production time",
        "efficiency",
        "m",
    ),
    "quality": (
        "Quality",
        "share",
        "max",
        "ISO 22400 quality ratio: share of the station's operations that created no defect, destroyed nothing",
        "share",
        "m",
    ),
    "oee": ("OEE", "share", "max", "ISO 22400 OEE index: availability × performance × quality", "efficiency", "m"),
    "bottleneck_sole": (
        "Sole bottleneck",
        "share",
        "",
        "share of the window the station is the sole momentary bottleneck",
        "share",
        "m",
    ),
    "bottleneck_shifting": (
        "Shifting bottleneck",
        "share",
        "",
        "share of the window the bottleneck shifts to or from the station",
        "share",
        "m",
    ),
    "active_period_mean": (
        "Mean active period",
        "{t}",
        "",
        "mean uninterrupted busy/setup/down/maintenance period",
        "time",
        "m",
    ),
    "cost_rate": (
        "Operating cost rate",
        "{c}/h",
        "min",
        "operating cost per hour of the window (the sum of the five below)",
        "money_rate",
        "m",
    ),
    "cost_per_job": (
        "Cost per job",
        "{c}/job",
        "min",
        "operating cost of the window / jobs completed in the window",
        "money",
        "m",
    ),
    "machine_cost_rate": (
        "Machine cost rate",
        "{c}/h",
        "min",
        "machines × cost per machine-hour, busy or not",
        "money_rate",
        "m",
    ),
    "buffer_cost_rate": (
        "Buffer cost rate",
        "{c}/h",
        "min",
        "places of finite buffers × cost per place-hour",
        "money_rate",
        "m",
    ),
    "wip_cost_rate": (
        "WIP holding cost rate",
        "{c}/h",
        "min",
        "time-average jobs in the system × holding cost per job-hour",
        "money_rate",
        "m",
    ),
    "scrap_cost_rate": (
        "Scrap cost rate",
        "{c}/h",
        "min",
        "jobs scrapped in the window × cost per scrapped job, per hour",
        "money_rate",
        "m",
    ),
    "maintenance_cost_rate": (
        "Maintenance cost rate",
        "{c}/h",
        "min",
        "preventive maintenances started in the window × cost per event, per hour",
        "money_rate",
        "m",
    ),
}
PRODUCT_KPIS = ("throughput", "cycle_time_mean", "cycle_time_p95", "tardiness_mean", "late_share", "completed")
COST_KPIS = tuple(name for name, entry in _ENTRIES.items() if entry[1].startswith("{c}"))
KNOWN_KPIS = tuple(_ENTRIES)


def kpi_spec(name: str, time_unit: str = "min", currency: str = "EUR") -> KPISpec:
    """The registry entry of a KPI by its (dotted) name; an unknown KPI gets its name as label and no unit."""
    base = name.rsplit(".", 1)[-1]
    entry = _ENTRIES.get(base)
    if entry is None:
        return KPISpec(base, base.replace("_", " "), "", "", "", "", "measured")
    label, unit, goal, description, kind, window = entry
    unit = unit.replace("{t}", time_unit).replace("{c}", currency)
    return KPISpec(base, label, unit, goal, description, kind, "measured" if window == "m" else "run")
