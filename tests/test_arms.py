"""Randomised arms and the two-group Fisher endpoint.

Fisher decisions are checked against scipy's ``fisher_exact``; exact power
against an enumeration of every multinomial outcome written here from the
scenario's numbers alone; simulated values against the exact ones within
4 Monte Carlo standard errors.
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from trialsim.exact.pathway import exact_operating_characteristics
from trialsim.model.draws import draw_patients, null_response_rate
from trialsim.model.plan import compile_plan
from trialsim.model.simulation import simulate_worlds
from trialsim.planning.summary import summarise
from trialsim.rules.fisher import (
    CountComparison,
    critical_responders,
    fisher_rejection_probability,
    fisher_rejects,
)
from trialsim.run.runner import run_trials
from trialsim.scenario.problems import ScenarioError

REPLICATES = 4000


def randomised(patients: int = 60, ratio: tuple[int, int] = (1, 1)) -> dict:
    """Two arms: VK2 then VK2 continued, or VK2 then VK2 + D3; D3 compared by Fisher."""
    stage = {"weeks": 16, "dropout": 0.2, "not_evaluable": 0.1}
    return {
        "name": "arms",
        "enrollment": {"patients": patients, "accrual": {"rate_per_month": 3.0}},
        "arms": [
            {"id": "control", "first_stage": "vk2_c", "ratio": ratio[0]},
            {"id": "d3", "first_stage": "vk2_e", "ratio": ratio[1]},
        ],
        "stages": [
            {**stage, "id": "vk2_c", "response": 0.2, "next_on_failure": "late"},
            {**stage, "id": "late", "response": 0.15, "entry": 0.8},
            {**stage, "id": "vk2_e", "response": 0.2, "next_on_failure": "vk2_d3"},
            {**stage, "id": "vk2_d3", "response": 0.45, "entry": 0.8},
        ],
        "endpoints": [
            {
                "id": "d3_effect",
                "stage": "vk2_d3",
                "versus": ["late"],
                "rule": {"test": "fisher", "alpha": 0.1},
            },
            {
                "id": "overall",
                "stages": ["vk2_e", "vk2_d3"],
                "versus": ["vk2_c", "late"],
                "population": "entered",
                "rule": {"test": "fisher", "alpha": 0.1},
            },
        ],
        "simulation": {"replicates": REPLICATES, "seed": 11},
    }


def problems(load_dict, scenario) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        load_dict(scenario)
    return [(p.key, p.rule) for p in info.value.problems]


# ------------------------------------------------------------------ validation


def test_randomised_scenario_loads_and_compiles(load_dict):
    plan = compile_plan(load_dict(randomised(ratio=(2, 1))).spec)
    assert [(a.id, plan.stages[a.first_stage].id, a.share) for a in plan.arms] == [
        ("control", "vk2_c", pytest.approx(2 / 3)),
        ("d3", "vk2_e", pytest.approx(1 / 3)),
    ]
    assert plan.endpoints[0].compares_arms
    assert isinstance(plan.endpoints[0].decision, CountComparison)  # no one-group p0


REMOVE = object()


@pytest.mark.parametrize(
    "where, value, expected",
    [
        (("arms", 1, "first_stage"), "nowhere", ("arms.1.first_stage", "unknown_stage")),
        (("arms", 1, "id"), "control", ("arms.1.id", "duplicate_id")),
        (("arms", 1, "first_stage"), "vk2_c", ("arms.1.first_stage", "shared_first_stage")),
        (("arms", 1, "first_stage"), "late", ("arms.1.first_stage", "routed_first_stage")),
        (("arms", 1, "ratio"), 0, ("arms.1.ratio", "greater_than_equal")),
        (("stages", 2, "max_entries"), 10, ("stages.2.max_entries", "first_stage_cap")),
        (("arms", 1), REMOVE, ("stages.2.id", "unreachable")),
        (("endpoints", 0, "versus"), REMOVE, ("endpoints.0", "versus_needed")),
        (("endpoints", 0, "versus"), ["vk2_d3"], ("endpoints.0.versus", "groups_share_patients")),
        (("endpoints", 0, "versus"), ["nowhere"], ("endpoints.0.versus", "unknown_stage")),
        (("endpoints", 1, "versus"), ["late", "vk2_c"], ("endpoints.1.versus", "not_a_path")),
        (
            ("endpoints", 0, "rule"),
            {"test": "exact_binomial", "p0": 0.1},
            ("endpoints.0.versus", "versus_without_fisher"),
        ),
    ],
)
def test_arm_and_comparison_rules(load_dict, where, value, expected):
    scenario = randomised()
    *parents, last = where
    container = scenario
    for key in parents:
        container = container[key]
    if value is REMOVE:
        del container[last]
    else:
        container[last] = value
    assert expected in problems(load_dict, scenario)


def test_comparison_needs_two_arms(load_dict):
    scenario = randomised()
    del scenario["arms"]
    scenario["stages"] = scenario["stages"][:2]
    scenario["endpoints"] = [
        {"id": "e", "stage": "late", "versus": ["vk2_c"], "rule": {"test": "fisher"}}
    ]
    assert ("endpoints.0.versus", "groups_share_patients") in problems(load_dict, scenario)


def test_null_world_gives_the_experimental_group_the_control_rate(load_dict):
    plan = compile_plan(load_dict(randomised()).spec)
    null = {stage.id: stage.null_response for stage in plan.stages}
    # Controls keep their rates as written; experimental stages take the control's.
    assert null == {"vk2_c": 0.2, "late": 0.15, "vk2_e": 0.2, "vk2_d3": 0.15}


# ----------------------------------------------------------- randomisation


def test_allocation_follows_the_ratio(load_dict):
    plan = compile_plan(load_dict(randomised(patients=90, ratio=(2, 1))).spec)
    counts = [simulate_worlds(plan, draw_patients(plan, 3, r), [plan_rates(plan)])[0].arm
              for r in range(300)]  # fmt: skip
    arms = np.concatenate(counts)
    share = float((arms == 0).mean())
    se = math.sqrt((2 / 3) * (1 / 3) / arms.size)
    assert abs(share - 2 / 3) < 4 * se
    for outcome_arm in counts:  # every patient is in exactly one arm's first stage
        assert set(np.unique(outcome_arm)) <= {0, 1}


def plan_rates(plan) -> np.ndarray:
    return np.array([stage.response for stage in plan.stages])


def test_an_arm_stopped_at_its_interim_receives_no_more_patients(load_dict):
    scenario = randomised(patients=200)
    scenario["stages"][2]["response"] = 0.0
    scenario["endpoints"].append(
        {
            "id": "vk2_e_simon",
            "stage": "vk2_e",
            "rule": {"test": "simon", "p0": 0.1, "r1": 0, "n1": 5, "r": 3, "n": 20},
        }
    )
    plan = compile_plan(load_dict(scenario).spec)
    for replicate in range(10):
        draws = draw_patients(plan, 5, replicate)
        (outcome,) = simulate_worlds(plan, draws, [plan_rates(plan)])
        assert outcome.stopped_early[2]
        stop_week = np.nanmax(outcome.exit_week[2])
        later = draws.registration_week > stop_week
        assert np.all(outcome.arm[later] == 0), "after the stop everyone goes to the open arm"
        fast = outcome
        (plain,) = simulate_worlds(plan, draws, [plan_rates(plan)], observe_all=True)
        np.testing.assert_array_equal(fast.arm, plain.arm)
        np.testing.assert_array_equal(fast.entry_week, plain.entry_week)


def test_cohort_and_event_paths_agree_with_arms(load_dict):
    plan = compile_plan(load_dict(randomised()).spec)
    rates = (plan_rates(plan), null_response_rate(plan))
    for replicate in range(20):
        draws = draw_patients(plan, 2, replicate)
        fast = simulate_worlds(plan, draws, rates)
        plain = simulate_worlds(plan, draws, rates, observe_all=True)
        for a, b in zip(fast, plain, strict=True):
            np.testing.assert_array_equal(a.arm, b.arm)
            np.testing.assert_array_equal(a.entry_week, b.entry_week)
            np.testing.assert_array_equal(a.responded, b.responded)


# ------------------------------------------------------ common random numbers


def test_patients_draws_do_not_depend_on_the_number_of_patients(load_dict):
    small = compile_plan(load_dict(randomised(patients=20), "small.yaml").spec)
    large = compile_plan(load_dict(randomised(patients=45), "large.yaml").spec)
    a, b = draw_patients(small, 9, 4), draw_patients(large, 9, 4)
    for name in ("registration_week", "subgroup", "arm_uniform", "screen_failures"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name)[:20])
    for name in ("stay_weeks", "evaluable", "response_uniform", "accepts_entry"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name)[:, :20])


def test_a_stages_draws_do_not_depend_on_other_stages(load_dict):
    full = randomised()
    fewer = copy.deepcopy(full)
    fewer["stages"][0].pop("next_on_failure")
    fewer["stages"].pop(1)
    fewer["stages"][1]["null_response"] = 0.2
    fewer["endpoints"] = [
        {"id": "d3", "stage": "vk2_d3", "versus": ["vk2_c"], "rule": {"test": "fisher"}}
    ]
    a = draw_patients(compile_plan(load_dict(full, "full.yaml").spec), 9, 1)
    b = draw_patients(compile_plan(load_dict(fewer, "fewer.yaml").spec), 9, 1)
    np.testing.assert_array_equal(a.response_uniform[[0, 2, 3]], b.response_uniform)
    np.testing.assert_array_equal(a.stay_weeks[[0, 2, 3]], b.stay_weeks)
    np.testing.assert_array_equal(a.registration_week, b.registration_week)


# ------------------------------------------------------------ Fisher's test


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 30),
    st.integers(0, 30),
    st.data(),
    st.sampled_from([0.01, 0.025, 0.05, 0.1, 0.2]),
)
def test_fisher_decisions_equal_scipy(a, b, data, alpha):
    x = data.draw(st.integers(0, a))
    y = data.draw(st.integers(0, b))
    p_value = stats.fisher_exact([[x, a - x], [y, b - y]], alternative="greater").pvalue
    assert bool(fisher_rejects(x, a, y, b, alpha)) == (p_value <= alpha * (1 + 1e-9))


def test_fisher_table_reject_region_is_upward_closed():
    critical = critical_responders(12, 9, 0.05)
    for total in range(22):
        decisions = [bool(fisher_rejects(x, 12, total - x, 9, 0.05))
                     for x in range(max(0, total - 9), min(12, total) + 1)]  # fmt: skip
        assert decisions == sorted(decisions), "once x rejects, larger x rejects too"
        first = max(0, total - 9) + decisions.count(False)
        assert critical[total] == (first if True in decisions else 13)


def test_fisher_power_equals_enumeration_with_scipy():
    a, b, pe, pc = 14, 11, 0.55, 0.2
    expected = sum(
        stats.binom.pmf(x, a, pe) * stats.binom.pmf(y, b, pc)
        for x in range(a + 1)
        for y in range(b + 1)
        if stats.fisher_exact([[x, a - x], [y, b - y]], alternative="greater").pvalue <= 0.05
    )
    assert fisher_rejection_probability(a, b, pe, pc, 0.05) == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- exact power


def small_trial(patients: int) -> dict:
    """One stage per arm, 2:1, dropout and non-evaluable patients."""
    return {
        "name": "small",
        "enrollment": {"patients": patients, "accrual": {"rate_per_month": 3.0}},
        "arms": [
            {"id": "d3", "first_stage": "vk2_d3", "ratio": 2},
            {"id": "vk2", "first_stage": "vk2", "ratio": 1},
        ],
        "stages": [
            {"id": "vk2", "weeks": 16, "response": 0.15, "dropout": 0.25},
            {"id": "vk2_d3", "weeks": 16, "response": 0.5, "not_evaluable": 0.2},
        ],
        "endpoints": [
            {
                "id": "d3",
                "stage": "vk2_d3",
                "versus": ["vk2"],
                "rule": {"test": "fisher", "alpha": 0.1},
            }
        ],
    }


def enumerated_rejection(patients: int, experimental: float, control: float) -> float:
    """P(reject) summed over every multinomial outcome of ``small_trial``, with scipy."""
    share_e, share_c = 2 / 3, 1 / 3
    categories = [
        share_e * 0.8 * experimental,  # experimental, evaluable responder
        share_e * 0.8 * (1 - experimental),
        share_c * 0.75 * control,  # control: dropout 0.25
        share_c * 0.75 * (1 - control),
    ]
    categories.append(1 - sum(categories))
    total = 0.0
    for e1, e0, c1, c0 in itertools.product(range(patients + 1), repeat=4):
        if e1 + e0 + c1 + c0 > patients:
            continue
        table = [[e1, e0], [c1, c0]]
        if stats.fisher_exact(table, alternative="greater").pvalue <= 0.1 * (1 + 1e-9):
            counts = [e1, e0, c1, c0, patients - e1 - e0 - c1 - c0]
            total += stats.multinomial.pmf(counts, patients, categories)
    return total


def test_exact_power_and_type1_error_equal_multinomial_enumeration(load_dict):
    plan = compile_plan(load_dict(small_trial(9)).spec)
    endpoint = plan.endpoints[0]
    power = exact_operating_characteristics(plan, endpoint, plan_rates(plan))
    type1 = exact_operating_characteristics(plan, endpoint, null_response_rate(plan))
    assert power is not None and type1 is not None
    assert power.rejection == pytest.approx(enumerated_rejection(9, 0.5, 0.15), rel=1e-9)
    assert type1.rejection == pytest.approx(enumerated_rejection(9, 0.15, 0.15), rel=1e-9)
    assert power.success_rate == pytest.approx(0.5 - 0.15)


def within(simulated: float, exact: float, se: float, what: str) -> None:
    assert abs(simulated - exact) <= 4 * se + 1e-12, f"{what}: {simulated} vs {exact} ± 4×{se}"


def test_simulated_comparison_agrees_with_exact(load_dict):
    result = run_trials(load_dict(randomised()), jobs=1)
    summary = summarise(result).to_dict()
    for endpoint_id in ("d3_effect", "overall"):
        e = summary["endpoints"][endpoint_id]
        within(e["power"], e["power_exact"], e["power_se"], f"{endpoint_id} power")
        within(e["type1_error"], e["type1_error_exact"], e["type1_error_se"], "type I error")
        within(e["evaluable_mean"], e["evaluable_mean_exact"], e["evaluable_mean_se"], "n")
        within(e["estimate_bias"], 0.0, e["estimate_bias_se"], f"{endpoint_id} bias")
        assert e["ci_coverage"] is None
        assert 0.1 < e["power"] < 0.99 and e["type1_error"] < 0.1 + 4 * e["type1_error_se"]
    assert summary["endpoints"]["d3_effect"]["true_rate_mean"] == pytest.approx(0.45 - 0.15)
    arms = summary["enrollment"]["arms"]
    assert arms["control"]["registered"]["mean"] + arms["d3"]["registered"]["mean"] == 60
