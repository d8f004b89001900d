"""Transport view: fleet utilisation, moves, move and wait times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mechanism_helpers import assert_complete, build, load, old_run, plain_run, row, table, write

from reports.model import Section
from reports.transport import transport_section


@pytest.fixture(scope="module")
def electronics(electronics_run: Path) -> tuple[dict, Section | None]:
    summary, scenario = load(electronics_run)
    return summary, transport_section(electronics_run, summary, scenario)


def test_a_plain_line_has_no_transport_section(tmp_path):
    assert build(transport_section, plain_run(tmp_path / "plain")) is None


def test_the_electronics_line_has_a_transport_section(electronics):
    assert_complete(electronics[1], "transport")


def test_old_runs_without_transports_are_skipped(tmp_path, electronics_run):
    assert build(transport_section, old_run(tmp_path / "old", electronics_run)) is None


def test_transport_utilisation_of_a_fleet(tmp_path):
    folder = plain_run(tmp_path / "agv", extra_scenario={"transport": {"default": 1.0, "fleet": 2}})
    write(
        folder,
        "transports",
        {
            "replication": pa.array([0, 0, 0], pa.int32()),
            "job": pa.array([0, 1, 2], pa.int64()),
            "origin": ["a", "a", "b"],
            "destination": ["b", "b", "a"],
            "request": [0.0, 2.0, 50.0],
            "pickup": [0.0, 5.0, 50.0],
            "arrive": [10.0, 25.0, 60.0],
            "vehicle": pa.array([0, 1, 0], pa.int16()),
        },
    )
    section = build(transport_section, folder)
    items = {r[0]: r[1] for r in table(section, "transport").rows}
    assert items["fleet utilisation"] == pytest.approx(20.0)  # 40 busy of 2 × 100
    assert items["moves per replication"] == 3
    assert items["mean move time"] == pytest.approx(40 / 3)
    assert items["mean wait for a transporter"] == pytest.approx(1.0)
    assert row(table(section, "pairs"), "a")["moves"] == 2


def test_transport_on_the_electronics_line(electronics_run, electronics):
    summary, section = electronics
    items = {r[0]: r[1] for r in table(section, "transport").rows}
    moves = pq.read_table(electronics_run / "transports.parquet", columns=["pickup"]).column("pickup").to_numpy()
    lo = summary["scenario"]["warmup"]
    counted = np.count_nonzero((moves >= lo) & (moves < lo + summary["scenario"]["horizon"]))
    assert items["moves per replication"] * 2 == counted
    assert items["transporters (fleet)"] == "unlimited" and "fleet utilisation" not in items
    assert items["mean move time"] == pytest.approx(0.3)  # the constant default travel time
