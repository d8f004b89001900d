"""Reports of result folders, whatever produced them: a run, a what-if study, a sweep, an augmentation, a latents or a
surrogate evaluation, a set-point recommendation, or an optimisation.

``folder_report(folder)`` looks at what the folder holds (``whatif.parquet``, ``sweep.parquet``, a ``summary.json``
of ``"kind": "augment"``, ``"latents"``, ``"latents_recommend"``, ``"surrogate"`` or ``"optimize"`` (or holding an
optimisation's ``searches`` and ``verdict``), or a run's ``summary.json``)
and builds the matching report from the saved results only: nothing is simulated again. Both study reports open with a
``summary`` section (the best variant or point by the objective); the sections come from :mod:`reports.whatif` and
:mod:`reports.sweep`, the augmentation report's from :mod:`reports.augment`, the latent monitoring and set-point
reports' from :mod:`reports.latents`, the surrogate report's from :mod:`reports.surrogate`, the optimisation report's
from :mod:`reports.optimize`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from reports.augment import augment_report
from reports.latents import latents_report
from reports.latents_recommend import recommend_report
from reports.model import Report, ReportError, Reproducibility
from reports.optimize import optimize_report
from reports.run import read_summary, run_report
from reports.study_units import parse_objective
from reports.surrogate import surrogate_report
from reports.sweep import sweep_sections
from reports.whatif import whatif_sections

SWEEP_KPIS = ("throughput", "cycle_time_mean", "wip_mean", "late_share")


def whatif_report(folder: str | Path) -> Report:
    """The report of a what-if study saved in ``folder``."""
    folder = Path(folder)
    summary = read_summary(folder)
    if "variants" not in summary or "differences" not in summary:
        raise ReportError(f"{folder / 'summary.json'}: not the summary of a what-if study")
    name = (summary.get("scenario") or {}).get("name", folder.name)
    report = Report(f"What-if report: {name}", Reproducibility.of_summary(summary), data=summary)
    report.sections = whatif_sections(summary)
    return report


def sweep_report(folder: str | Path) -> Report:
    """The report of a sweep saved in ``folder`` (``sweep.parquet`` and ``summary.json``)."""
    folder = Path(folder)
    summary = read_summary(folder)
    try:
        table = pq.read_table(folder / "sweep.parquet")
    except OSError as exc:
        raise ReportError(f"{folder / 'sweep.parquet'}: cannot read it: {exc}") from None
    decisions = [d for d in summary.get("decisions", []) if d in table.column_names]
    kpis = [k for k in SWEEP_KPIS if k in table.column_names]
    name = (summary.get("scenario") or {}).get("name", folder.name)
    report = Report(f"Sweep report: {name}", Reproducibility.of_summary(summary), data=summary)
    _, target = parse_objective(str(summary.get("objective") or ""))
    if target in table.column_names and target not in kpis:
        kpis.insert(0, target)  # the objective's KPI is always shown
    report.sections = sweep_sections(table, decisions, kpis, summary)
    return report


def folder_report(folder: str | Path) -> Report:
    """The report of whatever result folder this is."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder")
    if (folder / "whatif.parquet").exists():
        return whatif_report(folder)
    if (folder / "sweep.parquet").exists():
        return sweep_report(folder)
    if (folder / "summary.json").exists():
        summary = read_summary(folder)
        if summary.get("kind") == "augment":
            return augment_report(summary)
        if summary.get("kind") == "latents":
            return latents_report(summary, folder)
        if summary.get("kind") == "latents_recommend":
            return recommend_report(summary)
        if summary.get("kind") == "surrogate":
            return surrogate_report(summary, folder)
        if summary.get("kind") == "optimize" or {"searches", "verdict"} <= summary.keys():
            return optimize_report(summary, folder)
    return run_report(folder)
