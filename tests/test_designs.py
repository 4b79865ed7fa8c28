"""Exact designs: Simon two-stage and exact one-stage, against published and brute-force values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from trialsim.exact.designs import (
    DesignError,
    find_simon_designs,
    simon_characteristics,
    single_stage_design,
)

# Simon R. Optimal two-stage designs for phase II clinical trials. Controlled Clinical
# Trials 1989;10:1-10, Table 1 (alpha = 0.05, power = 0.80):
# (p0, p1): (r1/n1, r/n, EN(p0), PET(p0)) for the optimal and the minimax design.
SIMON_1989 = {
    (0.05, 0.25): {"optimal": (0, 9, 2, 17, 12.0, 0.63), "minimax": (0, 12, 2, 16, 13.8, 0.54)},
    (0.10, 0.30): {"optimal": (1, 10, 5, 29, 15.0, 0.74), "minimax": (1, 15, 5, 25, 19.5, 0.55)},
    (0.20, 0.40): {"optimal": (3, 13, 12, 43, 20.6, 0.75), "minimax": (4, 18, 10, 33, 22.3, 0.72)},
    (0.30, 0.50): {"optimal": (5, 15, 18, 46, 23.6, 0.72), "minimax": (6, 19, 16, 39, 25.7, 0.67)},
}


@pytest.fixture(scope="module")
def searches():
    return {rates: find_simon_designs(*rates, 0.05, 0.80, n_max=60) for rates in SIMON_1989}


@pytest.mark.parametrize("rates", list(SIMON_1989), ids=lambda r: f"p0={r[0]}-p1={r[1]}")
@pytest.mark.parametrize("kind", ["optimal", "minimax"])
def test_simon_designs_equal_the_published_table(searches, rates, kind):
    design = getattr(searches[rates], kind)
    r1, n1, r, n, expected_n, pet = SIMON_1989[rates][kind]
    assert (design.r1, design.n1, design.r, design.n) == (r1, n1, r, n)
    assert round(design.expected_n_null, 1) == expected_n
    assert round(design.early_termination_null, 2) == pet
    assert design.alpha <= 0.05 and design.power >= 0.80


def brute_force_characteristics(r1, n1, r, n, p):
    """Sum over every (x1, x2) outcome with scipy's binomial probabilities."""
    reject = pet = 0.0
    for x1 in range(n1 + 1):
        p1 = stats.binom.pmf(x1, n1, p)
        if x1 <= r1:
            pet += p1
            continue
        for x2 in range(n - n1 + 1):
            if x1 + x2 > r:
                reject += p1 * stats.binom.pmf(x2, n - n1, p)
    return reject, pet, n1 + (1 - pet) * (n - n1)


@pytest.mark.parametrize("design", [(1, 10, 5, 29), (0, 9, 2, 17), (3, 13, 12, 43), (2, 7, 3, 8)])
@pytest.mark.parametrize("p", [0.05, 0.2, 0.55])
def test_simon_characteristics_match_enumeration(design, p):
    got = simon_characteristics(*design, p)
    reject, pet, expected_n = brute_force_characteristics(*design, p)
    assert got.rejection == pytest.approx(reject, rel=1e-10, abs=1e-14)
    assert got.early_termination == pytest.approx(pet, rel=1e-10)
    assert got.expected_n == pytest.approx(expected_n, rel=1e-10)


