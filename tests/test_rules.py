"""The rules package: registry, the rules' words, their decisions, efficacy stops, the seam."""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats
from test_bayes_rule import brute_force

from trialsim.model.draws import draw_patients
from trialsim.model.plan import compile_plan
from trialsim.model.simulation import simulate_worlds
from trialsim.rules.bayes import BayesMonitoring
from trialsim.rules.boundaries import Boundaries
from trialsim.rules.counts import GroupCounts
from trialsim.rules.exact_binomial import CriticalValues, ExactBinomialTest
from trialsim.rules.fisher import CountComparison, FisherComparison
from trialsim.rules.registry import RULES, rule_for
from trialsim.rules.simon import SimonTwoStage
from trialsim.rules.table import BoundaryTable, Look
from trialsim.rules.validation import load_scenario
from trialsim.run.records import RecordMaker
from trialsim.scenario.problems import ScenarioError
from trialsim.scenario.rule_schema import (
    BayesRule,
    BoundariesRule,
    ExactBinomialRule,
    FisherRule,
    SimonRule,
)

PACKAGE = Path(__file__).resolve().parents[1] / "sim" / "trialsim"


# ------------------------------------------------------------------ registry


@pytest.mark.parametrize(
    ("schema_rule", "kind"),
    [
        (ExactBinomialRule(test="exact_binomial", p0=0.1), ExactBinomialTest),
        (SimonRule(test="simon", p0=0.1, r1=1, n1=10, r=5, n=29), SimonTwoStage),
        (BayesRule(test="bayes", p0=0.1, n=29), BayesMonitoring),
        (FisherRule(test="fisher"), FisherComparison),
        (BoundariesRule(test="boundaries", p0=0.1, n=29, final_min=6), Boundaries),
    ],
)
def test_registry_finds_each_kind_by_its_test_name(schema_rule, kind):
    rule = rule_for(schema_rule)
    assert isinstance(rule, kind)
    assert rule.spec is schema_rule


def test_every_test_name_of_the_schema_has_a_rule():
    names = set(re.findall(r'Literal\["(\w+)"\] = Field\(description="Rule name\."\)', _schema()))
    assert (
        names == set(RULES) == {"exact_binomial", "simon", "bayes", "fisher", "bop2", "boundaries"}
    )


def test_an_unknown_test_name_says_which_are_known():
    class Other:
        test = "sequential_magic"

    with pytest.raises(KeyError, match="exact_binomial, simon, bayes, fisher, boundaries"):
        rule_for(Other())


def _schema() -> str:
    return (PACKAGE / "scenario" / "rule_schema.py").read_text()


# ------------------------------------------------------------------ words


def test_simon_says_itself():
    rule = SimonTwoStage(SimonRule(test="simon", p0=0.1, r1=1, n1=10, r=5, n=29))
    assert rule.compile().describe() == (
        "stop the stage if at most 1 of the first 10 evaluable patients respond; "
        "reject H0 if at least 6 of 29 respond"
    )
    assert rule.describe().startswith("Simon two-stage design r1/n1 = 1/10, r/n = 5/29: ")


def test_bayes_says_its_looks_with_independently_computed_counts():
    spec = BayesRule(
        test="bayes", p0=0.1, n=29, looks=[5, 10, 20], futility="posterior", futility_below=0.5
    )
    # Independently: final success needs P(p > 0.1 | x of 29) >= 0.95 under Beta(1, 1);
    # a look stops while the posterior P(p > 0.1 | x of seen) < 0.5.
    final_min = next(x for x in range(30) if stats.beta.sf(0.1, 1 + x, 1 + 29 - x) >= 0.95)
    looks = []
    for seen in (5, 10, 20):
        futile = [x for x in range(seen + 1) if stats.beta.sf(0.1, 1 + x, 1 + seen - x) < 0.5]
        first = f"the first {seen} evaluable patients"
        looks.append(
            f"stop the stage if at most {max(futile)} of {first} respond"
            if futile
            else f"look at {first} without stopping"
        )
    assert "without stopping" in looks[0] and "at most" in looks[2]  # both kinds of look
    words = BayesMonitoring(spec).describe()
    assert words == (
        "Bayesian monitoring, Beta(1, 1) prior, success if P(p > 0.1 | data) >= 0.95, "
        "futility by the posterior P(p > p0 | data) < 0.5: "
        + "; ".join(looks)
        + f"; reject H0 if at least {final_min} of 29 respond"
    )


