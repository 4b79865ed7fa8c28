"""The ``bop2`` rule and the BOP2 design search (Zhou, Lee & Yuan 2017), binary endpoint.

No published table of BOP2 boundaries could be found to cite (the BOP2 app at
trialdesign.org prints them, but not in a stored, citable form), so the values
are checked against computations written here independently: the posterior
probabilities with ``scipy.stats.beta`` one count at a time, the operating
characteristics by brute-force enumeration of every responder path over the
looks with ``scipy.stats.binom``, and the search by a plain loop over the grid.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats
from typer.testing import CliRunner

from trialsim.cli.app import app
from trialsim.exact.bop2_design import bop2_design, find_bop2_design
from trialsim.exact.designs import DesignError
from trialsim.rules.bop2 import Bop2Monitoring, bop2_table
from trialsim.rules.registry import rule_for
from trialsim.rules.table import BoundaryTable
from trialsim.rules.validation import load_scenario
from trialsim.scenario.rule_schema import Bop2Rule

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def direct_boundaries(
    p0: float, n: int, looks: list[int], lam: float, gamma: float, prior: tuple[float, float]
) -> tuple[list[int], int]:
    """BOP2's futility maxima and final minimum, one count at a time with scipy.stats.beta."""
    a, b = prior
    maxima = []
    for seen in looks:
        cutoff = 1 - lam * (seen / n) ** gamma
        stops = [x for x in range(seen + 1) if stats.beta.cdf(p0, a + x, b + seen - x) > cutoff]
        maxima.append(max(stops, default=-1))
    rejects = [x for x in range(n + 1) if stats.beta.sf(p0, a + x, b + n - x) >= lam]
    return maxima, min(rejects, default=n + 1)


def enumerated_characteristics(
    maxima: list[int], looks: list[int], n: int, final_min: int, rate: float
) -> tuple[float, float, float]:
    """(P(reject), P(early stop), E(n)) summed over every path of responders added between looks."""
    blocks = np.diff([0, *looks, n])
    reject = early = expected = 0.0
    for added in itertools.product(*(range(size + 1) for size in blocks)):
        probability = float(np.prod(stats.binom.pmf(added, blocks, rate)))
        seen = np.cumsum(added)
        stop = next((k for k, most in enumerate(maxima) if seen[k] <= most), None)
        if stop is None:
            expected += probability * n
            reject += probability * (seen[-1] >= final_min)
        else:
            early += probability
            expected += probability * looks[stop]
    return reject, early, expected


def spec(**changes: object) -> Bop2Rule:
    values: dict[str, object] = {
        "test": "bop2",
        "p0": 0.2,
        "n": 40,
        "looks": [10, 20, 30],
        "lambda": 0.95,
        "gamma": 1.0,
    }
    return Bop2Rule.model_validate(values | changes)


@pytest.mark.parametrize(
    ("p0", "n", "looks", "lam", "gamma", "prior"),
    [
        (0.2, 40, [10, 20, 30], 0.95, 1.0, (0.2, 0.8)),
        (0.2, 40, [10, 20, 30], 0.86, 0.92, (0.2, 0.8)),
        (0.1, 29, [10, 20], 0.86, 0.55, (0.1, 0.9)),
        (0.3, 50, [5, 15, 25, 35, 45], 0.7, 0.0, (1.0, 1.0)),
        (0.05, 25, [12], 0.99, 0.3, (0.5, 0.5)),
    ],
)
def test_boundaries_are_the_posterior_cutoffs_count_by_count(
    p0: float, n: int, looks: list[int], lam: float, gamma: float, prior: tuple[float, float]
) -> None:
    table = bop2_table(p0, n, looks, lam, gamma, prior)
    maxima, final_min = direct_boundaries(p0, n, looks, lam, gamma, prior)
    assert [-1 if look.futility_max is None else look.futility_max for look in table.looks] == (
        maxima
    )
    assert [look.n for look in table.looks] == looks
    assert (table.n, table.final_min) == (n, final_min)


