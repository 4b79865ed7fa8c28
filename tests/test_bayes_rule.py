"""Bayesian monitoring: decision tables against scipy, simulation against exact values."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import yaml
from scipy import stats

from trialsim.planning.summary import summarise
from trialsim.rules.bayes import (
    BayesMonitoring,
    final_success_minimum,
    futility_boundaries,
    posterior_above,
    predictive_success,
)
from trialsim.rules.table import BoundaryTable, Look
from trialsim.rules.validation import load_scenario
from trialsim.run.runner import run_trials
from trialsim.scenario.problems import ScenarioError
from trialsim.scenario.rule_schema import BayesRule

REPLICATES = 3000


def test_posterior_matches_scipy_beta():
    for prior in [(1.0, 1.0), (0.5, 2.5), (3.0, 7.0)]:
        for trials in [0, 5, 29]:
            x = np.arange(trials + 1)
            want = stats.beta.sf(0.15, prior[0] + x, prior[1] + trials - x)
            np.testing.assert_allclose(posterior_above(0.15, prior, x, trials), want, rtol=1e-10)


def test_predictive_probability_matches_beta_binomial():
    prior, seen, n, final_min = (1.0, 1.0), 12, 30, 7
    x = np.arange(seen + 1)
    got = predictive_success(prior, x, seen, n, final_min)
    for responders, value in zip(x, got, strict=True):
        future = stats.betabinom(n - seen, prior[0] + responders, prior[1] + seen - responders)
        want = future.sf(final_min - responders - 1)
        assert value == pytest.approx(want, rel=1e-9, abs=1e-14)


def test_final_minimum_is_the_definition():
    final_min = final_success_minimum(0.1, (1.0, 1.0), 0.95, 29)
    assert stats.beta.sf(0.1, 1 + final_min, 1 + 29 - final_min) >= 0.95
    assert stats.beta.sf(0.1, final_min, 30 - final_min + 1) < 0.95


def test_futility_boundaries_are_the_largest_futile_counts():
    looks, final_min = futility_boundaries(0.1, (1.0, 1.0), 0.95, 29, [10, 20], "predictive", 0.1)
    for seen, stop_at_most in looks:
        x = np.arange(seen + 1)
        futile = predictive_success((1.0, 1.0), x, seen, 29, final_min) < 0.1
        assert stop_at_most == (int(np.flatnonzero(futile).max()) if futile.any() else -1)
        assert np.all(futile[: stop_at_most + 1]) and not np.any(futile[stop_at_most + 1 :])


class Enumerated(NamedTuple):
    reject: float
    futility: float
    efficacy: float
    expected_n: float

    @property
    def stop(self) -> float:
        return self.futility + self.efficacy


def brute_force(looks, n, final_min, p):
    """Enumerate every response sequence of n patients.

    ``looks`` holds (count, stop_at_most) or (count, stop_at_most, efficacy_min)
    tuples; -1 and None mean never.
    """
    reject = futility = efficacy = expected = 0.0
    for outcome in itertools.product((0, 1), repeat=n):
        probability = p ** sum(outcome) * (1 - p) ** (n - sum(outcome))
        for count, stop_at_most, *rest in looks:
            efficacy_min = rest[0] if rest else None
            if sum(outcome[:count]) <= stop_at_most:
                futility += probability
                expected += probability * count
                break
            if efficacy_min is not None and sum(outcome[:count]) >= efficacy_min:
                efficacy += probability
                reject += probability
                expected += probability * count
                break
        else:
            expected += probability * n
            reject += probability * (sum(outcome) >= final_min)
    return Enumerated(reject, futility, efficacy, expected)


def sequential_characteristics(looks, n, final_min, rate):
    """Characteristics of futility looks given as (count, stop_at_most) pairs, -1 for never."""
    table = BoundaryTable(
        tuple(Look(count, None if most < 0 else most) for count, most in looks), n, final_min
    )
    return table.characteristics(rate)


@pytest.mark.parametrize("p", [0.1, 0.35])
def test_sequential_characteristics_match_enumeration(p):
    looks, n, final_min = ((3, 0), (7, 1), (10, 3)), 13, 5
    got = sequential_characteristics(looks, n, final_min, p)
    want = brute_force(looks, n, final_min, p)
    assert got.rejection == pytest.approx(want.reject, rel=1e-10)
    assert got.early_termination == pytest.approx(want.stop, rel=1e-10)
    assert got.expected_n == pytest.approx(want.expected_n, rel=1e-10)


def bayes_scenario(looks, futility="predictive", during="pause"):
    rule = {
        "test": "bayes",
        "p0": 0.10,
        "prior": [1, 1],
        "success": 0.95,
        "n": 29,
        "looks": looks,
        "futility": futility,
        "futility_below": 0.10,
        "during_interim": during,
    }
    return {
        "name": "bayes",
        "enrollment": {"patients": 400, "accrual": {"rate_per_month": 4.0}},
        "stages": [
            {
                "id": "first",
                "weeks": 16,
                "response": 0.30,
                "null_response": 0.10,
                "dropout": 0.2,
                "not_evaluable": 0.1,
            }
        ],
        "endpoints": [{"id": "bayes", "stage": "first", "rule": rule}],
    }


def load(tmp_path: Path, scenario: dict):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return load_scenario(path)


@pytest.mark.parametrize(("looks", "futility"), [([10, 20], "predictive"), ([15], "posterior")])
def test_paused_bayesian_stage_agrees_with_exact_values(tmp_path, looks, futility):
    scenario = bayes_scenario(looks, futility)
    summary = summarise(
        run_trials(load(tmp_path, scenario), replicates=REPLICATES, seed=2)
    ).to_dict()
    got = summary["endpoints"]["bayes"]
    boundaries, final_min = futility_boundaries(0.10, (1.0, 1.0), 0.95, 29, looks, futility, 0.10)
    for world, rate in (("", 0.30), ("_null", 0.10)):
        exact = sequential_characteristics(boundaries, 29, final_min, rate)
        rejection = got["power" if not world else "type1_error"]
        assert got["power_exact" if not world else "type1_error_exact"] == pytest.approx(
            exact.rejection
        )
        se = math.sqrt(exact.rejection * (1 - exact.rejection) / REPLICATES)
        assert abs(rejection - exact.rejection) <= 4 * se, (world, rejection, exact.rejection)
        early = got[f"early_stop{world}"]
        se = math.sqrt(
            max(exact.early_termination * (1 - exact.early_termination), 1e-12) / REPLICATES
        )
        assert abs(early - exact.early_termination) <= 4 * se + 1e-12, (world, early)
    assert got["early_stop_null"] > got["early_stop"] or boundaries[-1][1] < 0


def test_looks_must_stay_below_n(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, bayes_scenario([10, 29]))
    (problem,) = caught.value.problems
    assert problem.key == "endpoints.0.rule" and "below n" in problem.message


@pytest.mark.parametrize(
    ("p0", "prior", "above", "looks"),
    [
        (0.1, (1.0, 1.0), 0.99, [5, 10, 20]),
        (0.3, (0.6, 1.4), 0.9, [8, 16]),
        (0.05, (2.0, 3.0), 0.5, [3]),
    ],
)
def test_efficacy_minimum_is_the_smallest_count_reaching_efficacy_above(p0, prior, above, looks):
    """Efficacy bounds against scipy: P(p > p0 | x of n) = beta.sf(p0, a + x, b + n - x)."""
    spec = BayesRule(
        test="bayes", p0=p0, prior=list(prior), n=30, looks=looks, efficacy_above=above
    )
    table = BayesMonitoring(spec).compile()
    for look in table.looks:
        x = np.arange(look.n + 1)
        reaches = stats.beta.sf(p0, prior[0] + x, prior[1] + look.n - x) >= above
        want = int(x[reaches].min()) if reaches.any() else None
        assert look.efficacy_min == want, (look.n, look.efficacy_min, want)
        assert want is None or not reaches[:want].any()


def test_efficacy_above_absent_leaves_the_table_as_before():
    spec = BayesRule(test="bayes", p0=0.1, n=29, looks=[10, 20], futility_below=0.1)
    table = BayesMonitoring(spec).compile()
    assert all(look.efficacy_min is None for look in table.looks)
    with_efficacy = BayesMonitoring(spec.model_copy(update={"efficacy_above": 0.99})).compile()
    assert [look.futility_max for look in with_efficacy.looks] == [
        look.futility_max for look in table.looks
    ]
    assert with_efficacy.final_min == table.final_min
    assert [look.efficacy_min for look in with_efficacy.looks] == [4, 6]


def test_bayesian_efficacy_looks_simulate_at_the_exact_rejection(tmp_path):
    scenario = bayes_scenario([10, 20])
    scenario["endpoints"][0]["rule"]["efficacy_above"] = 0.99
    summary = summarise(
        run_trials(load(tmp_path, scenario), replicates=REPLICATES, seed=3)
    ).to_dict()
    got = summary["endpoints"]["bayes"]
    boundaries, final_min = futility_boundaries(
        0.10, (1.0, 1.0), 0.95, 29, [10, 20], "predictive", 0.10
    )
    looks = tuple(
        Look(n, None if most < 0 else most, e)
        for (n, most), e in zip(boundaries, (4, 6), strict=True)
    )
    for key, rate in (("power", 0.30), ("type1_error", 0.10)):
        exact = BoundaryTable(looks, 29, final_min).characteristics(rate)
        assert got[f"{key}_exact"] == pytest.approx(exact.rejection)
        se = math.sqrt(exact.rejection * (1 - exact.rejection) / REPLICATES)
        assert abs(got[key] - exact.rejection) <= 4 * se, (key, got[key], exact.rejection)
    assert BoundaryTable(looks, 29, final_min).characteristics(0.3).early_efficacy > 0.1


def test_crossing_futility_and_efficacy_bounds_are_refused(tmp_path):
    scenario = bayes_scenario([10, 20], futility="posterior")
    scenario["endpoints"][0]["rule"].update(futility_below=0.9, efficacy_above=0.5)
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, scenario)
    (problem,) = caught.value.problems
    assert (problem.key, problem.rule, problem.value) == (
        "endpoints.0.rule.efficacy_above",
        "bayes_bounds_cross",
        0.5,
    )
    assert problem.line is not None
