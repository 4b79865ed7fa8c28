"""Exact phase II designs: Simon's two-stage designs and the exact one-stage design.

Simon (1989): stage 1 treats ``n1`` patients and stops for futility if at most
``r1`` respond; otherwise ``n - n1`` more are treated and H0 is rejected if more
than ``r`` of all ``n`` respond. Among designs with type I error <= alpha at
``p0`` and power >= target at ``p1``, the *optimal* design minimises the
expected sample size under H0, ``EN(p0)``; the *minimax* design minimises ``n``
(then ``EN(p0)``); the *admissible* designs (Jung, Lee, Kim and George 2004)
minimise ``q n + (1 - q) EN(p0)`` for some weight ``q`` in [0, 1].

Everything is exact binomial enumeration (:mod:`trialsim.rules.binomial`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from trialsim.rules.binomial import binomial_pmf, critical_values, upper_tail
from trialsim.rules.table import BoundaryTable, Look, TableCharacteristics


class DesignError(ValueError):
    """A design search that cannot run or finds nothing; ``rule`` names why."""

    def __init__(self, message: str, rule: str):
        super().__init__(message)
        self.rule = rule


def simon_characteristics(r1: int, n1: int, r: int, n: int, rate: float) -> TableCharacteristics:
    """Exact rejection probability, early termination and expected N of a two-stage design.

    Parameters
    ----------
    r1, n1 : int
        Stop after ``n1`` patients if at most ``r1`` respond.
    r, n : int
        Reject H0 if more than ``r`` of ``n`` respond.
    rate : float
        True response probability.

    Examples
    --------
    >>> c = simon_characteristics(1, 10, 5, 29, 0.10)
    >>> round(c.early_termination, 3), round(c.expected_n, 1)
    (0.736, 15.0)
    """
    return BoundaryTable((Look(n1, futility_max=r1),), n, r + 1).characteristics(rate)


@dataclass(frozen=True)
class SimonDesign:
    """A Simon two-stage design and its exact characteristics (rates are proportions)."""

    r1: int
    n1: int
    r: int
    n: int
    expected_n_null: float
    early_termination_null: float
    alpha: float
    power: float

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class SimonSearch:
    """Result of a Simon design search.

    Attributes
    ----------
    minimax, optimal : SimonDesign
    admissible : list of (SimonDesign, q_low, q_high)
        Designs minimising ``q n + (1 - q) EN(p0)`` for q in [q_low, q_high],
        from the minimax (q near 1) to the optimal (q near 0).
    """

    minimax: SimonDesign
    optimal: SimonDesign
    admissible: list[tuple[SimonDesign, float, float]]


# Slack by which a bound must miss the power (probability) or the EN(p0) to beat
# (patients) to rule designs out, far above rounding; and the margin (patients) by
# which a larger n1 must lower EN(p0) to replace the best design of the same n.
POWER_SLACK, EXPECTED_N_SLACK, EXPECTED_N_TIE = 1e-9, 1e-6, 1e-12


@lru_cache(maxsize=4096)
def _binomial_arrays(m: int, rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(X = k), P(X <= k) (k = 0..m), P(X >= j) (j = 0..m+1, 1 at 0) for X ~ Bin(m, rate)."""
    pmf = binomial_pmf(np.arange(m + 1), m, rate)
    tails = np.append(np.cumsum(pmf[::-1])[::-1], 0.0)
    tails[0] = 1.0
    return pmf, np.cumsum(pmf), tails


def _rejection_table(n1: int, n2: int, rate: float, r1_max: int, r_max: int) -> np.ndarray:
    """P(X1 > r1 and X1 + X2 > r) for r1 = 0..r1_max (rows), r = 0..r_max (columns).

    X1 ~ Bin(n1, rate) and X2 ~ Bin(n2, rate) count the responders of the two
    stages. Each entry is summed over x1 = n1, n1 - 1, ..., r1 + 1 in that order
    (one cumulative sum down the table), so it does not depend on the bounds asked.
    """
    first, second_tails = _binomial_arrays(n1, rate)[0], _binomial_arrays(n2, rate)[2]
    x1 = np.arange(1, n1 + 1)[:, None]
    needed = np.clip(np.arange(r_max + 1)[None, :] - x1 + 1, 0, n2 + 1)  # X2 >= r - x1 + 1
    from_top = np.cumsum((first[1:, None] * second_tails[needed])[::-1], axis=0)[::-1]
    return from_top[: r1_max + 1]  # row i: x1 from n1 down to i + 1


def _largest_bound_with_power(m: int, rate: float, power: float) -> int:
    """Largest b with P(X > b) >= power - POWER_SLACK for X ~ Bin(m, rate), or -1."""
    return int(np.count_nonzero(_binomial_arrays(m, rate)[2][1:] >= power - POWER_SLACK)) - 1


