"""Checks of the synthetic rows in the augmentation report: fidelity, privacy (DCR) and the physics check.

Each function takes one entry of ``shopfloor augment evaluate``'s summary (``fidelity``, ``privacy``, ``physics``)
and returns a section; the numbers are computed by ``surrogates.fidelity``, ``surrogates.privacy`` and
``scenarios.defect_model``. Shares are shown in percent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.augment_figures import correlation_difference_figure, marginals_figure
from reports.model import Cell, Figure, Section, Table, format_number

METRICS = {"ks_complement": "KS", "tv_complement": "TV"}


def percent(value: Any) -> float | None:
    """A share (0.12) in percent (12.0); None where absent."""
    return None if value is None else 100.0 * float(value)


def number_text(value: Any) -> str:
    """A number as the report writes it (for sentences and captions)."""
    return format_number(value)


def _overview(fidelity: Mapping[str, Any]) -> Table:
    """Summary scores side by side: defect rows, real vs real (if present), all rows."""
    tables = {"defect rows": fidelity.get("defect_rows") or {}}
    if fidelity.get("reference"):
        tables["defect rows, real vs real"] = fidelity["reference"]
    tables["all rows"] = fidelity.get("all_rows") or {}
    metrics = [
        ("mean column score", "column_score", "1"),
        ("KS complement (continuous)", "ks_complement", "1"),
        ("TV complement (discrete)", "tv_complement", "1"),
        ("correlation score", ("correlation", "score"), "1"),
        ("two-sample AUC", ("two_sample", "auc"), "0.5"),
        ("two-sample AUC sd", ("two_sample", "auc_sd"), ""),
        ("two-sample rows per table", ("two_sample", "rows"), ""),
    ]
    rows: list[list[Cell]] = []
    for text, key, ideal in metrics:
        cells = [t.get(key) if isinstance(key, str) else (t.get(key[0]) or {}).get(key[1]) for t in tables.values()]
        rows.append([text, *cells, ideal])
    return Table(["metric", *tables, "ideal"], rows, caption="Fidelity scores", id="overview")


def _column_table(fidelity: Mapping[str, Any]) -> Table:
    """Per column: the metric, its score and the missing shares, for defect rows and all rows."""
    defect = {c["column"]: c for c in (fidelity.get("defect_rows") or {}).get("columns") or []}
    reference = {c["column"]: c for c in (fidelity.get("reference") or {}).get("columns") or []}
    every = {c["column"]: c for c in (fidelity.get("all_rows") or {}).get("columns") or []}
    header = [
        "column",
        "metric",
        "defect rows",
        *(["real vs real"] if reference else []),
        "missing real",
        "missing synthetic",
        "all rows",
        "missing real (all)",
        "missing synthetic (all)",
    ]
    units = ["", "", "", *([""] if reference else []), "%", "%", "", "%", "%"]
    rows: list[list[Cell]] = []
    for name in dict.fromkeys([*defect, *every]):
        d, a = defect.get(name) or {}, every.get(name) or {}
        ref = [(reference.get(name) or {}).get("score")] if reference else []
        rows.append(
            [
                name,
                METRICS.get(metric := d.get("metric") or a.get("metric") or "", metric),
                d.get("score"),
                *ref,
                percent(d.get("missing_real")),
                percent(d.get("missing_synth")),
                a.get("score"),
                percent(a.get("missing_real")),
                percent(a.get("missing_synth")),
            ]
        )
    caption = "Column fidelity (KS: 1 − Kolmogorov–Smirnov statistic, TV: 1 − total variation distance; 1 = identical)"
    return Table(header, rows, units, caption=caption, id="columns")


def fidelity_section(fidelity: Mapping[str, Any]) -> Section:
    """Score tables (defect rows, the real-vs-real reference where present, all rows), marginal plots and the
    correlation-difference heat map of ``summary["fidelity"]``."""
    defect = fidelity.get("defect_rows") or {}
    text = [
        f"The GAN of the {fidelity.get('regime', '?')} regime (first seed): synthetic defect rows against the real "
        "defect rows of the fresh test replications, and unconditioned samples against all real rows. Column scores "
        "are 1 − the Kolmogorov–Smirnov statistic (continuous) or 1 − the total variation distance (discrete): 1 is "
        "identical. The two-sample AUC is a classifier telling synthetic from real rows: 0.5 means it cannot."
    ]
    if fidelity.get("reference"):
        text.append(
            "'real vs real' compares the training replications' defect rows with the test replications': "
            "the scores a perfect generator could reach on these rows."
        )
    section = Section("fidelity", "Fidelity of the synthetic rows", text=text)
    if fidelity.get("marginals"):
        section.figures.append(
            Figure(
                "marginals",
                "Process parameters of defect rows, real and synthetic",
                "Densities on shared bins (0.5–99.5 % quantiles of both; tails fall into the end bins); dashed: "
                "the parameter's best value in the scenario.",
                png=marginals_figure(fidelity["marginals"]),
            )
        )
    correlation = defect.get("correlation") or {}
    if correlation.get("columns"):
        section.figures.append(
            Figure(
                "correlation-difference",
                "Correlation differences of defect rows",
                "Pearson correlation of real minus synthetic defect rows (pairwise-complete rows); red: higher in "
                f"the real rows, blue: higher in the synthetic ones; grey: undefined; correlation score "
                f"{number_text(correlation.get('score'))}.",
                png=correlation_difference_figure(correlation["columns"], correlation["real"], correlation["synth"]),
            )
        )
    section.tables = [_overview(fidelity), _column_table(fidelity)]
    return section


def privacy_section(privacy: Mapping[str, Any]) -> Section:
    """The distance-to-closest-record table of ``summary["privacy"]`` and one sentence on what it means."""
    ratio, copies = privacy.get("ratio"), privacy.get("exact_copies")
    if ratio is None:
        reading = "The ratio is undefined (the holdout's median distance is 0)."
    elif ratio < 0.8 or (copies or 0) > (privacy.get("holdout_exact_copies") or 0) + 0.01:
        reading = (
            "Synthetic rows lie closer to the training rows than fresh real rows do: the GAN copies or "
            "memorises part of its training data."
        )
    elif ratio > 1.5:
        reading = (
            "Synthetic rows lie farther from the training rows than fresh real rows do: no sign of copying, "
            "but also a sign that they are off the real rows' distribution (see Fidelity)."
        )
    else:
        reading = "Synthetic rows lie about as far from the training rows as fresh real rows do: no sign of copying."
    text = [
        "Distance to closest record: each synthetic row's distance to its nearest training row (standardised "
        "features), against the same for real holdout rows the GAN never saw. " + reading
    ]
    rows: list[list[Cell]] = [
        ["median distance, synthetic → training", privacy.get("dcr_synthetic"), "", "≈ holdout"],
        ["median distance, holdout → training", privacy.get("dcr_holdout"), "", "reference"],
        ["ratio synthetic / holdout", ratio, "", "≈ 1 or above"],
        ["exact copies, synthetic", percent(copies), "%", "≈ holdout"],
        ["exact copies, holdout", percent(privacy.get("holdout_exact_copies")), "%", "reference"],
        ["synthetic closer than the holdout's 5th percentile", percent(privacy.get("closer_share")), "%", "≈ 5 %"],
    ]
    table = Table(["measure", "value", "unit", "goal"], rows, caption="Privacy (DCR)", id="dcr")
    return Section("privacy", "Privacy", text=text, tables=[table])


def physics_section(physics: Mapping[str, Any]) -> Section:
    """Mean true defect probability of synthetic and real rows, and the refitted logit terms per station."""
    text = [
        "The simulator's true defect mechanism applied to the synthetic defect rows: a generator that has learnt "
        "why defects happen puts its defect rows where the true defect probability is as high as in real defect "
        "rows. Only a simulator knows this mechanism, so no peer without one can run this check. The logit's "
        "terms are also refitted per station on real negatives with real or with synthetic positives."
    ]
    rows: list[list[Cell]] = [
        ["synthetic defect rows", percent(physics.get("synthetic_defects")), percent(physics.get("relative_gap"))],
        ["real defect rows", percent(physics.get("real_defects")), None],
        ["all real rows", percent(physics.get("all_rows")), None],
    ]
    header = ["rows", "mean true defect probability", "gap to real defect rows (synthetic / real − 1)"]
    tables = [Table(header, rows, ["", "%", "%"], "True defect probability", "probability")]
    coefficients = [
        [c.get("station", ""), c.get("term", ""), c.get("true"), c.get("real"), c.get("synthetic")]
        for c in physics.get("coefficients") or []
    ]
    if coefficients:
        header = ["station", "term", "scenario value", "refitted on real rows", "refitted on synthetic rows"]
        tables.append(Table(header, coefficients, caption="Defect logit per station", id="coefficients"))
    return Section("physics", "Physics check", text=text, tables=tables)