def test_a_look_that_never_stops_says_so():
    assert Look(10).describe() == "look at the first 10 evaluable patients without stopping"


def test_exact_binomial_and_fisher_say_their_tests():
    exact = ExactBinomialTest(ExactBinomialRule(test="exact_binomial", p0=0.2, alpha=0.1))
    assert exact.describe().startswith(
        "reject H0 if at least k of the patients counted respond, k from the exact binomial "
        "test at alpha = 0.1 against p0 = 0.2"
    )
    fisher = FisherComparison(FisherRule(test="fisher", alpha=0.025))
    assert fisher.describe() == (
        "reject H0 (equal response rates) if the one-sided Fisher exact test of the "
        "experimental against the control group gives p <= alpha = 0.025"
    )


def test_efficacy_look_says_itself():
    table = BoundaryTable((Look(12, futility_max=1, efficacy_min=6),), n=30, final_min=8)
    assert table.describe() == (
        "stop the stage if at most 1 of the first 12 evaluable patients respond; "
        "stop the stage and reject H0 if at least 6 of the first 12 evaluable patients respond; "
        "reject H0 if at least 8 of 30 respond"
    )


# ------------------------------------------------------------------ decisions


def test_critical_values_are_the_exact_test_at_every_denominator():
    decision = CriticalValues(0.15, 0.05)
    denominators = np.arange(0, 130)
    got = decision.final_min_at(denominators)
    for n, k in zip(denominators, got, strict=True):
        tail = stats.binom.sf(np.arange(n + 2) - 1, n, 0.15)
        assert k == int(np.argmax(tail <= 0.05 + 1e-12)), f"n = {n}"
    np.testing.assert_array_equal(decision.boundary(129), got)


def test_critical_values_rejection_over_a_denominator_distribution():
    decision = CriticalValues(0.1, 0.05)
    sizes = stats.binom.pmf(np.arange(41), 40, 0.7)  # denominators of 40 registered
    want = sum(
        sizes[n] * stats.binom.sf(decision.final_min_at(np.array([n]))[0] - 1, n, 0.3)
        for n in range(41)
    )
    assert decision.rejection_probability(sizes, (0.3,)) == pytest.approx(want, rel=1e-10)


def test_count_comparison_matches_scipy_fisher_over_group_sizes():
    decision = CountComparison(0.1)
    sizes = np.zeros((7, 7))
    sizes[6, 5], sizes[4, 6] = 0.7, 0.3
    want = 0.0
    for (a, b), mass in ((6, 5), 0.7), ((4, 6), 0.3):
        for x, y in itertools.product(range(a + 1), range(b + 1)):
            p = stats.fisher_exact([[x, a - x], [y, b - y]], alternative="greater").pvalue
            if p <= 0.1 + 1e-12:
                want += mass * stats.binom.pmf(x, a, 0.6) * stats.binom.pmf(y, b, 0.2)
    assert decision.rejection_probability(sizes, (0.6, 0.2)) == pytest.approx(want, rel=1e-10)
    assert decision.boundary(20) is None


def test_a_table_rejects_for_efficacy_else_with_final_min_when_not_stopped():
    table = BoundaryTable((Look(10, futility_max=1, efficacy_min=5),), n=29, final_min=7)
    counts = GroupCounts(
        responders=np.array([5, 3, 7, 6, 9]),
        denominator=np.array([10, 10, 29, 29, 10]),
        stopped=np.array([True, True, False, False, True]),
        stopped_for_efficacy=np.array([True, False, False, False, False]),
    )
    np.testing.assert_array_equal(table.rejects(counts), [True, False, True, False, False])


@pytest.mark.parametrize("p", [0.1, 0.3, 0.55])
def test_efficacy_and_futility_characteristics_match_enumeration(p):
    looks = (Look(3, futility_max=0), Look(7, futility_max=1, efficacy_min=5), Look(10, None, 7))
    table = BoundaryTable(looks, n=13, final_min=8)
    got = table.characteristics(p)
    want = brute_force(((3, 0, None), (7, 1, 5), (10, -1, 7)), 13, 8, p)
    assert got.rejection == pytest.approx(want.reject, rel=1e-10)
    assert got.early_futility == pytest.approx(want.futility, rel=1e-10)
    assert got.early_efficacy == pytest.approx(want.efficacy, rel=1e-10)
    assert got.expected_n == pytest.approx(want.expected_n, rel=1e-10)
    if p > 0.5:
        assert want.efficacy > 0.1  # the efficacy bounds matter at this rate