def test_simon_search_matches_exhaustive_search():
    """Every (n1, r1, n, r) up to n = 20, with probabilities from scipy."""
    p0, p1, alpha, power, n_max = 0.05, 0.25, 0.10, 0.80, 20
    pmf = {p: [stats.binom.pmf(np.arange(m + 1), m, p) for m in range(n_max + 1)] for p in (p0, p1)}

    def characteristics(r1, n1, r, n, p):
        first, second = pmf[p][n1], pmf[p][n - n1]
        pet = first[: r1 + 1].sum()
        reject = sum(first[x1] * second[max(r - x1 + 1, 0) :].sum() for x1 in range(r1 + 1, n1 + 1))
        return reject, n1 + (1 - pet) * (n - n1)

    feasible = []
    for n in range(2, n_max + 1):
        for n1 in range(1, n):
            for r1, r in itertools.product(range(n1), range(n)):
                if r < r1:
                    continue
                size, en0 = characteristics(r1, n1, r, n, p0)
                if size <= alpha and characteristics(r1, n1, r, n, p1)[0] >= power:
                    feasible.append((n, en0, r1, n1, r))
    search = find_simon_designs(p0, p1, alpha, power, n_max=n_max)
    minimax = min(feasible, key=lambda d: (d[0], d[1]))
    optimal = min(feasible, key=lambda d: (d[1], d[0]))
    assert (search.minimax.n, search.minimax.expected_n_null) == pytest.approx(minimax[:2])
    assert (search.optimal.n, search.optimal.expected_n_null) == pytest.approx(optimal[:2])


def test_admissible_designs_minimise_the_weighted_risk():
    search = find_simon_designs(0.10, 0.30, 0.05, 0.80, n_max=50)
    admissible = search.admissible
    assert admissible[0][0] == search.minimax and admissible[-1][0] == search.optimal
    assert admissible[0][2] == 1.0 and admissible[-1][1] == 0.0
    # the q intervals tile [0, 1] without gaps
    for (_, low, _), (_, _, high) in zip(admissible, admissible[1:], strict=False):
        assert low == pytest.approx(high)
    # every feasible best-per-n design has risk >= the admissible one inside its interval
    from trialsim.exact.designs import _best_design_for_n

    per_n = [d for n in range(20, 51) if (d := _best_design_for_n(n, 0.10, 0.30, 0.05, 0.80)[0])]
    for design, low, high in admissible:
        q = (low + high) / 2
        risk = q * design.n + (1 - q) * design.expected_n_null
        assert all(risk <= q * d.n + (1 - q) * d.expected_n_null + 1e-9 for d in per_n)


def reference_simon_search(p0, p1, alpha, power, n_max):
    """Minimax, optimal and admissible designs from every (r1, n1, r, n), scipy probabilities.

    Returns (minimax, optimal, admissible) as dicts of the design's fields, or None if
    no design qualifies. Per n, the design with the smallest EN(p0) (then n1, r1, r)
    is the candidate; the admissible ones minimise q n + (1 - q) EN(p0) on a grid of q
    (from 1 down to 0), each with the grid weights at which it does.
    """
    pmf = {p: [stats.binom.pmf(np.arange(m + 1), m, p) for m in range(n_max + 1)] for p in (p0, p1)}
    # more[p][m][k + 1] = P(X > k) for X ~ Bin(m, p), k = -1..m
    more = {
        p: [stats.binom.sf(np.arange(-1, m + 1), m, p) for m in range(n_max + 1)] for p in (p0, p1)
    }

    def rejection(r1, n1, r, n, p):
        """P(X1 > r1 and X1 + X2 > r) for each r in the array ``r``."""
        x1 = np.arange(r1 + 1, n1 + 1)[:, None]
        second = more[p][n - n1][np.clip(r[None, :] - x1, -1, n - n1) + 1]
        return (pmf[p][n1][x1] * second).sum(axis=0)

    best_per_n = {}
    for n in range(2, n_max + 1):
        candidates = []
        for n1 in range(1, n):
            for r1 in range(n1):
                pet = pmf[p0][n1][: r1 + 1].sum()
                expected_n = n1 + (1 - pet) * (n - n1)
                r = np.arange(r1, n)
                size, achieved = rejection(r1, n1, r, n, p0), rejection(r1, n1, r, n, p1)
                for i in np.flatnonzero((size <= alpha) & (achieved >= power)):
                    design = dict(r1=r1, n1=n1, r=int(r[i]), n=n, expected_n_null=expected_n)
                    design.update(early_termination_null=pet, alpha=size[i], power=achieved[i])
                    candidates.append(design)
        if candidates:
            key = ("expected_n_null", "n1", "r1", "r")
            best_per_n[n] = min(candidates, key=lambda d: tuple(round(d[k], 9) for k in key))
    if not best_per_n:
        return None
    designs = list(best_per_n.values())
    minimax = designs[0]
    optimal = min(designs, key=lambda d: (round(d["expected_n_null"], 9), d["n"]))
    admissible = {}
    for q in np.linspace(1, 0, 2001):
        risk = [round(q * d["n"] + (1 - q) * d["expected_n_null"], 9) for d in designs]
        chosen = designs[int(np.argmin(risk))]
        admissible.setdefault((chosen["n1"], chosen["n"]), (chosen, []))[1].append(q)
    return minimax, optimal, list(admissible.values())


