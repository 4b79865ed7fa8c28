"""The ``fisher`` rule: one-sided Fisher exact test of two independent groups, exact power.

The test conditions on the total number of responders ``t``: under H0 (equal
response rates) the experimental group's responders are hypergeometric, and
H0 is rejected when ``P(X >= x | t) <= alpha``. Probabilities come from
log-factorials, so the run's start-up stays free of scipy.
"""

from __future__ import annotations

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
from trialsim.scenario.schema import FisherRule, Scenario


@lru_cache(maxsize=65_536)
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
    total = experimental + control
    table = log_factorials(total)
    responders = np.arange(total + 1)[:, None]
    x = np.arange(experimental + 1)[None, :]
    y = responders - x
    possible = (y >= 0) & (y <= control)
    y = np.clip(y, 0, control)
    log_pmf = (
        table[experimental]
        - table[x]
        - table[experimental - x]
        + table[control]
        - table[y]
        - table[control - y]
        - (table[total] - table[responders] - table[total - responders])
    )
    pmf = np.where(possible, np.exp(log_pmf), 0.0)
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
    rejects = possible & (tail <= alpha * (1 + RELATIVE_TOLERANCE))
    critical = np.where(rejects.any(axis=1), rejects.argmax(axis=1), experimental + 1)
    critical.setflags(write=False)
    return critical


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
    experimental_responders, experimental : array_like of int
        Responders and denominator of the experimental group.
    control_responders, control : array_like of int
        The same for the control group.
    alpha : float

    Returns
    -------
    ndarray of bool
    """
    x, a, y, b = (
        np.asarray(v, dtype=np.int64)
        for v in (experimental_responders, experimental, control_responders, control)
    )
    rejects = np.zeros(x.shape, dtype=bool)
    pairs, which = np.unique(np.stack([a.ravel(), b.ravel()], axis=1), axis=0, return_inverse=True)
    which = which.reshape(x.shape)
    for k, (size_a, size_b) in enumerate(pairs.tolist()):
        member = which == k
        critical = critical_responders(size_a, size_b, alpha)
        rejects[member] = x[member] >= critical[x[member] + y[member]]
    return rejects


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
    """
    return rejection_given_counts(
        critical_responders(experimental, control, alpha),
        binomial_pmf(np.arange(experimental + 1), experimental, experimental_rate),
        binomial_pmf(np.arange(control + 1), control, control_rate),
    )


def rejection_given_counts(
    critical: np.ndarray, experimental_pmf: np.ndarray, control_pmf: np.ndarray
) -> float:
    """P(reject) given each group's responder distribution and the test's critical counts.

    Parameters
    ----------
    critical : ndarray of int
        From :func:`critical_responders` for the two group sizes.
    experimental_pmf, control_pmf : ndarray
        P(responders = x), x = 0..group size, for each group.
    """
    x = np.arange(len(experimental_pmf))[:, None]
    y = np.arange(len(control_pmf))[None, :]
    rejects = x >= critical[x + y]
    return float((np.outer(experimental_pmf, control_pmf) * rejects).sum())


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
        pmfs: dict[tuple[int, float], np.ndarray] = {}

        def pmf(size: int, rate: float) -> np.ndarray:
            if (size, rate) not in pmfs:
                pmfs[size, rate] = binomial_pmf(np.arange(size + 1), size, rate)
            return pmfs[size, rate]

        return float(
            sum(
                sizes[a, b]
                * rejection_given_counts(
                    self.critical(int(a), int(b)),
                    pmf(int(a), experimental_rate),
                    pmf(int(b), control_rate),
                )
                for a, b in zip(*np.nonzero(sizes > NEGLIGIBLE_MASS), strict=True)
            )
        )

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
