"""``trialsim.rules.binomial`` and ``trialsim.exact.pathway`` against independent calculations:
scipy's distributions, and brute-force enumeration of every joint patient outcome.

The brute force builds each patient's three possible results for an endpoint
(outside the denominator, failure, success) by walking the stage chain of SPEC §3
(``Oracle.paths`` in conftest), then enumerates all 3**k combinations of k
patients, applies the exact test to each, and sums. The number registered is
fixed, or min(patients, Poisson) from scipy when ``max_months`` can bind.
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
from scipy import stats

from trialsim.exact.pathway import (
    completion_probability,
    exact_operating_characteristics,
    rates_are_drawn,
    registrations_distribution,
)
from trialsim.model.draws import null_response_rate
from trialsim.model.plan import compile_plan
from trialsim.planning.summary import summarise
from trialsim.rules.binomial import (
    binomial_pmf,
    clopper_pearson_covers,
    critical_values,
    upper_tail,
)
from trialsim.run.runner import run_trials
from trialsim.scenario.problems import ScenarioError

from conftest import Oracle, critical_value

RULE_20 = {"test": "exact_binomial", "p0": 0.2, "alpha": 0.1}


# --- binomial building blocks ------------------------------------------------------------


def test_textbook_critical_value_n29_p005():
    """n = 29, p0 = 0.05, one-sided alpha = 0.05: reject with 5 or more responses."""
    assert stats.binom.sf(4, 29, 0.05) <= 0.05 < stats.binom.sf(3, 29, 0.05)
    assert int(critical_values(29, 0.05, 0.05)[29]) == 5


@pytest.mark.parametrize("p0", [0.05, 0.1, 0.2, 0.3, 0.5, 0.7])
@pytest.mark.parametrize("alpha", [0.01, 0.025, 0.05, 0.1, 0.2])
def test_critical_values_match_scipy(p0, alpha):
    table = critical_values(60, p0, alpha)
    assert table.shape == (61,)
    for n in range(61):
        c = int(table[n])
        assert c == critical_value(n, p0, alpha), (n, c)
        # The definition, stated directly (to rounding): c rejects, c - 1 does not.
        if c <= n:
            assert stats.binom.sf(c - 1, n, p0) <= alpha * (1 + 1e-9)
        if c >= 1:
            assert stats.binom.sf(c - 2, n, p0) > alpha * (1 - 1e-9)


def test_critical_value_at_an_exact_tie_rejects():
    # P(X >= 2 | 2, 0.1) = 0.01 exactly: "<= alpha" rejects with 2 of 2.
    assert int(critical_values(2, 0.1, 0.01)[2]) == 2
    assert int(critical_values(1, 0.05, 0.05)[1]) == 1


def test_critical_value_when_nothing_rejects():
    table = critical_values(3, 0.5, 0.05)
    # P(X = n | n, 0.5) = 0.5 ** n > 0.05 for n <= 4: no count rejects.
    assert list(table) == [1, 2, 3, 4]


def test_upper_tail_matches_scipy():
    n = np.arange(0, 40)
    for rate in [0.0, 1e-6, 0.05, 0.3, 0.5, 0.93, 1.0]:
        for x in range(-2, 43):
            got = upper_tail(np.full_like(n, x), n, rate)
            want = stats.binom.sf(x - 1, n, rate)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15, err_msg=f"x={x} p={rate}")


def test_binomial_pmf_matches_scipy():
    for trials in [0, 1, 7, 43, 120]:
        x = np.arange(trials + 1)
        for rate in [0.0, 0.01, 0.172, 0.5, 0.99, 1.0]:
            np.testing.assert_allclose(
                binomial_pmf(x, trials, rate),
                stats.binom.pmf(x, trials, rate),
                rtol=1e-10,
                atol=1e-300,
            )


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_clopper_pearson_coverage_matches_beta_quantile_limits(level):
    """Covered exactly when the rate lies between the Beta-quantile limits."""
    tail = (1 - level) / 2
    rates = np.linspace(0.0, 1.0, 201)
    for n in [1, 2, 5, 11, 29, 100]:
        x = np.arange(n + 1)
        lower = np.where(x > 0, stats.beta.ppf(tail, np.maximum(x, 1), n - x + 1), 0.0)
        upper = np.where(x < n, stats.beta.ppf(1 - tail, x + 1, np.maximum(n - x, 1)), 1.0)
        xs, rs = np.meshgrid(x, rates, indexing="ij")
        got = clopper_pearson_covers(xs, np.full_like(xs, n), rs, level)
        want = (lower[:, None] <= rs) & (rs <= upper[:, None])
        # Rates within rounding of a limit may fall either way.
        near = np.minimum(np.abs(rs - lower[:, None]), np.abs(rs - upper[:, None])) < 1e-9
        assert np.array_equal(got[~near], want[~near]), f"n={n}"
        assert got[~near].any() and (~got[~near]).any()


# --- scenarios for the exact oracle ----------------------------------------------------------


def single_stage(patients: int = 6) -> dict:
    return {
        "name": "single",
        "enrollment": {"patients": patients, "accrual": {"rate_per_month": 3.0}},
        "stages": [
            {
                "id": "s1",
                "weeks": 10,
                "response": 0.45,
                "null_response": 0.2,
                "dropout": 0.2,
                "not_evaluable": 0.1,
                "adverse_events": [
                    {"name": "neutropenia", "grade": 3, "probability": 0.15},
                    {"name": "rash", "grade": 1, "probability": 0.3},
                ],
            }
        ],
        "discontinue_grade": 3,
        "endpoints": [
            {"id": "evaluable", "stage": "s1", "rule": RULE_20},
            {"id": "itt", "stage": "s1", "population": "entered", "rule": RULE_20},
        ],
    }


def two_stage(patients: int = 6) -> dict:
    return {
        "name": "two",
        "enrollment": {"patients": patients, "accrual": {"rate_per_month": 3.0}},
        "stages": [
            {
                "id": "s1",
                "weeks": 8,
                "response": 0.3,
                "null_response": 0.1,
                "dropout": 0.1,
                "not_evaluable": 0.1,
                "next_on_failure": "s2",
            },
            {"id": "s2", "weeks": 12, "entry": 0.7, "response": 0.45, "dropout": 0.2},
        ],
        "endpoints": [
            {"id": "first", "stage": "s1", "rule": RULE_20},
            {
                "id": "rescue",
                "stage": "s2",
                "rule": {"test": "exact_binomial", "p0": 0.15, "alpha": 0.1},
            },
            {"id": "rescue_itt", "stage": "s2", "population": "entered", "rule": RULE_20},
            {
                "id": "overall",
                "stages": ["s1", "s2"],
                "rule": {"test": "exact_binomial", "p0": 0.25, "alpha": 0.1},
            },
            {"id": "overall_itt", "stages": ["s1", "s2"], "population": "entered", "rule": RULE_20},
        ],
    }


def subgroups(patients: int = 6) -> dict:
    scenario = two_stage(patients)
    scenario["population"] = [{"name": "ra", "weight": 0.3}, {"name": "rcmd", "weight": 0.7}]
    scenario["stages"][0]["response"] = {"ra": 0.6, "rcmd": 0.15}
    scenario["stages"][1]["response"] = {"ra": 0.1, "rcmd": 0.5}
    return scenario


def three_stage(patients: int = 6) -> dict:
    scenario = two_stage(patients)
    scenario["stages"][1]["next_on_failure"] = "s3"
    scenario["stages"].append(
        {
            "id": "s3",
            "weeks": 6,
            "entry": 0.9,
            "response": 0.5,
            "null_response": 0.2,
            "not_evaluable": 0.1,
        }
    )
    scenario["endpoints"] += [
        {"id": "chain", "stages": ["s1", "s2", "s3"], "rule": RULE_20},
        {"id": "late", "stages": ["s2", "s3"], "rule": RULE_20},
        {"id": "last_itt", "stage": "s3", "population": "entered", "rule": RULE_20},
    ]
    return scenario


def accrual_limited(max_months: float, ramp: float = 2.0, patients: int = 6) -> dict:
    scenario = two_stage(patients)
    scenario["enrollment"] = {
        "patients": patients,
        "accrual": {"rate_per_month": 1.0, "ramp_up_months": ramp},
        "max_months": max_months,
    }
    return scenario


SCENARIOS = {
    "single": single_stage(),
    "two": two_stage(),
    "subgroups": subgroups(),
    "three": three_stage(),
    "max_months_after_ramp": accrual_limited(5.0),
    "max_months_within_ramp": accrual_limited(1.5),
    "max_months_no_ramp": accrual_limited(4.0, ramp=0.0),
}
CASES = [
    (name, endpoint["id"], world)
    for name, scenario in SCENARIOS.items()
    for endpoint in scenario["endpoints"]
    for world in ("alternative", "null")
]


def brute_force(scenario: dict, endpoint_id: str, world: str) -> dict[str, float]:
    """Rejection probability and expected counts by enumerating every joint outcome."""
    oracle = Oracle(scenario)
    per_patient = oracle.categories(endpoint_id, world)  # (outside, failure, success)
    p0, alpha = oracle.rule(endpoint_id)
    reject = denominator = responders = 0.0
    critical = [critical_value(n, p0, alpha) for n in range(scenario["enrollment"]["patients"] + 1)]
    for k, p_k in oracle.registrations().items():
        if p_k == 0.0:
            continue
        for outcome in itertools.product(range(3), repeat=k):
            prob = p_k * math.prod(per_patient[o] for o in outcome)
            n_in = sum(o > 0 for o in outcome)
            n_success = sum(o == 2 for o in outcome)
            reject += prob * (n_success >= critical[n_in])
            denominator += prob * n_in
            responders += prob * n_success
    return {"rejection": reject, "denominator_mean": denominator, "responders_mean": responders}


def plan_and_rates(load_dict, scenario: dict, world: str):
    plan = compile_plan(load_dict(scenario).spec)
    if world == "alternative":
        rates = np.array([stage.response for stage in plan.stages])
    else:
        rates = null_response_rate(plan)
    return plan, rates


def endpoint_of(plan, endpoint_id: str):
    return next(e for e in plan.endpoints if e.id == endpoint_id)


@pytest.mark.parametrize(
    ("name", "endpoint_id", "world"), CASES, ids=[f"{n}-{e}-{w}" for n, e, w in CASES]
)
def test_exact_matches_brute_force(load_dict, name, endpoint_id, world):
    scenario = SCENARIOS[name]
    truth = brute_force(scenario, endpoint_id, world)
    plan, rates = plan_and_rates(load_dict, scenario, world)
    got = exact_operating_characteristics(plan, endpoint_of(plan, endpoint_id), rates)
    assert got is not None
    assert got.rejection == pytest.approx(truth["rejection"], rel=1e-9, abs=1e-13)
    assert got.denominator_mean == pytest.approx(truth["denominator_mean"], rel=1e-9)
    assert got.responders_mean == pytest.approx(truth["responders_mean"], rel=1e-9)
    assert got.success_rate == pytest.approx(
        Oracle(scenario).success_rate(endpoint_id, world), rel=1e-9
    )
    # The oracle the statistical tests use agrees with the brute force too.
    assert Oracle(scenario).rejection(endpoint_id, world) == pytest.approx(
        truth["rejection"], rel=1e-9, abs=1e-13
    )


def test_brute_force_is_sensitive():
    """Sanity of the oracle itself: rejection grows with the response rate."""
    low, high = copy.deepcopy(single_stage()), copy.deepcopy(single_stage())
    high["stages"][0]["response"] = 0.8
    assert (
        brute_force(high, "evaluable", "alternative")["rejection"]
        > brute_force(low, "evaluable", "alternative")["rejection"] + 0.1
    )


def test_evaluable_power_equals_direct_binomial_formula(load_dict):
    """Single stage, fixed n: sum over m ~ Bin(n, q) of P(X >= c_m | m, p)."""
    scenario = single_stage(patients=25)
    q = (1 - 0.2) * (1 - 0.15) * (1 - 0.1)  # dropout, grade-3 event, not evaluable
    p = 0.45
    m = np.arange(26)
    crit = np.array([critical_value(int(j), 0.2, 0.1) for j in m])
    want = float(np.sum(stats.binom.pmf(m, 25, q) * stats.binom.sf(crit - 1, m, p)))
    plan, rates = plan_and_rates(load_dict, scenario, "alternative")
    got = exact_operating_characteristics(plan, endpoint_of(plan, "evaluable"), rates)
    assert got.rejection == pytest.approx(want, rel=1e-9)
    assert got.denominator_mean == pytest.approx(25 * q, rel=1e-12)
    assert got.success_rate == pytest.approx(p, rel=1e-12)


def test_itt_power_equals_single_binomial(load_dict):
    """Entered population, fixed n: X ~ Bin(n, q p), denominator always n."""
    scenario = single_stage(patients=25)
    q = (1 - 0.2) * (1 - 0.15) * (1 - 0.1)
    c = critical_value(25, 0.2, 0.1)
    plan, rates = plan_and_rates(load_dict, scenario, "alternative")
    got = exact_operating_characteristics(plan, endpoint_of(plan, "itt"), rates)
    assert got.rejection == pytest.approx(stats.binom.sf(c - 1, 25, q * 0.45), rel=1e-9)
    assert got.denominator_mean == pytest.approx(25.0, rel=1e-12)
    assert got.responders_mean == pytest.approx(25 * q * 0.45, rel=1e-12)


def test_type1_error_at_most_alpha_when_null_rate_is_p0(load_dict):
    """For fixed n, the exact test's size is at most alpha; a mixture over n keeps that."""
    scenario = two_stage(patients=30)
    scenario["stages"][0]["null_response"] = 0.2  # = p0 of endpoint "first"
    plan, rates = plan_and_rates(load_dict, scenario, "null")
    got = exact_operating_characteristics(plan, endpoint_of(plan, "first"), rates)
    assert 0.0 < got.rejection <= 0.1


