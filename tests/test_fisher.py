"""The Fisher rule's numbers against scipy, at small and large group sizes.

scipy's hypergeometric survival function and ``fisher_exact`` share no code
with :mod:`trialsim.rules.fisher`, which sums log-factorials itself. Critical
counts are checked where they matter, at the boundary: the critical count
rejects and the count below it does not. Large groups (thousands of patients
each) must give the same kind of answer without a warning and without
tables the size of every pair of counts.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from scipy import stats

from trialsim.rules import fisher
from trialsim.rules.fisher import (
    CountComparison,
    critical_responders,
    fisher_p_values,
    fisher_rejection_probability,
    fisher_rejects,
)

# scipy and trialsim sum the tails differently: a tail exactly at alpha
# (e.g. 1 / C(6, 3) = 0.05) may come out a rounding either side.
ROUNDING = 1e-9


def scipy_tail(x: np.ndarray, experimental: int, control: int, total: np.ndarray) -> np.ndarray:
    """P(X >= x) for X the experimental responders among ``total``, under H0, by scipy."""
    return stats.hypergeom.sf(x - 1, experimental + control, experimental, total)


def assert_boundary(experimental: int, control: int, alpha: float, totals: np.ndarray) -> None:
    """The critical count rejects at scipy's tail and the count below it does not."""
    critical = critical_responders(experimental, control, alpha)[totals]
    lowest = np.maximum(totals - control, 0)
    highest = np.minimum(totals, experimental)
    some = critical <= highest
    assert np.all((critical == experimental + 1) | some)
    at = scipy_tail(critical[some], experimental, control, totals[some])
    assert np.all(at <= alpha * (1 + ROUNDING))
    below = critical - 1
    checked = np.where(some, below >= lowest, True)
    count = np.where(some, below, highest)[checked]  # none rejects: not even the largest
    assert np.all(
        scipy_tail(count, experimental, control, totals[checked]) > alpha / (1 + ROUNDING)
    )


@pytest.mark.parametrize(
    ("experimental", "control", "alpha"),
    [
        (3, 3, 0.05),
        (7, 12, 0.05),
        (30, 30, 0.1),
        (61, 44, 0.025),
        (150, 170, 0.1),
        (25, 31, 0.5),  # alpha of 1/2 and more: the boundary lies below the mean
        (25, 31, 0.9),
    ],
)
def test_critical_counts_sit_on_scipys_boundary(experimental: int, control: int, alpha: float):
    assert_boundary(experimental, control, alpha, np.arange(experimental + control + 1))


def test_critical_counts_at_ten_thousand_patients_without_a_warning():
    totals = np.array([0, 3, 40, 1000, 2500, 4999, 5000, 5001, 7500, 9900, 9999, 10000])
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        critical = critical_responders(5000, 5000, 0.05)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert critical.shape == (10001,)
    assert peak < 64 * 2**20, "the critical counts are computed a block at a time"
    assert_boundary(5000, 5000, 0.05, totals)


def test_p_values_equal_scipys_fisher_exact():
    rng = np.random.default_rng(3)
    for scale in (5, 40, 400, 4000):
        a, b = rng.integers(0, scale + 1, 2)
        x, y = rng.integers(0, a + 1), rng.integers(0, b + 1)
        want = stats.fisher_exact([[x, a - x], [y, b - y]], alternative="greater").pvalue
        assert float(fisher_p_values(x, a, y, b)) == pytest.approx(want, rel=1e-8, abs=1e-300)


def test_decisions_of_large_trials_without_a_warning():
    rng = np.random.default_rng(11)
    experimental = rng.binomial(10_000, 0.35, 40)
    control = rng.binomial(10_000 - experimental, 0.5)
    x = rng.binomial(experimental, 0.30)
    y = rng.binomial(control, 0.28)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rejects = fisher_rejects(x, experimental, y, control, 0.05)
    p_values = scipy_tail(x, experimental, control, x + y)
    clear = np.abs(p_values / 0.05 - 1) > ROUNDING
    assert np.array_equal(rejects[clear], (p_values <= 0.05)[clear])
    assert rejects.any() and not rejects.all()


def test_decisions_agree_with_the_critical_counts():
    a, b, alpha = 48, 37, 0.1
    x, y = np.meshgrid(np.arange(a + 1), np.arange(b + 1), indexing="ij")
    critical = critical_responders(a, b, alpha)
    assert np.array_equal(fisher_rejects(x, a, y, b, alpha), x >= critical[x + y])


def test_p_values_broadcast_and_take_empty_input():
    assert fisher_p_values(3, 3, 0, 3).shape == ()
    assert fisher_p_values(np.zeros((2, 3), int), 3, 0, 3).shape == (2, 3)
    assert fisher_p_values(np.array([], int), 3, np.array([], int), 3).shape == (0,)
    assert fisher_p_values(0, 5, np.arange(4), 5) == pytest.approx(np.ones(4))  # all the mass


def enumerated_rejection(sizes: np.ndarray, rates: tuple[float, float], alpha: float) -> float:
    """Sum P(a, b) P(x | a) P(y | b) over every table scipy's test rejects."""
    total = 0.0
    for a, b in zip(*np.nonzero(sizes), strict=True):
        x, y = np.meshgrid(np.arange(a + 1), np.arange(b + 1), indexing="ij")
        rejects = scipy_tail(x, a, b, x + y) <= alpha * (1 + ROUNDING)
        mass = np.outer(stats.binom.pmf(np.arange(a + 1), a, rates[0]),
                        stats.binom.pmf(np.arange(b + 1), b, rates[1]))  # fmt: skip
        total += sizes[a, b] * float(mass[rejects].sum())
    return total


@pytest.mark.parametrize("rates", [(0.45, 0.2), (0.3, 0.3), (0.05, 0.7)])
def test_exact_rejection_probability_equals_an_enumeration(rates: tuple[float, float]):
    sizes = np.zeros((71, 66))
    for (a, b), mass in {(70, 60): 0.4, (64, 65): 0.3, (50, 20): 0.2, (0, 9): 0.05}.items():
        sizes[a, b] = mass
    sizes[12, 0] = 0.05
    want = enumerated_rejection(sizes, rates, 0.05)
    assert CountComparison(0.05).rejection_probability(sizes, rates) == pytest.approx(
        want, rel=1e-9
    )
    one = fisher_rejection_probability(70, 60, *rates, 0.05)
    assert one == pytest.approx(enumerated_rejection(sizes * (sizes == 0.4), rates, 0.05) / 0.4)


def test_exact_values_do_not_depend_on_how_many_boundaries_are_kept(
    monkeypatch: pytest.MonkeyPatch,
):
    sizes = np.zeros((41, 41))
    sizes[20:41, 15:36] = 1 / 441
    others = np.zeros((9, 15))
    others[5:9, 10:15] = 1 / 20
    kept_all = CountComparison(0.1).rejection_probability(sizes, (0.5, 0.3))
    monkeypatch.setattr(fisher, "LIMITS_KEPT", 50)
    monkeypatch.setattr(fisher, "_kept_limits", {})
    first = CountComparison(0.1).rejection_probability(sizes, (0.5, 0.3))
    assert len(fisher._kept_limits) == 441, "the pairs of one call are computed together"
    CountComparison(0.1).rejection_probability(others, (0.5, 0.3))
    assert len(fisher._kept_limits) == 20, "the kept ones were forgotten first"
    assert CountComparison(0.1).rejection_probability(sizes, (0.5, 0.3)) == first == kept_all
