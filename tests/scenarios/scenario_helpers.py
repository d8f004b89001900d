"""Helpers of the experiments tests that are not fixtures."""

from __future__ import annotations

import re

from scenarios import catalog


def shortened_flow_line(horizon: float, warmup: float) -> str:
    """The bundled flow line's TOML text with a shorter horizon and warm-up (everything else as bundled)."""
    text = (catalog.library_dir() / "flow_line.toml").read_text(encoding="utf-8")
    text, n_horizon = re.subn(r"(?m)^horizon = .*$", f"horizon = {horizon}", text)
    text, n_warmup = re.subn(r"(?m)^warmup = .*$", f"warmup = {warmup}", text)
    assert n_horizon == n_warmup == 1, "the bundled flow_line.toml changed layout"
    return text