def test_completion_probability_independent(load_dict):
    scenario = single_stage()
    plan = compile_plan(load_dict(scenario).spec)
    assert completion_probability(plan.stages[0]) == pytest.approx(0.8 * 0.85 * 0.9, rel=1e-12)
    scenario["discontinue_grade"] = 1  # now the grade-1 rash also ends the stage
    plan = compile_plan(load_dict(scenario, "b.yaml").spec)
    assert completion_probability(plan.stages[0]) == pytest.approx(
        0.8 * 0.85 * 0.7 * 0.9, rel=1e-12
    )


@pytest.mark.parametrize(
    ("max_months", "ramp", "mean"),
    [(5.0, 2.0, 1.0 * (5.0 - 1.0)), (1.5, 2.0, 1.5**2 / 4), (4.0, 0.0, 4.0), (2.0, 2.0, 1.0)],
    ids=["after-ramp", "within-ramp", "no-ramp", "at-ramp-end"],
)
def test_registrations_distribution_is_capped_poisson(load_dict, max_months, ramp, mean):
    plan = compile_plan(load_dict(accrual_limited(max_months, ramp)).spec)
    got = registrations_distribution(plan)
    want = np.append(stats.poisson.pmf(np.arange(6), mean), stats.poisson.sf(5, mean))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)
    assert got.sum() == pytest.approx(1.0)


