"""The true defect model applied to rows: it reproduces the simulator's recorded probabilities exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from scenarios import catalog
from scenarios.augment_data import load_operations, task_rows
from scenarios.defect_model import fault_free, physics_check, quality_stations, true_probability


@pytest.fixture(scope="module")
def electronics(electronics_data: Path) -> tuple[object, pa.Table]:
    scenario = catalog.load("electronics_line")
    card, table = load_operations(electronics_data)
    return scenario, task_rows(scenario, table, card)[1]


def test_oracle_equals_recorded_probability_on_fault_free_rows(electronics) -> None:
    scenario, table = electronics
    clean = fault_free(table)
    assert 0.8 < clean.mean() < 1.0  # the bundled line injects faults
    p = true_probability(scenario, table)
    recorded = table.column("defect_prob").to_numpy()
    np.testing.assert_allclose(p[clean], recorded[clean], rtol=1e-12, atol=1e-15)
    assert not np.allclose(p[~clean], recorded[~clean])  # sensor faults and degradations change the truth


def test_type_probabilities_add_up_to_the_defect_probability(electronics) -> None:
    scenario, table = electronics
    total = sum(
        true_probability(scenario, table, kind)
        for name in quality_stations(scenario)
        for kind in scenario.stations[name].quality.types
    )
    np.testing.assert_allclose(total, true_probability(scenario, table), rtol=1e-12)


def test_physics_check_of_real_defect_rows_has_no_gap(electronics) -> None:
    scenario, table = electronics
    y = table.column("defect").to_numpy(zero_copy_only=False)
    check = physics_check(scenario, table, y, table.filter(pa.array(y)))
    assert check.relative_gap == pytest.approx(0.0, abs=1e-12)
    assert check.real_defects > 3 * check.all_rows  # defect rows sit where the mechanism says
    by_term = {(c.station, c.term): c for c in check.coefficients}
    vacuum = by_term[("placement", "vacuum²")]
    assert vacuum.true == 1.0
    assert vacuum.real == pytest.approx(vacuum.synthetic) and 0.5 < vacuum.real < 1.6
