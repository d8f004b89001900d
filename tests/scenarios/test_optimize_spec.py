"""The [optimize] section of a study: objectives, constraints, budget and decision variables, with clear errors."""

from __future__ import annotations

import pytest

from scenarios.optimize_spec import Constraint
from scenarios.study import load_study
from sim.errors import ScenarioError

BASE = """
[study]
name = "opt"
scenario = "line.toml"

[sweep.variables]
"stations.weld.machines" = { type = "int", low = 2, high = 3 }
"stations.weld.buffer" = { type = "int", low = 2, high = 15 }
"""

GOOD = """
[optimize]
objectives = ["max throughput", "min cycle_time_mean"]
budget = 300
replications = 3
initial_points = 20
reference = { throughput = 0.5, cycle_time_mean = 100 }

[[optimize.constraints]]
kpi = "late_share"
max = 0.05

[[optimize.constraints]]
inputs = { "stations.weld.machines" = 1.0, "stations.weld.buffer" = 0.1 }
max = 4
"""


def test_a_valid_section_with_the_sweeps_variables(write_study):
    study = load_study(write_study(BASE + GOOD))
    spec = study.spec.optimize
    assert list(study.decision_variables) == ["stations.weld.machines", "stations.weld.buffer"]
    assert spec.start_points(2) == 20 and len(spec.constraints) == 2
    budget = spec.constraints[1]
    assert budget.input_value({"stations.weld.machines": 3, "stations.weld.buffer": 10}) == pytest.approx(4.0)
    assert budget.holds(4.0) and not budget.holds(4.1) and spec.constraints[0].holds(0.01)


def test_own_variables_and_a_default_start(write_study):
    own = '\n[optimize.variables]\n"stations.drill.buffer" = { type = "int", low = 2, high = 9 }\n'
    text = BASE + GOOD.replace("initial_points = 20\n", "")
    with pytest.raises(ScenarioError, match=r"inputs\.stations\.weld\.machines.*not a decision variable"):
        load_study(write_study(text + own))
    study = load_study(write_study(text.split("[[optimize.constraints]]\ninputs")[0] + own))
    assert list(study.decision_variables) == ["stations.drill.buffer"]
    assert study.spec.optimize.start_points(1) == 10  # 10 per variable, at most half the budget (50 points)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("throughput", "thruput"), r"optimize\.objectives\[0\]"),
        (("initial_points = 20", "initial_points = 200"), "below the initial design"),
        (('kpi = "late_share"', 'kpi = "lateness"'), r"optimize\.constraints\[0\]\.kpi"),
        (("cycle_time_mean = 100 }", "wip_mean = 100 }"), "reference must give a value for each objective"),
        (("budget = 300", "budget = 300\nweights = [1.0]"), "weights has 1 entries for 2 objectives"),
        (("max = 0.05", "max = 0.05\ninputs = { x = 1.0 }"), "either kpi"),
        (("max = 0.05", ""), "needs max, min or both"),
        (('"min cycle_time_mean"', '"min throughput"'), "appears twice"),
    ],
)
def test_bad_sections_name_the_field(write_study, change, message):
    with pytest.raises(ScenarioError, match=message):
        load_study(write_study(BASE + GOOD.replace(*change)))


def test_without_any_decision_variables(write_study):
    no_sweep = BASE.split("[sweep.variables]")[0]
    with pytest.raises(ScenarioError, match="no decision variables"):
        load_study(write_study(no_sweep + GOOD.split("[[optimize.constraints]]\ninputs")[0]))


def test_constraint_bounds_are_checked():
    with pytest.raises(ValueError, match="above max"):
        Constraint(kpi="late_share", min=0.2, max=0.1)
