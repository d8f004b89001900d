"""Time views of a run report: throughput, WIP and buffer levels over time, off-shift periods."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from flow_helpers import PNG, drawn, load, three_station_line, tiny_summary, write_table

from reports.material_flow import material_flow_section
from reports.model import Section
from reports.time_views import _step_means, off_shift_periods, queue_section, throughput_section, wip_section
from sim.shifts import Calendar, CalendarSpec

FOLDER_SECTIONS = {
    "throughput": throughput_section,
    "wip": wip_section,
    "queues": queue_section,
    "material-flow": material_flow_section,
}


@pytest.fixture(scope="module")
def electronics(electronics_run: Path) -> tuple[Path, dict, dict, dict[str, Section]]:
    """The electronics_line run with every flow section built once."""
    summary, scenario = load(electronics_run)
    sections = {id: build(electronics_run, summary, scenario) for id, build in FOLDER_SECTIONS.items()}
    return electronics_run, summary, scenario, sections


def test_every_section_builds_with_png_figures(electronics):
    _, _, _, sections = electronics
    titles = {
        "throughput": "Throughput over time",
        "wip": "Work in process over time",
        "queues": "Buffer levels",
        "material-flow": "Material flow",
    }
    for id, section in sections.items():
        assert section.id == id and section.title == titles[id]
        figure = drawn(section)
        assert figure.png.startswith(PNG) and len(figure.png) > 10_000
        assert figure.caption
        json.dumps(section.summary(), allow_nan=False)  # summary.json stays strict JSON
    assert sections["wip"].figures[0].name == "wip"


def test_cumulative_completions_end_at_the_completed_count(electronics):
    folder, summary, _, sections = electronics
    data = drawn(sections["throughput"]).data
    assert data["replications"] == 2 and data["band"] == "min–max of 2 replications"
    jobs = pq.read_table(folder / "jobs.parquet", columns=["replication", "status"])
    done = pc.equal(jobs["status"].cast(pa.string()), "completed")
    per_rep = [
        pc.sum(pc.and_(done, pc.equal(jobs["replication"], r))).as_py()
        for r in pc.unique(jobs["replication"]).to_pylist()
    ]
    end = data["completed_at_end"]
    assert end["mean"] == pytest.approx(summary["kpis"]["completed"]["mean"])
    assert end["mean"] == pytest.approx(np.mean(per_rep))
    assert (end["low"], end["high"]) == (min(per_rep), max(per_rep))
    assert data["bin_hours"] == 1 and data["window_end"] == summary["scenario"]["warmup"] + 4000


def test_off_shift_periods_lie_where_the_calendar_is_off(electronics):
    folder, summary, scenario, sections = electronics
    end = summary["scenario"]["warmup"] + summary["scenario"]["horizon"]
    periods = off_shift_periods(folder, end)
    assert len(periods) >= 3
    calendar = Calendar(CalendarSpec(**scenario["calendars"]["two_shifts"]), "min")
    for a, b in periods:
        assert 0 <= a < b <= end
        for t in np.linspace(a, b, 7)[1:-1]:
            assert not calendar.is_on(t), (a, b, t)
    covered = lambda t: any(a <= t <= b for a, b in periods)  # noqa: E731
    for night in (0.0, 300.0, 1440 + 120, 2 * 1440 + 60):  # Monday 00:00-06:00 and the nights after
        assert covered(night), night
    assert not covered(1440 + 8 * 60) and not covered(2 * 1440 + 15 * 60)  # on shift in the day
    assert drawn(sections["wip"]).data["off_shift"] == [[a, b] for a, b in periods]


def test_wip_is_averaged_over_time(electronics):
    folder, summary, _, sections = electronics
    data = drawn(sections["wip"]).data
    assert data["replications"] == 2 and data["warmup"] == summary["scenario"]["warmup"]
    assert data["step"] == pytest.approx(data["window_end"] / 500)
    # the same time average over the measurement window gives the mean-WIP KPI
    wip = pq.read_table(folder / "wip.parquet")
    window = np.array([data["warmup"], data["window_end"]])
    means = []
    for r in (0, 1):
        mine = wip.filter(pc.equal(wip["replication"], r))
        means.append(_step_means(mine["time"].to_numpy(), mine["wip"].to_numpy(), window)[0])
    assert np.mean(means) == pytest.approx(summary["kpis"]["wip_mean"]["mean"], rel=1e-6)


def test_step_means():
    edges = np.array([0.0, 10, 20, 40])
    # 0 until 5, then 2 (the last value at a tie wins), 1 from 15, 3 from 30
    means = _step_means(np.array([5.0, 5, 15, 30]), np.array([7.0, 2, 1, 3]), edges)
    assert means == pytest.approx([1.0, 1.5, 2.0])
    assert _step_means(np.array([]), np.array([]), edges).tolist() == [0.0, 0.0, 0.0]


def test_queues_stay_within_finite_buffers(electronics):
    _, _, scenario, sections = electronics
    peaks = drawn(sections["queues"]).data["peak_mean_queue"]
    assert set(peaks) == set(scenario["stations"])
    for station, peak in peaks.items():
        buffer = scenario["stations"][station].get("buffer")
        assert peak >= 0
        if buffer is not None:
            assert peak <= buffer + 1e-9, station


def test_queue_levels_are_time_averages_per_hour(tmp_path):
    scenario = three_station_line(tmp_path)
    section = queue_section(tmp_path, tiny_summary(horizon=120.0), scenario)
    data = drawn(section).data
    assert data["bin_hours"] == 1
    # a: job 1 waits 5 -> 10 in both replications; b: in replication 1 job 1 waits from 30 to the end (120)
    assert data["peak_mean_queue"]["a"] == pytest.approx(5 / 60)
    assert data["peak_mean_queue"]["b"] == pytest.approx((0 + 60) / 60 / 2)
    assert data["peak_mean_queue"]["c"] == 0


def test_throughput_bins_widen_on_long_runs(tmp_path):
    three_station_line(tmp_path)
    data = drawn(throughput_section(tmp_path, tiny_summary(horizon=60_000.0), {})).data
    assert data["bin_hours"] == 3  # 1000 hours in at most 400 bins
    assert data["completed_at_end"] == {"mean": 1.5, "low": 1.0, "high": 2.0}


def test_single_replication_has_no_band(tmp_path):
    three_station_line(tmp_path)
    write_table(tmp_path, "wip", {"replication": [0, 0, 0, 0], "time": [0.0, 5, 10, 45], "wip": [1, 2, 1, 0]})
    summary = tiny_summary(wip_mean=0.9) | {"replications": 1}
    summary["scenario"]["warmup"] = "auto"  # chosen by MSER-5: the mean over replications is shown
    summary["kpis"]["warmup"] = {"mean": 12.5}
    figure = drawn(wip_section(tmp_path, summary, {}))
    assert figure.data["replications"] == 1 and figure.data["band"] == ""
    assert figure.data["warmup"] == 12.5 and figure.data["window_end"] == 132.5
    assert "One replication" in figure.caption


def test_missing_tables_are_skipped_with_a_note(tmp_path):
    for id, build in FOLDER_SECTIONS.items():
        section = build(tmp_path, tiny_summary(), {})
        assert section.id == id
        (figure,) = section.figures
        assert figure.skipped and figure.note.startswith("skipped:")
    assert off_shift_periods(tmp_path, 100.0) == []


def test_off_shift_needs_half_of_the_machines(tmp_path):
    # three machines: two off from 10 to 20, one off from 15 to 30 -> at least two off from 10 to 20 (not 20-30)
    states = {
        "replication": [0] * 8,
        "station": ["a", "a", "b", "b", "c", "c", "c", "a"],
        "machine": [0, 0, 0, 0, 0, 0, 0, 0],
        "time": [0.0, 10, 10, 20, 0, 15, 30, 20],
        "state": ["busy", "off_shift", "off_shift", "busy", "busy", "off_shift", "busy", "busy"],
    }
    write_table(tmp_path, "states", states)
    assert off_shift_periods(tmp_path, 50.0) == [(10.0, 20.0)]
    for machine in (0, 1):  # five machines: three off from 15 to 20 only
        for key, value in (
            ("replication", 0),
            ("station", "d"),
            ("machine", machine),
            ("time", 0.0),
            ("state", "busy"),
        ):
            states[key].append(value)
    write_table(tmp_path, "states", states)
    assert off_shift_periods(tmp_path, 50.0) == [(15.0, 20.0)]
    assert off_shift_periods(tmp_path, 50.0, replication=1) == []
