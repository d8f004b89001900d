"""The products section of a run report: per-product throughput, cycle time and tardiness with their intervals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from reports.figures import OKABE_ITO, WIDTH, label, png, style
from reports.model import Figure, Section, Table
from reports.sections import CI_HEADER
from reports.time_views import skipped_figure
from sim.kpi_registry import PRODUCT_KPIS, kpi_spec

# ---------------------------------------------------------------- products


def products_section(summary: Mapping[str, Any]) -> Section | None:
    """Per-product KPIs (table with CIs) and bars of throughput and mean cycle time; None for fewer than 2 products."""
    products = summary.get("products")
    if not isinstance(products, Mapping) or len(products) < 2:
        return None
    unit = (summary.get("scenario") or {}).get("time_unit", "min")
    names = list(products)
    extra = [k for e in products.values() for k in (e or {}) if k not in PRODUCT_KPIS]
    kpis = [k for k in (*PRODUCT_KPIS, *dict.fromkeys(extra)) if any(k in (e or {}) for e in products.values())]
    specs = {k: kpi_spec(k, unit) for k in kpis}

    def shown(entry: Mapping[str, Any] | None, key: str, kpi: str) -> float | None:
        value = (entry or {}).get(key)
        return specs[kpi].display(value, unit) if value is not None else None

    means = Table(
        ["product", *(specs[k].label for k in kpis)],
        [[p, *(shown((products[p] or {}).get(k), "mean", k) for k in kpis)] for p in names],
        units=["", *(specs[k].display_unit(unit) for k in kpis)],
        caption="KPIs per product (means over replications; completed: the whole run, the others the window)",
        id="products",
    )
    detail = Table(
        ["product", "KPI", "unit", *CI_HEADER],
        [
            [p, specs[k].label, specs[k].display_unit(unit)]
            + [shown(products[p][k], key, k) for key in ("mean", "half_width", "low", "high")]
            + [(products[p][k] or {}).get("n")]
            for p in names
            for k in kpis
            if k in (products[p] or {})
        ],
        caption="KPIs per product with 95 % confidence intervals",
        id="product-kpis",
    )
    section = Section("products", "Products", tables=[means, detail])
    section.text.append(
        f"{len(names)} products. Throughput is shown per hour and shares in percent; whiskers and intervals are "
        "95 % confidence intervals over replications."
    )
    section.figures.append(_products_figure(products, names, unit))
    return section


def _products_figure(products: Mapping[str, Any], names: list[str], unit: str) -> Figure:
    panels = [k for k in ("throughput", "cycle_time_mean") if any(k in (products[p] or {}) for p in names)]
    if not panels:
        return skipped_figure("products", "Products", "the summary has no throughput or cycle time per product")
    y = np.arange(len(names))
    with style():
        fig, axes = plt.subplots(
            1, len(panels), figsize=(WIDTH, max(2.4, 0.42 * len(names) + 1.3)), sharey=True, layout="constrained"
        )
        axes = np.atleast_1d(axes)
        for ax, kpi, colour in zip(axes, panels, (OKABE_ITO[0], OKABE_ITO[1]), strict=False):
            spec = kpi_spec(kpi, unit)

            def value(p: str, key: str, spec=spec, kpi=kpi) -> float:
                v = spec.display(((products[p] or {}).get(kpi) or {}).get(key), unit)
                return np.nan if v is None else float(v)

            mean = np.array([value(p, "mean") for p in names])
            low, high = np.array([value(p, "low") for p in names]), np.array([value(p, "high") for p in names])
            ax.barh(y, np.nan_to_num(mean), height=0.62, color=colour)
            whisker = np.isfinite(mean) & np.isfinite(low) & np.isfinite(high) & (high > low)
            if whisker.any():
                err = np.vstack([np.clip(mean - low, 0, None), np.clip(high - mean, 0, None)])[:, whisker]
                ax.errorbar(mean[whisker], y[whisker], xerr=err, fmt="none", ecolor="#333333", capsize=3, lw=1)
            for yi, m in zip(y, mean, strict=True):
                if not np.isfinite(m):
                    ax.text(0, yi, " no value", va="center", fontsize=8, color="#555555")
            ax.set_xlabel(f"{spec.label.lower()} [{spec.display_unit(unit)}]")
            ax.set_xlim(left=0)
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, [label(p) for p in names])
        axes[0].invert_yaxis()
        image = png(fig)
    caption = "Bars: means over replications; whiskers: 95 % confidence intervals (where finite)."
    return Figure("products", "Throughput and cycle time per product", caption, image)
