"""Simulation against exact values (SPEC §7: "within 4 standard errors").

For every scenario and endpoint: simulated power and type I error from
``summarise(run_trials(...))`` lie within 4 Monte Carlo SE of the exact value,
where SE = sqrt(p (1 - p) / R) uses the exact p; the summary's ``*_exact`` equal the
independent oracle of conftest (itself checked by brute force in test_exact.py);
mean denominators and responders match their exact expectations; the estimate of
the response rate is unbiased and its Clopper-Pearson interval covers at least 95%.

R = 3000 replicates, so SE is at most 0.0091 and the tolerance at most 0.037: a
mistake that shifts power by more than ~4 points cannot pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from trialsim.planning.summary import summarise
from trialsim.rules.validation import load_scenario
from trialsim.run.records import ALTERNATIVE
from trialsim.run.runner import run_trials

from conftest import SHIPPED_2005, Oracle, dump_scenario, simulated_records

REPLICATES = 3000
Z = 4.0


def rule(p0: float, alpha: float = 0.05) -> dict:
    return {"test": "exact_binomial", "p0": p0, "alpha": alpha}


def itt() -> dict:
    return {
        "name": "itt",
        "enrollment": {"patients": 30, "accrual": {"rate_per_month": 3.0}},
        "stages": [
            {
                "id": "s1",
                "weeks": 12,
                "response": 0.35,
                "null_response": 0.15,
                "dropout": 0.25,
                "not_evaluable": 0.1,
                "next_on_failure": "s2",
            },
            {"id": "s2", "weeks": 12, "entry": 0.8, "response": 0.4, "null_response": 0.1},
        ],
        "endpoints": [
            {"id": "itt", "stage": "s1", "population": "entered", "rule": rule(0.1)},
            {"id": "evaluable", "stage": "s1", "rule": rule(0.15)},
            {"id": "rescue_itt", "stage": "s2", "population": "entered", "rule": rule(0.1)},
            {
                "id": "overall_itt",
                "stages": ["s1", "s2"],
                "population": "entered",
                "rule": rule(0.15),
            },
        ],
    }


def subgroups() -> dict:
    return {
        "name": "subgroups",
        "enrollment": {"patients": 36, "accrual": {"rate_per_month": 4.0}, "screen_failure": 0.2},
        "population": [
            {"name": "ra_low", "weight": 0.2},
            {"name": "ra_int1", "weight": 0.3},
            {"name": "rcmd", "weight": 0.5},
        ],
        "stages": [
            {
                "id": "s1",
                "weeks": 16,
                "response": {"ra_low": 0.45, "ra_int1": 0.25, "rcmd": 0.05},
                "null_response": 0.05,
                "dropout": 0.15,
                "not_evaluable": 0.1,
                "next_on_failure": "s2",
            },
            {
                "id": "s2",
                "weeks": 16,
                "entry": 0.85,
                "response": {"ra_low": 0.1, "ra_int1": 0.3, "rcmd": 0.35},
                "null_response": 0.1,
                "dropout": 0.2,
            },
        ],
        "endpoints": [
            {"id": "first", "stage": "s1", "rule": rule(0.05)},
            {"id": "rescue", "stage": "s2", "rule": rule(0.1)},
            {"id": "overall", "stages": ["s1", "s2"], "rule": rule(0.15)},
        ],
    }


def max_months() -> dict:
    return {
        "name": "max-months",
        "enrollment": {
            "patients": 40,
            "accrual": {"rate_per_month": 2.0, "ramp_up_months": 6},
            "max_months": 18,
        },  # E[Poisson] = 2 * (18 - 3) = 30 < 40
        "stages": [
            {
                "id": "s1",
                "weeks": 16,
                "response": 0.25,
                "null_response": 0.08,
                "dropout": 0.1,
                "next_on_failure": "s2",
            },
            {"id": "s2", "weeks": 16, "entry": 0.9, "response": 0.3, "null_response": 0.1},
        ],
        "endpoints": [
            {"id": "first", "stage": "s1", "rule": rule(0.08)},
            {"id": "overall", "stages": ["s1", "s2"], "rule": rule(0.2)},
        ],
    }


def adverse_events() -> dict:
    return {
        "name": "adverse-events",
        "enrollment": {"patients": 35, "accrual": {"rate_per_month": 5.0}},
        "stages": [
            {
                "id": "s1",
                "weeks": 16,
                "response": 0.3,
                "null_response": 0.1,
                "dropout": 0.3,
                "not_evaluable": 0.05,
                "adverse_events": [
                    {"name": "thrombosis", "grade": 4, "probability": 0.2},  # ends the stage
                    {"name": "bleeding", "grade": 3, "probability": 0.1},  # ends the stage
                    {"name": "rash", "grade": 2, "probability": 0.4},  # does not
                ],
            },
        ],
        "discontinue_grade": 3,
        "endpoints": [
            {"id": "evaluable", "stage": "s1", "rule": rule(0.1)},
            {"id": "itt", "stage": "s1", "population": "entered", "rule": rule(0.05)},
        ],
    }


def three_stages() -> dict:
    return {
        "name": "three-stages",
        "enrollment": {"patients": 40, "accrual": {"rate_per_month": 4.0, "ramp_up_months": 2}},
        "stages": [
            {
                "id": "a",
                "weeks": 8,
                "response": 0.15,
                "null_response": 0.05,
                "dropout": 0.1,
                "next_on_failure": "b",
            },
            {
                "id": "b",
                "weeks": 8,
                "entry": 0.8,
                "response": 0.25,
                "null_response": 0.1,
                "not_evaluable": 0.1,
                "next_on_failure": "c",
            },
            {
                "id": "c",
                "weeks": 8,
                "entry": 0.7,
                "response": 0.3,
                "null_response": 0.1,
                "dropout": 0.2,
            },
        ],
        "endpoints": [
            {"id": "a_only", "stage": "a", "rule": rule(0.05)},
            {"id": "c_only", "stage": "c", "rule": rule(0.1)},
            {"id": "b_then_c", "stages": ["b", "c"], "rule": rule(0.15)},
            {"id": "chain", "stages": ["a", "b", "c"], "rule": rule(0.15)},
        ],
    }


SCENARIOS = {
    "shipped_2005": None,
    "itt": itt,
    "subgroups": subgroups,
    "max_months": max_months,
    "adverse_events": adverse_events,
    "three_stages": three_stages,
}


class Runs:
    """Runs each scenario once per test module, on demand."""

    def __init__(self, directory):
        self.directory = directory
        self.cache: dict[str, tuple[dict, dict, object]] = {}

    def __getitem__(self, name: str):
        if name not in self.cache:
            if SCENARIOS[name] is None:
                scenario = yaml.safe_load(SHIPPED_2005.read_text())
                path = SHIPPED_2005
            else:
                scenario = SCENARIOS[name]()
                path = self.directory / f"{name}.yaml"
                path.write_text(dump_scenario(scenario))
            result = run_trials(
                load_scenario(path), replicates=REPLICATES, seed=20240 + len(self.cache), jobs=1
            )
            self.cache[name] = (scenario, summarise(result), result)
        return self.cache[name]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return Runs(tmp_path_factory.mktemp("statistics"))


def endpoint_cases():
    cases = []
    for name, make in SCENARIOS.items():
        scenario = yaml.safe_load(SHIPPED_2005.read_text()) if make is None else make()
        cases += [(name, e["id"]) for e in scenario["endpoints"]]
    return cases


CASES = endpoint_cases()
IDS = [f"{name}-{endpoint}" for name, endpoint in CASES]


def within(simulated: float, exact: float, se: float, what: str) -> None:
    assert abs(simulated - exact) <= Z * se, (
        f"{what}: simulated {simulated:.4f} vs exact {exact:.4f}, "
        f"{abs(simulated - exact) / se if se else math.inf:.1f} SE apart (SE {se:.4f})"
    )


def binomial_se(p: float) -> float:
    return math.sqrt(p * (1 - p) / REPLICATES)


def column(result, name: str) -> np.ndarray:
    """A record column of the alternative world, simulated again independently of the tallies."""
    return result.layout.column(simulated_records(result, ALTERNATIVE), name)


@pytest.mark.parametrize(("name", "endpoint"), CASES, ids=IDS)
def test_exact_values_in_summary_match_oracle(runs, name, endpoint):
    scenario, summary, _ = runs[name]
    oracle = Oracle(scenario)
    got = summary.endpoints[endpoint]
    assert got.power_exact == pytest.approx(oracle.rejection(endpoint, "alternative"), rel=1e-9)
    assert got.type1_error_exact == pytest.approx(oracle.rejection(endpoint, "null"), rel=1e-9)
    mean_in, mean_success = oracle.expected_counts(endpoint)
    assert got.evaluable_mean_exact == pytest.approx(mean_in, rel=1e-9)
    assert got.responders_mean_exact == pytest.approx(mean_success, rel=1e-9)


@pytest.mark.parametrize(("name", "endpoint"), CASES, ids=IDS)
def test_power_within_4_se_of_exact(runs, name, endpoint):
    scenario, summary, _ = runs[name]
    exact = Oracle(scenario).rejection(endpoint, "alternative")
    assert 0.02 < exact < 0.98, "choose parameters where power is informative"
    got = summary.endpoints[endpoint]
    within(got.power, exact, binomial_se(exact), f"{name}/{endpoint} power")
    assert got.power_se == pytest.approx(math.sqrt(got.power * (1 - got.power) / REPLICATES))


@pytest.mark.parametrize(("name", "endpoint"), CASES, ids=IDS)
def test_type1_error_within_4_se_of_exact(runs, name, endpoint):
    scenario, summary, _ = runs[name]
    exact = Oracle(scenario).rejection(endpoint, "null")
    assert exact > 0.005, "choose parameters where the type I error is measurable"
    got = summary.endpoints[endpoint]
    within(got.type1_error, exact, binomial_se(exact), f"{name}/{endpoint} type I error")
    assert got.type1_error_se == pytest.approx(
        math.sqrt(got.type1_error * (1 - got.type1_error) / REPLICATES)
    )


@pytest.mark.parametrize(("name", "endpoint"), CASES, ids=IDS)
def test_mean_counts_within_4_se_of_exact(runs, name, endpoint):
    scenario, summary, result = runs[name]
    mean_in, mean_success = Oracle(scenario).expected_counts(endpoint)
    got = summary.endpoints[endpoint]
    denominators = column(result, f"endpoint.{endpoint}.denominator")
    responders = column(result, f"endpoint.{endpoint}.responders")
    assert got.evaluable_mean == pytest.approx(denominators.mean())
    assert got.responders_mean == pytest.approx(responders.mean())
    se_in = denominators.std(ddof=1) / math.sqrt(REPLICATES)
    se_success = responders.std(ddof=1) / math.sqrt(REPLICATES)
    within(got.evaluable_mean, mean_in, se_in, f"{name}/{endpoint} evaluable_mean")
    within(got.responders_mean, mean_success, se_success, f"{name}/{endpoint} responders_mean")


@pytest.mark.parametrize(("name", "endpoint"), CASES, ids=IDS)
def test_estimate_unbiased_and_interval_covers(runs, name, endpoint):
    scenario, summary, result = runs[name]
    truth = Oracle(scenario).success_rate(endpoint)
    assert np.allclose(column(result, f"endpoint.{endpoint}.true_rate"), truth, rtol=1e-9)
    denominators = column(result, f"endpoint.{endpoint}.denominator")
    responders = column(result, f"endpoint.{endpoint}.responders")
    defined = denominators > 0
    errors = responders[defined] / denominators[defined] - truth
    se = errors.std(ddof=1) / math.sqrt(defined.sum())
    got = summary.endpoints[endpoint]
    assert got.estimate_bias == pytest.approx(errors.mean(), abs=1e-12)
    within(got.estimate_bias, 0.0, se, f"{name}/{endpoint} estimate_bias")
    coverage_se = math.sqrt(0.95 * 0.05 / defined.sum())
    assert got.ci_coverage >= 0.95 - Z * coverage_se, f"{name}/{endpoint} CI coverage"


def test_registered_mean_with_binding_max_months(runs):
    scenario, summary, result = runs["max_months"]
    pmf = Oracle(scenario).registrations()
    mean = sum(k * p for k, p in pmf.items())
    assert mean < 35, "max_months must bind for this test to mean anything"
    registered = column(result, "registered")
    se = registered.std(ddof=1) / math.sqrt(REPLICATES)
    within(summary.enrollment.registered.mean, mean, se, "registered mean")
    # Full distribution: P(registered = patients) matches the Poisson tail.
    full = float((registered == 40).mean())
    within(full, pmf[40], binomial_se(pmf[40]), "P(all 40 registered)")


def test_screened_mean(runs):
    """Geometric screen failures: E[screened] = registered / (1 - screen_failure)."""
    _, summary, _ = runs["subgroups"]
    result = runs["subgroups"][2]
    screened = column(result, "screened")
    se = screened.std(ddof=1) / math.sqrt(REPLICATES)
    within(summary.enrollment.screened.mean, 36 / 0.8, se, "screened mean")


def test_subgroup_entries_follow_weights(runs):
    _, summary, result = runs["subgroups"]
    for group, weight in (("ra_low", 0.2), ("ra_int1", 0.3), ("rcmd", 0.5)):
        entered = column(result, f"stage.s1.{group}.entered")
        se = entered.std(ddof=1) / math.sqrt(REPLICATES)
        within(summary.stages["s1"].subgroups[group].entered, 36 * weight, se, group)


@pytest.mark.parametrize(
    "change",
    ["cutoff", "prior"],
)
def test_summary_exact_values_are_null_where_no_exact_value_exists(tmp_path, change):
    scenario = itt()
    if change == "cutoff":
        scenario["analysis"] = {"cutoff": {"week": 40}}
    else:
        scenario["stages"][0]["response"] = {"beta": [7, 13]}
    path = tmp_path / "s.yaml"
    path.write_text(dump_scenario(scenario))
    summary = summarise(run_trials(load_scenario(path), replicates=20, seed=1, jobs=1))
    got = summary.endpoints["itt"]
    assert got.power_exact is None
    assert got.evaluable_mean_exact is None and got.responders_mean_exact is None
    if change == "prior":
        # The null world has point rates, so an exact type I error may be given; if it
        # is, it must be the right one.
        if got.type1_error_exact is not None:
            want = Oracle(itt()).rejection("itt", "null")
            assert got.type1_error_exact == pytest.approx(want, rel=1e-9)
    else:
        assert got.type1_error_exact is None