def _best_design_for_n(
    n: int, p0: float, p1: float, alpha: float, power: float, beat: float = np.inf
) -> tuple[SimonDesign | None, bool]:
    """The feasible design of ``n`` patients with the smallest EN(p0), when below ``beat``.

    Parameters
    ----------
    n : int
        Total sample size (patients).
    p0, p1, alpha, power : float
        As in :func:`find_simon_designs`.
    beat : float
        EN(p0) (patients) of the best design with fewer patients: first stages
        whose designs all have a larger EN(p0) are skipped.

    Returns
    -------
    design : SimonDesign or None
        Each n1 = 1..n-1 in turn replaces the best so far only if its EN(p0) is
        lower by more than EXPECTED_N_TIE. Complete when below ``beat``.
    hopeful : bool
        Whether any n1 might beat ``beat`` (if none can, no larger n can either).
    """
    best: SimonDesign | None = None
    hopeful = False
    # Rejecting H0 needs more than r1 responders of n1 and more than r of n: power
    # is lost when r1 (or r) exceeds the largest bound with power for n1 (or n).
    r_max = min(n - 1, _largest_bound_with_power(n, p1, power))
    for n1 in range(1, n):
        r1_max = min(n1 - 1, _largest_bound_with_power(n1, p1, power))
        early_stop = _binomial_arrays(n1, p0)[1][: r1_max + 1]
        # EN(p0) falls as r1 grows: expected[-1] bounds it from below, for this n
        # and (the second stage only growing) for every larger n.
        expected = n1 + (1 - early_stop) * (n - n1)
        if r1_max < 0 or expected[-1] > beat + EXPECTED_N_SLACK:
            continue
        hopeful = True
        r1 = np.arange(min(r1_max, r_max) + 1)
        if r1.size == 0:
            continue
        size = _rejection_table(n1, n - n1, p0, r1[-1], r_max)
        allowed = (np.arange(r_max + 1)[None, :] >= r1[:, None]) & (size <= alpha)
        smallest_r = np.argmax(allowed, axis=1)
        achieved = _rejection_table(n1, n - n1, p1, r1[-1], r_max)[r1, smallest_r]
        feasible = allowed.any(axis=1) & (achieved >= power)
        if not feasible.any():
            continue
        k = int(np.argmin(np.where(feasible, expected[r1], np.inf)))
        if best is None or expected[k] < best.expected_n_null - EXPECTED_N_TIE:
            r = int(smallest_r[k])
            values = (expected[k], early_stop[k], size[k, r], achieved[k])
            best = SimonDesign(k, n1, r, n, *(float(value) for value in values))
    return best, hopeful


def find_simon_designs(
    p0: float, p1: float, alpha: float, power: float, n_max: int = 100
) -> SimonSearch:
    """Search all two-stage designs up to ``n_max`` patients.

    For n = 2, 3, ... the best design of n is kept if its EN(p0) beats every smaller n,
    as no other can be minimax, optimal (the last kept) or admissible; the search
    stops at the first n where no n1 can beat the last design kept.

    Parameters
    ----------
    p0, p1 : float
        Response rate under H0 and under the alternative (p0 < p1).
    alpha : float
        Largest type I error allowed.
    power : float
        Smallest power required at ``p1``.
    n_max : int
        Largest total sample size searched.

    Returns
    -------
    SimonSearch

    Raises
    ------
    DesignError
        If the rates are out of order or no design up to ``n_max`` meets the constraints.

    Examples
    --------
    >>> search = find_simon_designs(0.10, 0.30, 0.05, 0.80, n_max=40)
    >>> d = search.optimal
    >>> (d.r1, d.n1, d.r, d.n)
    (1, 10, 5, 29)
    """
    _check_rates(p0, p1, alpha, power)
    kept: list[SimonDesign] = []
    for n in range(2, n_max + 1):
        beat = kept[-1].expected_n_null if kept else np.inf
        design, hopeful = _best_design_for_n(n, p0, p1, alpha, power, beat)
        if design is not None and design.expected_n_null < beat:
            kept.append(design)
        elif kept and not hopeful:
            break
    if not kept:
        raise DesignError(
            f"no two-stage design with n <= {n_max} meets alpha and power", "no_design"
        )
    return SimonSearch(kept[0], kept[-1], _admissible(kept))


def _admissible(kept: list[SimonDesign]) -> list[tuple[SimonDesign, float, float]]:
    """Designs (by increasing n) on the lower convex hull of (n, EN(p0)), with weights q."""
    hull: list[SimonDesign] = []
    for design in kept:
        while len(hull) >= 2 and _not_below(hull[-2], hull[-1], design):
            hull.pop()
        hull.append(design)
    # Risk q n + (1 - q) EN is minimised by hull[i] for q between the slopes of
    # its two hull edges, expressed as q = s / (s - 1) with s = dEN/dn < 0.
    bounds = [1.0]
    for left, right in zip(hull, hull[1:], strict=False):
        slope = (right.expected_n_null - left.expected_n_null) / (right.n - left.n)
        bounds.append(-slope / (1 - slope))
    bounds.append(0.0)
    return [(design, bounds[i + 1], bounds[i]) for i, design in enumerate(hull)]