def test_default_prior_is_beta_p0_one_minus_p0() -> None:
    assert rule_for(spec()).compile() == bop2_table(0.2, 40, [10, 20, 30], 0.95, 1.0, (0.2, 0.8))
    assert rule_for(spec(prior=[1.0, 1.0])).compile() == bop2_table(
        0.2, 40, [10, 20, 30], 0.95, 1.0, (1.0, 1.0)
    )
    assert rule_for(spec(prior=[1.0, 1.0])).compile() != rule_for(spec()).compile()


@pytest.mark.parametrize(("lam", "gamma"), [(0.95, 1.0), (0.86, 0.92), (0.6, 0.0)])
def test_characteristics_match_brute_force_enumeration(lam: float, gamma: float) -> None:
    design = bop2_design(0.2, 0.4, 40, [10, 20, 30], lam, gamma)
    maxima, final_min = direct_boundaries(0.2, 40, [10, 20, 30], lam, gamma, (0.2, 0.8))
    for rate, found in ((0.2, design.null), (0.4, design.alternative)):
        reject, early, expected = enumerated_characteristics(
            maxima, [10, 20, 30], 40, final_min, rate
        )
        assert found.rejection == pytest.approx(reject, rel=1e-9)
        assert found.early_termination == pytest.approx(early, rel=1e-9)
        assert found.expected_n == pytest.approx(expected, rel=1e-9)


def test_search_is_the_plain_loop_over_the_grid() -> None:
    lambdas = [round(0.80 + 0.01 * i, 2) for i in range(20)]
    gammas = [round(0.1 * i, 1) for i in range(11)]
    best: tuple[float, float, float] | None = None  # (power, lambda, gamma)
    for lam in lambdas:
        for gamma in gammas:
            table = bop2_table(0.1, 29, [10, 20], lam, gamma)
            if table.characteristics(0.1).rejection <= 0.05:
                power = table.characteristics(0.3).rejection
                if best is None or power > best[0]:
                    best = (power, lam, gamma)
    assert best is not None
    found = find_bop2_design(0.1, 0.3, 29, [10, 20], 0.05, lambdas, gammas)
    assert (found.power, found.lam, found.gamma) == pytest.approx(best, rel=1e-12)
    assert found.alpha <= 0.05
    assert 1 < found.distinct_tables < len(lambdas) * len(gammas)


def test_search_default_grid_result_and_tie_break() -> None:
    found = find_bop2_design(0.2, 0.4, 40, [10, 20, 30], alpha=0.10)
    assert (found.lam, found.gamma) == (0.86, 0.92)
    assert [look.futility_max for look in found.table.looks] == [1, 3, 7]
    assert found.table.final_min == 12
    # Every smaller lambda, and smaller gamma at lambda 0.86, is worse or too large.
    for lam in np.round(np.arange(50, 87) / 100, 2):
        for gamma in np.round(np.arange(0, 101) / 100, 2):
            if (lam, gamma) >= (0.86, 0.92):
                continue
            other = bop2_design(0.2, 0.4, 40, [10, 20, 30], float(lam), float(gamma))
            assert other.alpha > 0.10 or other.power < found.power


def test_search_without_feasible_design_and_bad_inputs() -> None:
    with pytest.raises(DesignError) as err:
        find_bop2_design(0.2, 0.4, 40, [10, 20, 30], alpha=0.001, lambdas=[0.5], gammas=[0.0])
    assert err.value.rule == "no_design"
    for args, rule in [
        ((0.4, 0.2, 40, [10]), "rates_order"),
        ((0.2, 0.4, 40, [20, 10]), "looks"),
        ((0.2, 0.4, 40, [10, 40]), "looks"),
    ]:
        with pytest.raises(DesignError) as err:
            find_bop2_design(*args)  # type: ignore[arg-type]
        assert err.value.rule == rule
    with pytest.raises(DesignError, match="lambda"):
        bop2_design(0.2, 0.4, 40, [10], 1.0, 0.5)
    with pytest.raises(DesignError, match="gamma"):
        bop2_design(0.2, 0.4, 40, [10], 0.9, 1.5)


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"lambda": 1.0}, "lambda"),
        ({"lambda": 0.0}, "lambda"),
        ({"gamma": -0.1}, "gamma"),
        ({"gamma": 1.01}, "gamma"),
        ({"looks": [20, 10]}, None),
        ({"looks": [10, 40]}, None),
        ({"looks": []}, "looks"),
        ({"lam": 0.9}, "lam"),
    ],
)
def test_schema_refuses_bad_designs_naming_lambda(
    changes: dict[str, object], location: str | None
) -> None:
    with pytest.raises(ValidationError) as err:
        spec(**changes)
    error = err.value.errors()[0]
    assert error["loc"] == ((location,) if location else ())