def test_a_stage_stopped_for_efficacy_rejects_in_the_records(tmp_path):
    """A hand-built efficacy look replaces the Simon table; the records follow the table."""
    scenario = {
        "name": "efficacy",
        "enrollment": {"patients": 200, "accrual": {"rate_per_month": 6.0}},
        "stages": [{"id": "first", "weeks": 8, "response": 0.45, "null_response": 0.1}],
        "endpoints": [
            {
                "id": "e",
                "stage": "first",
                "rule": {"test": "simon", "p0": 0.1, "r1": 1, "n1": 10, "r": 5, "n": 29},
            }
        ],
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    plan = compile_plan(load_scenario(path).spec)
    table = BoundaryTable((Look(10, futility_max=1, efficacy_min=4),), n=29, final_min=6)
    stage = dataclasses.replace(
        plan.stages[0], interim=dataclasses.replace(plan.stages[0].interim, table=table)
    )
    endpoint = dataclasses.replace(plan.endpoints[0], decision=table)
    plan = dataclasses.replace(plan, stages=(stage,), endpoints=(endpoint,))
    maker = RecordMaker(plan)
    layout = maker.layout
    rows = []
    for replicate in range(60):
        draws = draw_patients(plan, 5, replicate)
        (outcome,) = simulate_worlds(plan, draws, [draws.response_rate])
        rows.append(maker.record(replicate, 0, draws, outcome, draws.response_rate))
    records = np.array(rows)
    responders = layout.column(records, "endpoint.e.responders")
    evaluable = layout.column(records, "endpoint.e.denominator")
    stopped = layout.column(records, "endpoint.e.stopped_early") == 1
    reject = layout.column(records, "endpoint.e.reject") == 1
    early_efficacy = stopped & (evaluable <= 12) & (responders >= 4)
    assert early_efficacy.sum() > 5, "the look at 10 should often find 4 responders at 45%"
    assert np.all(reject[early_efficacy])
    assert not np.any(reject[stopped & ~early_efficacy])
    np.testing.assert_array_equal(reject[~stopped], responders[~stopped] >= 6)


# ------------------------------------------------------------------ checks


def _endpoint(endpoint_id: str, rule: dict, **keys) -> dict:
    return {"id": endpoint_id, "stage": "first", "rule": rule, **keys}


def _problems(tmp_path, endpoints):
    scenario = {
        "name": "checks",
        "enrollment": {"patients": 60, "accrual": {"rate_per_month": 4.0}},
        "stages": [{"id": "first", "weeks": 8, "response": 0.3, "null_response": 0.1}],
        "endpoints": endpoints,
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [(p.key, p.rule, p.message) for p in caught.value.problems]


def test_one_monitor_per_stage(tmp_path):
    simon = {"test": "simon", "p0": 0.1, "r1": 1, "n1": 10, "r": 5, "n": 29}
    bayes = {"test": "bayes", "p0": 0.1, "n": 29}
    found = _problems(
        tmp_path,
        [
            _endpoint("a", simon),
            _endpoint("b", {"test": "exact_binomial", "p0": 0.1}),
            _endpoint("c", bayes),
        ],
    )
    assert found == [
        ("endpoints.2.stage", "one_monitor_per_stage", "stage already monitored by endpoint a")
    ]


def test_bayes_checks_name_the_rule(tmp_path):
    bayes = {"test": "bayes", "p0": 0.1, "n": 29}
    found = _problems(
        tmp_path,
        [{"id": "a", "stages": ["first"], "population": "entered", "rule": bayes}],
    )
    assert found == [
        ("endpoints.0.stages", "bayes_one_stage", "a bayes rule applies to one stage: use `stage`"),
        ("endpoints.0.population", "bayes_evaluable", "a bayes rule counts evaluable patients"),
    ]


# ------------------------------------------------------------------ the seam


KIND_QUESTIONS = re.compile(
    r"MONITORING_TESTS|rule\.test\b|\.test\s*[!=]=|isinstance\([^)]*(ExactBinomial|Simon|Bayes|Fisher)"
    r"Rule|import[^\n]*\b(ExactBinomialRule|SimonRule|BayesRule|FisherRule)\b"
)


def test_no_code_outside_the_rules_asks_which_kind_a_rule_is():
    askers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.parent.name != "rules"
        and path.name != "schema.py"
        and KIND_QUESTIONS.search(path.read_text())
    ]
    assert not askers, f"modules that ask a rule's kind: {askers}"
