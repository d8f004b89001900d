"""Results -> figures and documents. Knows no simpy, no torch.

``run_report(folder)`` builds the report of a saved run, ``write_report(report, out_dir)`` writes ``report.html``,
``report.md`` (with ``figures/*.png``) and ``summary.json``; ``whatif_sections`` and ``sweep_sections`` build the
sections of studies. The report model (``Report``, ``Section``, ``Table``, ``Figure``) is in :mod:`reports.model`.
Names are imported lazily, so ``import reports`` does not load matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Figure": "reports.model",
    "Report": "reports.model",
    "ReportError": "reports.model",
    "Reproducibility": "reports.model",
    "Section": "reports.model",
    "Table": "reports.model",
    "format_number": "reports.model",
    "kpi_table_section": "reports.sections",
    "run_report": "reports.run",
    "write_report": "reports.write",
    "render_html": "reports.html",
    "render_markdown": "reports.markdown",
    "whatif_sections": "reports.whatif",
    "sweep_sections": "reports.sweep",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
