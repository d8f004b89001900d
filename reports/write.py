"""Writing a report to a folder: ``report.html``, ``report.md`` with ``figures/*.png``, and ``summary.json``."""

from __future__ import annotations

from pathlib import Path

from reports.html import render_html
from reports.markdown import render_markdown
from reports.model import Report
from sim import files


def write_report(report: Report, out_dir: str | Path) -> list[Path]:
    """Write the report into ``out_dir`` (created if needed) and return the paths written.

    ``summary.json`` is the report's :meth:`~reports.model.Report.summary`: the data it was built from (for a run,
    the run's summary, so a report written into the run folder keeps every key of the run's ``summary.json``) plus a
    ``report`` entry with every table and figure. Files are replaced atomically.
    """
    out = Path(out_dir)
    summary = report.summary()  # validates unique section ids and figure names before anything is written
    written = [
        files.write_atomic(out / figure.file, lambda tmp, data=figure.png: tmp.write_bytes(data))
        for figure in report.figures()
        if figure.png is not None
    ]
    written.append(files.write_text(out / "report.html", render_html(report)))
    written.append(files.write_text(out / "report.md", render_markdown(report)))
    written.append(files.write_json(out / "summary.json", summary))
    return written