def test_registrations_fixed_without_max_months(load_dict):
    plan = compile_plan(load_dict(two_stage()).spec)
    assert list(registrations_distribution(plan)) == [0, 0, 0, 0, 0, 0, 1]


def test_shipped_2005_scenario_matches_oracle(load_dict):
    """43 patients (too many for brute force): the oracle, itself checked against the
    brute force above, against trialsim.exact.pathway on the shipped scenario."""
    import yaml

    from conftest import SHIPPED_2005

    scenario = yaml.safe_load(SHIPPED_2005.read_text())
    oracle = Oracle(scenario)
    for world in ("alternative", "null"):
        plan, rates = plan_and_rates(load_dict, scenario, world)
        for endpoint in plan.endpoints:
            got = exact_operating_characteristics(plan, endpoint, rates)
            assert got.rejection == pytest.approx(oracle.rejection(endpoint.id, world), rel=1e-9)
            mean_in, mean_success = oracle.expected_counts(endpoint.id, world)
            assert got.denominator_mean == pytest.approx(mean_in, rel=1e-9)
            assert got.responders_mean == pytest.approx(mean_success, rel=1e-9)


# --- where no exact value exists ------------------------------------------------------------


def test_no_exact_value_with_data_cutoff_week(load_dict):
    scenario = two_stage()
    scenario["analysis"] = {"cutoff": {"week": 20}}
    plan, rates = plan_and_rates(load_dict, scenario, "alternative")
    for endpoint in plan.endpoints:
        assert exact_operating_characteristics(plan, endpoint, rates) is None