def test_rule_words_dump_and_registry() -> None:
    rule = rule_for(spec())
    assert isinstance(rule, Bop2Monitoring)
    assert rule.null_rate == 0.2 and rule.alpha is None and rule.pause
    assert spec().model_dump()["lambda"] == 0.95
    assert Bop2Rule.model_validate(spec().model_dump()) == spec()
    assert rule.describe().startswith("BOP2, Beta(0.2, 0.8) prior, lambda 0.95, gamma 1: ")
    assert rule.describe().endswith("reject H0 if at least 13 of 40 respond")


def test_shipped_scenario_compiles_the_designed_table() -> None:
    loaded = load_scenario(ROOT / "scenarios" / "followup_bop2.yaml")
    rule = next(e.rule for e in loaded.spec.endpoints if e.id == "d3_rescue")
    table = rule_for(rule).compile()
    assert isinstance(table, BoundaryTable)
    designed = find_bop2_design(0.10, 0.30, 29, [10, 20], alpha=0.05)
    assert (rule.lam, rule.gamma) == (designed.lam, designed.gamma)
    assert table == designed.table


def test_design_bop2_json_search_and_given() -> None:
    words = ["design", "bop2", "--p0", "0.2", "--p1", "0.4", "--n", "40", "--looks", "10,20,30"]
    result = runner.invoke(app, [*words, "--alpha", "0.1", "--json"])
    assert result.exit_code == 0, result.output
    design = json.loads(result.stdout)["design"]
    assert (design["lambda"], design["gamma"]) == (0.86, 0.92)
    assert design["futility_max"] == [1, 3, 7] and design["final_min"] == 12
    assert design["alpha"] <= 0.1
    result = runner.invoke(app, [*words, "--lambda", "0.95", "--gamma", "1", "--json"])
    assert result.exit_code == 0, result.output
    given = json.loads(result.stdout)
    assert given["searched"] is False
    assert given["design"]["futility_max"] == [1, 4, 7] and given["design"]["final_min"] == 13
    expected = bop2_design(0.2, 0.4, 40, [10, 20, 30], 0.95, 1.0)
    assert given["design"]["power"] == pytest.approx(expected.power, rel=1e-12)
    assert given["design"]["expected_n_null"] == pytest.approx(expected.null.expected_n)
    result = runner.invoke(app, [*words, "--lambda", "0.95", "--gamma", "1"])
    assert result.exit_code == 0
    assert "stop if ≤ 4 respond" in result.stdout and "reject H0 if ≥ 13" in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lambda", "0.9"], "lambda_gamma"),
        (["--lambda", "1.2", "--gamma", "0.5"], "lambda_range"),
        (["--gammas", "0:2:0.5"], "gamma_range"),
        (["--looks", "20,10"], "looks"),
        (["--looks", "10,x"], "--looks"),
        (["--p1", "0.1"], "rates_order"),
    ],
)
def test_design_bop2_refuses_bad_input_with_exit_2(extra: list[str], message: str) -> None:
    words = ["design", "bop2", "--p0", "0.2", "--p1", "0.4", "--n", "40", "--looks", "10,20,30"]
    result = runner.invoke(app, words + extra)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