def _not_below(a: SimonDesign, b: SimonDesign, c: SimonDesign) -> bool:
    """Whether b lies on or above the segment from a to c in the (n, EN) plane."""
    rise_b, rise_c = b.expected_n_null - a.expected_n_null, c.expected_n_null - a.expected_n_null
    return (b.n - a.n) * rise_c - rise_b * (c.n - a.n) <= 0


@dataclass(frozen=True)
class SingleStageDesign:
    """Reject H0 if at least ``r`` of ``n`` respond."""

    r: int
    n: int
    alpha: float
    power: float

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class SingleStageSearch:
    """Minimal and conservative exact one-stage designs.

    ``conservative`` is the smallest n from which the power stays at or above
    target for every larger n up to the search limit (binomial power is
    saw-toothed in n).
    """

    minimal: SingleStageDesign
    conservative: SingleStageDesign


def single_stage_design(
    p0: float, p1: float, alpha: float, power: float, n_max: int = 500
) -> SingleStageSearch:
    """Exact one-stage designs: reject H0 if P(X >= r | n, p0) <= alpha.

    Parameters
    ----------
    p0, p1 : float
        Response rate under H0 and under the alternative (p0 < p1).
    alpha : float
        Largest type I error allowed.
    power : float
        Smallest power required at ``p1``.
    n_max : int
        Largest n searched.

    Returns
    -------
    SingleStageSearch

    Raises
    ------
    DesignError
        If the rates are out of order or no n up to ``n_max`` reaches the power.

    Examples
    --------
    >>> search = single_stage_design(0.10, 0.30, 0.05, 0.80)
    >>> search.minimal.n, search.minimal.r
    (25, 6)
    """
    _check_rates(p0, p1, alpha, power)
    critical = critical_values(n_max, p0, alpha)
    n = np.arange(n_max + 1)
    size = upper_tail(critical, n, p0)
    achieved = upper_tail(critical, n, p1)
    meets = (achieved >= power) & (critical <= n)
    if not meets.any():
        raise DesignError(
            f"no one-stage design with n <= {n_max} reaches power {power}", "no_design"
        )
    minimal = int(np.argmax(meets))
    failing = np.flatnonzero(~meets)
    conservative = int(failing[-1] + 1) if failing.size and failing[-1] < n_max else minimal
    if failing.size and failing[-1] == n_max:
        raise DesignError(
            f"power falls below {power} again at n = {n_max}: raise n_max", "no_design"
        )

    def design(size_n: int) -> SingleStageDesign:
        return SingleStageDesign(
            int(critical[size_n]), size_n, float(size[size_n]), float(achieved[size_n])
        )

    return SingleStageSearch(design(minimal), design(conservative))


def find_design(
    kind: Literal["simon", "single"],
    p0: float,
    p1: float,
    alpha: float = 0.05,
    power: float = 0.80,
    n_max: int | None = None,
) -> SimonSearch | SingleStageSearch:
    """The exact phase II designs of one kind for response rates ``p0`` against ``p1``.

    One entry point for :func:`find_simon_designs` (``"simon"``: minimax, optimal
    and admissible two-stage designs, Simon 1989, Jung et al. 2004) and
    :func:`single_stage_design` (``"single"``: minimal and conservative exact
    one-stage designs), as ``trialsim design`` prints them.

    Parameters
    ----------
    kind : {"simon", "single"}
    p0, p1 : float
        Response rate (proportion) under H0 and under the alternative, p0 < p1.
    alpha : float
        Largest one-sided type I error allowed.
    power : float
        Smallest power required at ``p1``.
    n_max : int, optional
        Largest total number of evaluable patients searched (default 100 for
        Simon designs, 500 for one stage).

    Returns
    -------
    SimonSearch or SingleStageSearch

    Raises
    ------
    DesignError
        If the rates are out of order, ``kind`` is unknown, or no design up to
        ``n_max`` meets alpha and power.

    Examples
    --------
    >>> minimax = find_design("simon", 0.05, 0.25, alpha=0.05, power=0.80).minimax
    >>> (minimax.r1, minimax.n1, minimax.r, minimax.n)
    (0, 12, 2, 16)
    >>> find_design("single", 0.05, 0.25).minimal.n
    16
    """
    if kind == "simon":
        return find_simon_designs(p0, p1, alpha, power, 100 if n_max is None else n_max)
    if kind == "single":
        return single_stage_design(p0, p1, alpha, power, 500 if n_max is None else n_max)
    raise DesignError(f"kind must be 'simon' or 'single', got {kind!r}", "design_kind")


def _check_rates(p0: float, p1: float, alpha: float, power: float) -> None:
    if not 0 < p0 < p1 < 1:
        raise DesignError(f"need 0 < p0 < p1 < 1, got p0 = {p0}, p1 = {p1}", "rates_order")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise DesignError(
            f"alpha and power must lie in (0, 1), got {alpha} and {power}", "open_unit_interval"
        )
