"""The figures `latents evaluate` draws from per-row arrays: the latent map and window scores over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from scenarios.latents_figures import TimelinePanel, latent_map, score_timelines, subsample

PNG = b"\x89PNG\r\n\x1a\n"


def test_subsample_is_reproducible_sorted_and_keeps_small_sets_whole():
    assert np.array_equal(subsample(5, 10), np.arange(5))
    first, again = subsample(1000, 50, seed=3), subsample(1000, 50, seed=3)
    assert np.array_equal(first, again) and len(np.unique(first)) == 50 and np.all(np.diff(first) > 0)
    assert not np.array_equal(first, subsample(1000, 50, seed=4))


def test_latent_map_draws_one_panel_per_label_set(tmp_path: Path):
    rng = np.random.default_rng(0)
    n = 60
    labels = {
        "station": rng.choice(["printer", "placement", "reflow"], n),
        "product": rng.choice(["a", "b"], n),
        "fault": np.where(rng.random(n) < 0.8, "none", "reflow_thermocouple_drift"),
    }
    path = latent_map(rng.normal(size=(n, 2)), labels, tmp_path / "figures" / "latent_map.png", max_points=40)
    assert path == tmp_path / "figures" / "latent_map.png" and path.read_bytes().startswith(PNG)
    with Image.open(path) as image:
        assert image.width > 1.5 * image.height  # three panels side by side, not stacked
    only_normal = latent_map(np.zeros((3, 2)), {"fault": np.array(["none"] * 3)}, tmp_path / "normal.png")
    assert only_normal.read_bytes().startswith(PNG)


def test_score_timelines_draw_scores_threshold_and_faults(tmp_path: Path):
    time = np.arange(0.0, 600.0, 60.0)
    score = np.linspace(0.0, 3.0, len(time))
    gappy = np.r_[time[:5], time[5:] + 900.0]  # a night without windows in the middle
    one = score_timelines(
        [TimelinePanel("reflow", gappy, score, 2.0, ((120.0, 240.0, "drift"),))], tmp_path / "one.png"
    )
    assert one.read_bytes().startswith(PNG)
    panels = [
        TimelinePanel("printer", time, score, 2.5),
        TimelinePanel("reflow", time, score[::-1], 2.0, ((0, 60, "x"),)),
    ]
    many = score_timelines(panels, tmp_path / "many.png")
    with Image.open(one) as small, Image.open(many) as tall:
        assert tall.height > small.height
