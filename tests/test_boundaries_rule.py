"""The `boundaries` rule: exact characteristics against published benchmarks and brute force,
a simulated run against the exact rejection probability, and its located input problems."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from trialsim.planning.summary import summarise
from trialsim.rules.boundaries import Boundaries, design_findings
from trialsim.rules.registry import rule_for
from trialsim.rules.table import BoundaryTable
from trialsim.rules.validation import load_scenario
from trialsim.run.runner import run_trials
from trialsim.scenario.problems import ScenarioError
from trialsim.scenario.rule_schema import BoundariesRule, BoundaryLook

REPLICATES = 3000


def boundaries(n: int, final_min: int, looks: list[tuple[int, int | None, int | None]]):
    """A ``boundaries`` schema model from (n_k, futility_max, efficacy_min) triples."""
    return BoundariesRule(
        test="boundaries",
        p0=0.1,
        n=n,
        final_min=final_min,
        looks=[BoundaryLook(n=k, futility_max=f, efficacy_min=e) for k, f, e in looks],
    )


def compiled(n: int, final_min: int, looks: list[tuple[int, int | None, int | None]]):
    table = rule_for(boundaries(n, final_min, looks)).compile()
    assert isinstance(table, BoundaryTable)
    return table


def per_analysis(n, final_min, looks, rate):
    """P(cross the lower bound) and P(cross the upper bound) at each analysis, as gsBinomialExact.

    The final analysis has lower bound ``final_min - 1`` and upper bound ``final_min``; the
    probabilities at look k are differences of tables truncated after k looks.
    """
    lower, upper, futility, efficacy = [], [], 0.0, 0.0
    for k in range(1, len(looks) + 1):
        found = compiled(n, final_min, looks[:k]).characteristics(rate)
        lower.append(found.early_futility - futility)
        upper.append(found.early_efficacy - efficacy)
        futility, efficacy = found.early_futility, found.early_efficacy
    found = compiled(n, final_min, looks).characteristics(rate)
    upper.append(found.rejection - found.early_efficacy)
    lower.append(1.0 - found.early_futility - found.rejection)
    return lower, upper, found.expected_n


# Benchmarks of gsDesign's test suite (tests/testthat/test-independent-test-gsBinomialExact.R,
# "Benchmark values have been obtained from East 6.5", files BinomialExact-01..03.html), at
# theta = 0.1 and 0.2. gsBinomialExact's a (lower: at most a successes) is futility_max, b
# (upper: at least b) is efficacy_min; at the final analysis b is final_min.
EAST_BENCHMARKS = [
    pytest.param(
        # n.I = (50, 100), a = (-1, -1), b = (13, 17): efficacy only
        (100, 17, [(50, None, 13)]),
        {0.1: [0.00100462, 0.01979986], 0.2: [0.1860570, 0.6221024]},
        None,
        {0.1: 99.94977, 0.2: 90.69715},
        id="BinomialExact-01",
    ),
    pytest.param(
        # n.I = (50, 100), a = (2, 11), b = (45, 95): the final lower bound 11 is
        # not a rule of the table, so only the first look's lower value is compared
        (100, 95, [(50, 2, 45)]),
        None,
        {0.1: [0.1117288], 0.2: [0.001285415]},
        {0.1: 94.41356218, 0.2: 99.93572925},
        id="BinomialExact-02",
    ),
    pytest.param(
        # n.I = (36, 71, 107), a = (2, 9, 17), b = (13, 15, 18)
        (107, 18, [(36, 2, 13), (71, 9, 15)]),
        {0.1: [0.00002493, 0.00397141, 0.01481792], 0.2: [0.01821676, 0.43444804, 0.35690169]},
        {0.1: [0.28786288, 0.54717197, 0.14615089], 0.2: [0.0160231, 0.06625957, 0.10815084]},
        {0.1: 66.71880358, 0.2: 86.54349597},
        id="BinomialExact-03",
    ),
]


@pytest.mark.parametrize(("design", "upper", "lower", "expected_n"), EAST_BENCHMARKS)
def test_exact_characteristics_match_the_east_benchmarks_of_gsbinomialexact(
    design, upper, lower, expected_n
):
    """Boundary-crossing probabilities and expected sample size to the published 1e-6.

    Source: gsDesign (Anderson et al.), tests/testthat/test-independent-test-gsBinomialExact.R,
    whose benchmark values were obtained from East 6.5 and are checked there to 1e-6.
    """
    n, final_min, looks = design
    for rate in (0.1, 0.2):
        got_lower, got_upper, got_n = per_analysis(n, final_min, looks, rate)
        if upper is not None:
            np.testing.assert_allclose(got_upper, upper[rate], rtol=0, atol=1e-6)
        if lower is not None:
            np.testing.assert_allclose(got_lower[: len(lower[rate])], lower[rate], atol=1e-6)
        assert got_n == pytest.approx(expected_n[rate], abs=1e-5)


def brute_force(n, final_min, looks, rate):
    """(rejection, early futility, early efficacy, expected n) over every response sequence."""
    reject = futility = efficacy = expected = 0.0
    for outcome in itertools.product((0, 1), repeat=n):
        probability = rate ** sum(outcome) * (1 - rate) ** (n - sum(outcome))
        for count, futility_max, efficacy_min in looks:
            responders = sum(outcome[:count])
            if futility_max is not None and responders <= futility_max:
                futility += probability
                expected += probability * count
                break
            if efficacy_min is not None and responders >= efficacy_min:
                efficacy += probability
                reject += probability
                expected += probability * count
                break
        else:
            expected += probability * n
            reject += probability * (sum(outcome) >= final_min)
    return reject, futility, efficacy, expected


@st.composite
def small_designs(draw):
    """Valid ``boundaries`` designs with n up to 9, as (n, final_min, looks)."""
    n = draw(st.integers(2, 9))
    counts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=3)))
    looks = []
    for count in counts:
        futility = draw(st.none() | st.integers(0, count - 1))
        low = 1 if futility is None else futility + 2
        efficacy = draw(st.none() | st.integers(low, max(low, count)))
        if efficacy is not None and efficacy > count:
            efficacy = None
        if futility is None and efficacy is None:
            futility = 0
        looks.append((count, futility, efficacy))
    return n, draw(st.integers(0, n)), looks


@settings(max_examples=60, deadline=None, derandomize=True)
@given(small_designs(), st.sampled_from([0.1, 0.35, 0.7]))
def test_exact_table_equals_brute_force_enumeration(design, rate):
    n, final_min, looks = design
    spec = boundaries(n, final_min, looks)
    if design_findings(spec):  # e.g. a look that always stops; refused, not compiled
        return
    found = rule_for(spec).compile().characteristics(rate)
    reject, futility, efficacy, expected = brute_force(n, final_min, looks, rate)
    assert found.rejection == pytest.approx(reject, rel=1e-10, abs=1e-15)
    assert found.early_futility == pytest.approx(futility, rel=1e-10, abs=1e-15)
    assert found.early_efficacy == pytest.approx(efficacy, rel=1e-10, abs=1e-15)
    assert found.expected_n == pytest.approx(expected, rel=1e-10)
    assert found.rejection > 0  # every accepted design can reject H0


def test_says_itself():
    rule = Boundaries(boundaries(40, 8, [(10, 0, 5), (25, 3, None)]))
    assert rule.describe() == (
        "boundaries: stop the stage if at most 0 of the first 10 evaluable patients respond; "
        "stop the stage and reject H0 if at least 5 of the first 10 evaluable patients respond; "
        "stop the stage if at most 3 of the first 25 evaluable patients respond; "
        "reject H0 if at least 8 of 40 respond"
    )
    assert rule.monitors_stage and rule.null_rate == 0.1 and rule.pause


def scenario(rule: dict) -> dict:
    return {
        "name": "boundaries",
        "enrollment": {"patients": 300, "accrual": {"rate_per_month": 4.0}},
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
        "endpoints": [{"id": "b", "stage": "first", "rule": rule}],
    }


RULE = {
    "test": "boundaries",
    "p0": 0.1,
    "n": 40,
    "final_min": 8,
    "looks": [{"n": 10, "futility_max": 0, "efficacy_min": 5}, {"n": 25, "futility_max": 3}],
}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("during", ["pause", "continue"])
def test_simulated_run_agrees_with_the_exact_values(tmp_path, during):
    rule = {**RULE, "during_interim": during}
    table = compiled(40, 8, [(10, 0, 5), (25, 3, None)])
    summary = summarise(
        run_trials(load_scenario(write(tmp_path, scenario(rule))), replicates=REPLICATES, seed=7)
    ).to_dict()
    got = summary["endpoints"]["b"]
    for key, rate in (("power", 0.30), ("type1_error", 0.10)):
        exact = table.characteristics(rate)
        se = math.sqrt(exact.rejection * (1 - exact.rejection) / REPLICATES)
        assert abs(got[key] - exact.rejection) <= 4 * se, (key, got[key], exact.rejection)
        if during == "pause":
            assert got[f"{key}_exact"] == pytest.approx(exact.rejection)
    exact = table.characteristics(0.30)
    se = math.sqrt(exact.early_termination * (1 - exact.early_termination) / REPLICATES)
    assert abs(got["early_stop"] - exact.early_termination) <= 4 * se


def problems(tmp_path: Path, rule: dict):
    path = write(tmp_path, scenario(rule))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    text = path.read_text().splitlines()
    for problem in caught.value.problems:
        assert problem.file == str(path) and problem.line is not None
        assert str(problem).startswith(f"{path}:{problem.line}: {problem.key}: ")
        assert problem.key.split(".")[-1].rstrip("0123456789") in text[problem.line - 1] or (
            problem.key.split(".")[-1].isdigit()
        )
    return {(p.key, p.rule): p.value for p in caught.value.problems}


LOOK_1 = "endpoints.0.rule.looks.1"


@pytest.mark.parametrize(
    ("looks", "final_min", "want"),
    [
        ([{"n": 10, "futility_max": 0}, {"n": 10, "futility_max": 1}], 8, (f"{LOOK_1}.n", 10)),
        ([{"n": 10, "futility_max": 0}, {"n": 40, "futility_max": 1}], 8, (f"{LOOK_1}.n", 40)),
        ([{"n": 10, "futility_max": 0}, {"n": 20}], 8, (LOOK_1, None)),
        (
            [{"n": 10, "futility_max": 0}, {"n": 20, "futility_max": 6, "efficacy_min": 6}],
            8,
            (f"{LOOK_1}.futility_max", 6),
        ),
        (
            [{"n": 10, "futility_max": 0}, {"n": 20, "futility_max": 20}],
            8,
            (f"{LOOK_1}.futility_max", 20),
        ),
        (
            [{"n": 10, "futility_max": 0}, {"n": 20, "efficacy_min": 21}],
            8,
            (f"{LOOK_1}.efficacy_min", 21),
        ),
        ([{"n": 10, "futility_max": 0}], 41, ("endpoints.0.rule.final_min", 41)),
        (
            [{"n": 10, "futility_max": 2}, {"n": 12, "efficacy_min": 3}],
            8,
            (LOOK_1, None),
        ),
    ],
    ids=[
        "not_increasing",
        "at_n",
        "no_bound",
        "crossing",
        "futility_out_of_range",
        "efficacy_out_of_range",
        "final_min_above_n",
        "always_stops",
    ],
)
def test_bad_designs_are_located(tmp_path, looks, final_min, want):
    found = problems(tmp_path, {**RULE, "looks": looks, "final_min": final_min})
    key, value = want
    matching = {k: v for k, v in found.items() if k[0] == key}
    assert matching and list(matching.values()) == [value], found


def test_a_design_beyond_the_enrollment_is_unreachable(tmp_path):
    data = scenario({**RULE, "n": 400, "final_min": 50})
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, data))
    (problem,) = caught.value.problems
    assert (problem.key, problem.rule, problem.value) == (
        "endpoints.0.rule.n",
        "rule_unreachable",
        400,
    )


def test_example_design_loads(tmp_path):
    loaded = load_scenario(write(tmp_path, scenario(RULE)))
    assert loaded.spec.endpoints[0].rule.looks[1].futility_max == 3
