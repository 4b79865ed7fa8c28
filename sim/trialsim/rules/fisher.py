"""The ``fisher`` rule: one-sided Fisher exact test of two independent groups, exact power.

The test conditions on the total number of responders ``t``: under H0 (equal
response rates) the experimental group's responders ``X`` are hypergeometric,
and H0 is rejected when the p-value ``P(X >= x | t) <= alpha``.

This module owns the test's p-values and critical counts, the decisions of
simulated trials, the exact rejection probability over the groups' sizes and
the rule's checks. Probabilities are summed in log space from log-factorials
(nothing overflows, whatever the group sizes; no scipy at start-up). Only
what is asked is summed, ``BLOCK_TERMS`` terms at a time: a simulated trial's
p-value sums its own table's tail; the exact engine sums, once per process,
the rejection boundary of each pair of group sizes it meets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from trialsim.rules.binomial import (
    NEGLIGIBLE_MASS,
    RELATIVE_TOLERANCE,
    binomial_pmf,
    log_factorials,
)
from trialsim.rules.counts import GroupCounts
from trialsim.scenario.checks import Locator, arms_reaching, path_problems, unknown_stages
from trialsim.scenario.problems import Problem
from trialsim.scenario.rule_schema import FisherRule
from trialsim.scenario.schema import Scenario

BLOCK_TERMS = 1 << 18
"""Probabilities summed at a time (arrays of 2 MB, which stay in the processor's cache)."""
LIMITS_KEPT = 65_536
"""Pairs of group sizes whose control limits a process keeps; past it, all are forgotten."""
_kept_limits: dict[tuple[int, int, float], np.ndarray] = {}


def _ranges(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranges ``0 .. length - 1`` laid end to end: each entry's range and its value."""
    owner = np.repeat(np.arange(len(lengths)), lengths)
    return owner, np.arange(lengths.sum()) - (np.cumsum(lengths) - lengths)[owner]


def _tails_from_top(
    experimental: np.ndarray, control: np.ndarray, responders: np.ndarray, lowest: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Upper tails of hypergeometric tables, each summed from its largest count down.

    The (not empty) arrays give each table's group sizes, all its responders
    and the smallest experimental count summed to, in the support (patients).
    Yields the indices of a block of tables with the same number of terms,
    and their tails: column ``k`` is ``P(X >= min(experimental, responders)
    - k)``, the probabilities added one at a time from the top.
    """
    highest = np.minimum(experimental, responders)
    terms = highest - lowest + 1
    log_factorial = log_factorials(int((experimental + control).max()))
    order = np.argsort(terms, kind="stable")
    for group in np.split(order, np.flatnonzero(np.diff(terms[order])) + 1):
        width = int(terms[group[0]])
        step = max(1, BLOCK_TERMS // width)
        for start in range(0, len(group), step):
            tables = group[start : start + step]
            count = highest[tables, None] - np.arange(width)
            a, b, t = experimental[tables, None], control[tables, None], responders[tables, None]
            y = t - count
            log_pmf = log_factorial[a] - log_factorial[count] - log_factorial[a - count]
            log_pmf = log_pmf + log_factorial[b] - log_factorial[y] - log_factorial[b - y]
            log_pmf -= log_factorial[a + b] - log_factorial[t] - log_factorial[a + b - t]
            yield tables, np.cumsum(np.exp(log_pmf), axis=1)


def fisher_p_values(
    experimental_responders: np.ndarray,
    experimental: np.ndarray,
    control_responders: np.ndarray,
    control: np.ndarray,
) -> np.ndarray:
    """One-sided p-values ``P(X >= x | all responders)``, elementwise (e.g. per replicate).

    Each distinct table is summed once, over its own tail only.

    Parameters
    ----------
    experimental_responders, experimental : array_like of int
        Responders and denominator of the experimental group (patients).
    control_responders, control : array_like of int
        The same for the control group.

    Returns
    -------
    ndarray of float
        Probabilities, shaped as the broadcast inputs.

    Examples
    --------
    >>> round(float(fisher_p_values(3, 3, 0, 3)), 12)  # 1 / C(6, 3)
    0.05
    """
    arrays = (experimental_responders, experimental, control_responders, control)
    x, a, y, b = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in arrays))
    if x.size == 0:
        return np.zeros(x.shape)
    tables, which = np.unique(
        np.stack([x.ravel(), a.ravel(), y.ravel(), b.ravel()]), axis=1, return_inverse=True
    )
    count, size, control_count, control_size = tables
    p_values = np.empty(tables.shape[1])
    for rows, tails in _tails_from_top(size, control_size, count + control_count, count):
        p_values[rows] = tails[:, -1]
    return p_values[which.reshape(-1)].reshape(x.shape)


def fisher_rejects(
    experimental_responders: np.ndarray,
    experimental: np.ndarray,
    control_responders: np.ndarray,
    control: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Whether the one-sided Fisher test rejects H0, elementwise (e.g. per replicate).

    Parameters
    ----------
    experimental_responders, experimental, control_responders, control : array_like of int
        As for :func:`fisher_p_values` (patients).
    alpha : float
        One-sided significance level.

    Returns
    -------
    ndarray of bool
    """
    p_values = fisher_p_values(experimental_responders, experimental, control_responders, control)
    return p_values <= alpha * (1 + RELATIVE_TOLERANCE)


def _boundaries(experimental: np.ndarray, control: np.ndarray, alpha: float) -> np.ndarray:
    """Smallest rejecting experimental count at each total, for pairs of group sizes (patients).

    The pairs one after the other, each for totals ``t = 0 .. experimental +
    control``: the smallest ``x`` with ``P(X >= x | t) <= alpha``, else
    ``min(experimental, t) + 1``. Tails are summed from the top of each table
    down to just below its mean, where the tail is about 1/2 and does not
    reject; a table whose every summed count rejects (alpha of about 1/2 or
    more) is summed over its whole support.
    """
    pair, responders = _ranges(experimental + control + 1)
    a, b = experimental[pair], control[pair]
    support_low = np.maximum(responders - b, 0)
    lowest = np.maximum(support_low, responders * a // np.maximum(a + b, 1) - 1)
    highest = np.minimum(responders, a)

    def rejecting(tables: slice | np.ndarray, lowest: np.ndarray) -> np.ndarray:
        found = np.zeros(len(lowest), dtype=np.int64)
        for rows, tails in _tails_from_top(a[tables], b[tables], responders[tables], lowest):
            # A tail only grows as terms are added: the rejecting counts come first.
            found[rows] = (tails <= alpha * (1 + RELATIVE_TOLERANCE)).sum(axis=1)
        return found

    counts = rejecting(slice(None), lowest)
    unsure = np.flatnonzero((counts == highest - lowest + 1) & (lowest > support_low))
    if unsure.size:
        counts[unsure] = rejecting(unsure, support_low[unsure])
    return highest + 1 - counts


@lru_cache(maxsize=1024)
def critical_responders(experimental: int, control: int, alpha: float) -> np.ndarray:
    """Smallest experimental responder count that rejects H0, for each total.

    Parameters
    ----------
    experimental, control : int
        Patients in each group's denominator.
    alpha : float
        One-sided significance level.

    Returns
    -------
    ndarray of int, shape (experimental + control + 1,)
        Entry ``t``: reject when the experimental group has at least this many of
        the ``t`` responders; ``experimental + 1`` where no count rejects.
        Read-only.
    """
    boundary = _boundaries(np.array([experimental]), np.array([control]), alpha)
    highest = np.minimum(np.arange(experimental + control + 1), experimental)
    critical = np.where(boundary <= highest, boundary, experimental + 1)
    critical.setflags(write=False)
    return critical


def _control_limits(
    experimental: np.ndarray, control: np.ndarray, alpha: float
) -> list[np.ndarray]:
    """Per pair of group sizes, the most control responders each experimental count rejects with.

    The boundary never falls as the total grows (nor does the hypergeometric
    tail; a running maximum absorbs rounding), so with ``x`` experimental
    responders the test rejects for ``0 .. limits[x]`` control responders
    (-1: none). Read-only arrays of shape (experimental + 1,); the pairs not
    kept yet are computed together.
    """
    keys = [(a, b, alpha) for a, b in zip(experimental.tolist(), control.tolist(), strict=True)]
    missing = sorted({key for key in keys if key not in _kept_limits})
    if missing:
        if len(_kept_limits) + len(missing) > LIMITS_KEPT:
            _kept_limits.clear()
        a, b = np.array([key[:2] for key in missing]).T
        row_pair, _ = _ranges(a + b + 1)
        # Offset by pair, the boundaries of all pairs make one sorted array.
        offset = np.arange(len(missing)) * (a.max() + 2)
        boundary = np.maximum.accumulate(_boundaries(a, b, alpha) + offset[row_pair])
        pair, x = _ranges(a + 1)
        first_row = np.cumsum(a + b + 1) - (a + b + 1)
        last_total = np.searchsorted(boundary, offset[pair] + x, "right") - 1 - first_row[pair]
        limits = np.minimum(last_total - x, b[pair])
        limits.setflags(write=False)
        _kept_limits.update(zip(missing, np.split(limits, np.cumsum(a + 1)[:-1]), strict=True))
    return [_kept_limits[key] for key in keys]


@lru_cache(maxsize=4096)
def _binomial_pmf(size: int, rate: float) -> np.ndarray:
    """P(responders = y) in a group of ``size`` patients, y = 0 .. size (read-only)."""
    pmf = binomial_pmf(np.arange(size + 1), size, rate)
    pmf.setflags(write=False)
    return pmf


def _rejection_probability(
    sizes: np.ndarray, experimental_rate: float, control_rate: float, alpha: float
) -> float:
    """P(reject) when the groups hold ``a`` and ``b`` patients with probability ``sizes[a, b]``.

    Size pairs less likely than ``NEGLIGIBLE_MASS`` are left out. A pair
    costs one term per experimental count, which reads the control group's
    distribution function at its limit.
    """
    experimental_sizes, control_sizes = np.nonzero(sizes > NEGLIGIBLE_MASS)
    if experimental_sizes.size == 0:
        return 0.0
    limits = _control_limits(experimental_sizes, control_sizes, alpha)
    # at_most[b, y + 1] = P(control responders <= y) in a group of b, y = -1 .. b.
    at_most = np.zeros((control_sizes.max() + 1, control_sizes.max() + 2))
    for size in np.unique(control_sizes).tolist():
        at_most[size, 1 : size + 2] = np.cumsum(_binomial_pmf(size, control_rate))
    probability = 0.0
    starts = np.flatnonzero(np.diff(experimental_sizes)) + 1  # np.nonzero sorts by a
    for pairs in np.split(np.arange(len(experimental_sizes)), starts):
        a, controls = int(experimental_sizes[pairs[0]]), control_sizes[pairs]
        below = at_most[controls[:, None], np.stack([limits[i] for i in pairs]) + 1]
        probability += float(sizes[a, controls] @ (below @ _binomial_pmf(a, experimental_rate)))
    return probability


def fisher_rejection_probability(
    experimental: int, control: int, experimental_rate: float, control_rate: float, alpha: float
) -> float:
    """Exact probability that the test rejects, for fixed group sizes.

    Parameters
    ----------
    experimental, control : int
        Patients in each group's denominator.
    experimental_rate, control_rate : float
        True response probabilities (equal: type I error; else power).
    alpha : float
        One-sided significance level.
    """
    sizes = np.zeros((experimental + 1, control + 1))
    sizes[experimental, control] = 1.0
    return _rejection_probability(sizes, experimental_rate, control_rate, alpha)


@dataclass(frozen=True)
class CountComparison:
    """Reject H0 (equal rates) by the one-sided Fisher test at ``alpha``, from both groups' counts.

    :meth:`critical` gives, for the group sizes, the fewest experimental
    responders that reject at each total number of responders.
    """

    alpha: float

    @property
    def table(self) -> None:
        """No looks: the test is read once, at the end."""
        return None

    def critical(self, experimental: int, control: int) -> np.ndarray:
        """:func:`critical_responders` for these group sizes."""
        return critical_responders(experimental, control, self.alpha)

    def rejects(self, counts: GroupCounts) -> np.ndarray:
        """Whether the test rejects with each replicate's two groups."""
        assert counts.control_responders is not None and counts.control_denominator is not None
        return fisher_rejects(
            counts.responders,
            counts.denominator,
            counts.control_responders,
            counts.control_denominator,
            self.alpha,
        )

    def rejection_probability(self, sizes: np.ndarray, rates: tuple[float, ...]) -> float:
        """P(reject) when the groups hold ``a`` and ``b`` patients with probability ``sizes[a, b]``.

        Size pairs less likely than ``NEGLIGIBLE_MASS`` are left out.
        """
        experimental_rate, control_rate = rates
        return _rejection_probability(sizes, experimental_rate, control_rate, self.alpha)

    def boundary(self, max_denominator: int) -> None:
        """None: the boundary depends on both groups (drawn as a comparison)."""
        return None

    def boundary_label(self) -> str:
        """Short name for a figure's title."""
        return f"Fisher α = {self.alpha:g}"

    def describe(self) -> str:
        """The test in words."""
        return (
            "reject H0 (equal response rates) if the one-sided Fisher exact test of the "
            f"experimental against the control group gives p <= alpha = {self.alpha:g}"
        )


class FisherComparison:
    """``test: fisher``: compares the endpoint's group with the control group in `versus`.

    Examples
    --------
    >>> FisherComparison(FisherRule(test="fisher")).compile().critical(3, 3)
    array([4, 4, 4, 3, 4, 4, 4])
    """

    monitors_stage: ClassVar[bool] = False

    def __init__(self, spec: FisherRule):
        self.spec = spec

    @property
    def null_rate(self) -> None:
        """None: under H0 the experimental group responds like the control group."""
        return None

    @property
    def alpha(self) -> float:
        """The test's one-sided significance level."""
        return self.spec.alpha

    @property
    def pause(self) -> bool:
        """No looks, so nothing to wait for."""
        return False

    def check(self, spec: Scenario, index: int, at: Locator) -> list[Problem]:
        """`versus` names a path of known stages holding other patients than the endpoint's."""
        endpoint = spec.endpoints[index]
        if unknown_stages(spec, endpoint.stage_ids):
            return []
        path = ("endpoints", index, "versus")
        if endpoint.versus is None:
            message = "a fisher rule compares two groups: name the control stage(s) in `versus`"
            return [at.problem(("endpoints", index), "versus_needed", message)]
        unknown = unknown_stages(spec, endpoint.versus)
        if unknown:
            return [at.problem(path, "unknown_stage", "no stage has this id", unknown)]
        found = [at.problem(*finding) for finding in path_problems(spec, path, endpoint.versus)]
        shared = set(arms_reaching(spec, endpoint.stage_ids[0])) & set(
            arms_reaching(spec, endpoint.versus[0])
        )
        if shared:
            message = (
                "the two groups must hold different patients: compare stages of different "
                f"`arms` (both reachable from {', '.join(sorted(shared))})"
            )
            found.append(at.problem(path, "groups_share_patients", message, endpoint.versus))
        return found

    def compile(self) -> CountComparison:
        """The test's critical counts, for any pair of group sizes."""
        return CountComparison(self.spec.alpha)

    def describe(self) -> str:
        """The test in words."""
        return self.compile().describe()