def test_beta_prior_has_no_exact_power_but_an_exact_type1_error(load_dict):
    scenario = two_stage()
    scenario["stages"][0]["response"] = {"beta": [3, 7]}
    loaded = load_dict(scenario)
    plan = compile_plan(loaded.spec)
    assert all(rates_are_drawn(plan, endpoint) for endpoint in plan.endpoints)
    summary = summarise(run_trials(loaded, replicates=50, jobs=1)).to_dict()
    for endpoint in plan.endpoints:
        values = summary["endpoints"][endpoint.id]
        assert values["power_exact"] is None
        expected = exact_operating_characteristics(plan, endpoint, null_response_rate(plan))
        assert expected is not None
        assert values["type1_error_exact"] == pytest.approx(expected.rejection)


def test_no_exact_value_with_binding_stage_cap(load_dict):
    scenario = two_stage()
    scenario["stages"][1]["max_entries"] = 2
    plan, rates = plan_and_rates(load_dict, scenario, "alternative")
    assert exact_operating_characteristics(plan, endpoint_of(plan, "rescue"), rates) is None
    assert exact_operating_characteristics(plan, endpoint_of(plan, "overall"), rates) is None
    # The first stage's endpoint does not pass through the capped stage.
    first = exact_operating_characteristics(plan, endpoint_of(plan, "first"), rates)
    assert first is not None
    assert first.rejection == pytest.approx(
        brute_force(scenario, "first", "alternative")["rejection"]
    )


def test_cap_on_first_stage_is_refused(load_dict):
    scenario = single_stage()
    scenario["stages"][0]["max_entries"] = 3
    with pytest.raises(ScenarioError) as caught:
        load_dict(scenario)
    assert [p.rule for p in caught.value.problems] == ["first_stage_cap"]


def test_prior_on_a_later_stage_leaves_first_stage_exact(load_dict):
    scenario = two_stage()
    scenario["stages"][1]["response"] = {"beta": [2, 2]}
    scenario["stages"][1]["null_response"] = 0.15
    plan, rates = plan_and_rates(load_dict, scenario, "alternative")
    first = exact_operating_characteristics(plan, endpoint_of(plan, "first"), rates)
    assert first is not None
    point = copy.deepcopy(scenario)
    point["stages"][1]["response"] = 0.5  # the prior mean; stage s2 does not matter for "first"
    assert first.rejection == pytest.approx(brute_force(point, "first", "alternative")["rejection"])
    assert rates_are_drawn(plan, endpoint_of(plan, "rescue"))
    assert not rates_are_drawn(plan, endpoint_of(plan, "first"))