@pytest.mark.parametrize(
    ("p0", "p1", "alpha", "power", "n_max"),
    [
        (0.05, 0.25, 0.05, 0.80, 20),
        (0.10, 0.30, 0.05, 0.80, 30),
        (0.30, 0.50, 0.05, 0.80, 44),  # the optimal design (n = 46) out of reach
        (0.20, 0.40, 0.10, 0.90, 40),
        (0.60, 0.80, 0.10, 0.85, 30),
        (0.10, 0.30, 0.05, 0.80, 24),  # no design: the minimax has n = 25
    ],
)
def test_simon_search_equals_reference_enumeration(p0, p1, alpha, power, n_max):
    """The pruned search finds the designs, numbers and weight ranges of the full enumeration."""
    reference = reference_simon_search(p0, p1, alpha, power, n_max)
    if reference is None:
        with pytest.raises(DesignError, match="no two-stage design"):
            find_simon_designs(p0, p1, alpha, power, n_max)
        return
    minimax, optimal, admissible = reference
    search = find_simon_designs(p0, p1, alpha, power, n_max)

    def assert_same(found, expected):
        assert found.as_dict() == pytest.approx(expected, rel=1e-9, abs=1e-12)

    assert_same(search.minimax, minimax)
    assert_same(search.optimal, optimal)
    assert len(search.admissible) == len(admissible)
    for (found, low, high), (expected, weights) in zip(search.admissible, admissible, strict=True):
        assert_same(found, expected)
        assert low - 1e-9 <= min(weights) and max(weights) <= high + 1e-9


@pytest.mark.parametrize(
    ("p0", "p1", "alpha", "power"),
    [(0.10, 0.30, 0.05, 0.80), (0.05, 0.20, 0.05, 0.80), (0.20, 0.40, 0.10, 0.90)],
)
def test_single_stage_minimal_and_conservative(p0, p1, alpha, power):
    n_max = 200
    search = single_stage_design(p0, p1, alpha, power, n_max)

    def meets(n):
        for r in range(n + 1):
            if stats.binom.sf(r - 1, n, p0) <= alpha:
                return stats.binom.sf(r - 1, n, p1) >= power
        return False

    met = [meets(n) for n in range(n_max + 1)]
    assert search.minimal.n == met.index(True)
    last_failure = max(n for n in range(n_max + 1) if not met[n])
    assert search.conservative.n == last_failure + 1
    assert search.conservative.n >= search.minimal.n
    for design in (search.minimal, search.conservative):
        assert design.alpha == pytest.approx(stats.binom.sf(design.r - 1, design.n, p0))
        assert design.power == pytest.approx(stats.binom.sf(design.r - 1, design.n, p1))


def test_single_stage_power_is_saw_toothed():
    """The reason for the conservative n: power dips below target after the minimal n."""
    search = single_stage_design(0.10, 0.30, 0.05, 0.80, 200)
    assert search.conservative.n > search.minimal.n
    n = np.arange(search.minimal.n, search.conservative.n)
    from trialsim.rules.binomial import critical_values, upper_tail

    power = upper_tail(critical_values(200, 0.10, 0.05)[n], n, 0.30)
    assert (power < 0.80).any()
