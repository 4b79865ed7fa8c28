"""The ``exact_binomial`` rule: one analysis at the end, by the one-sided exact binomial test.

Its critical value depends on the denominator the trial actually reached, so
it compiles to :class:`CriticalValues`, which gives the final minimum for any
denominator (:meth:`CriticalValues.final_min_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from trialsim.rules.binomial import critical_values, upper_tail
from trialsim.rules.common_checks import no_control_group
from trialsim.rules.counts import GroupCounts
from trialsim.scenario.checks import Locator
from trialsim.scenario.problems import Problem
from trialsim.scenario.rule_schema import ExactBinomialRule
from trialsim.scenario.schema import Scenario

SMALLEST_TABLE = 64  # critical values are tabulated to a power of two at least this large


@dataclass(frozen=True)
class CriticalValues:
    """Reject H0: p <= p0 with at least ``final_min_at(n)`` responders of ``n``.

    Attributes
    ----------
    p0 : float
        Response rate under H0.
    alpha : float
        One-sided significance level of the exact binomial test.

    Examples
    --------
    >>> CriticalValues(0.05, 0.05).final_min_at(np.array([29]))
    array([5])
    """

    p0: float
    alpha: float

    @property
    def table(self) -> None:
        """No looks: the test is read once, at the end."""
        return None

    def final_min_at(self, denominator: np.ndarray) -> np.ndarray:
        """Fewest responders that reject H0 for each denominator (``n + 1``: none does)."""
        n = np.asarray(denominator, dtype=np.int64)
        largest = int(n.max(initial=0))
        size = max(SMALLEST_TABLE, 1 << largest.bit_length())
        return critical_values(size, self.p0, self.alpha)[n]

    def rejects(self, counts: GroupCounts) -> np.ndarray:
        """Whether the exact test rejects with each replicate's responders of its denominator."""
        return counts.responders >= self.final_min_at(counts.denominator)

    def rejection_probability(self, sizes: np.ndarray, rates: tuple[float, ...]) -> float:
        """P(reject) when the denominator is ``a`` with probability ``sizes[a]``."""
        denominators = np.arange(len(sizes))
        given = upper_tail(self.final_min_at(denominators), denominators, rates[0])
        return float(sizes @ given)

    def boundary(self, max_denominator: int) -> np.ndarray:
        """:meth:`final_min_at` for the denominators 0..max_denominator."""
        return self.final_min_at(np.arange(max_denominator + 1))

    def boundary_label(self) -> str:
        """Legend of the critical values."""
        return f"exact critical value (p0 = {self.p0:g}, α = {self.alpha:g})"

    def describe(self) -> str:
        """The test in words."""
        return (
            "reject H0 if at least k of the patients counted respond, k from the exact "
            f"binomial test at alpha = {self.alpha:g} against p0 = {self.p0:g} "
            "(the smallest k with P(X >= k | n, p0) <= alpha for the n counted)"
        )


class ExactBinomialTest:
    """``test: exact_binomial``: a one-group test of the final counts, at any denominator.

    Examples
    --------
    >>> rule = ExactBinomialTest(ExactBinomialRule(test="exact_binomial", p0=0.1))
    >>> rule.compile().final_min_at(np.array([10, 29]))
    array([4, 7])
    """

    monitors_stage: ClassVar[bool] = False

    def __init__(self, spec: ExactBinomialRule):
        self.spec = spec

    @property
    def null_rate(self) -> float:
        """``p0``."""
        return self.spec.p0

    @property
    def alpha(self) -> float:
        """The test's one-sided significance level."""
        return self.spec.alpha

    @property
    def pause(self) -> bool:
        """No looks, so nothing to wait for."""
        return False

    def check(self, spec: Scenario, index: int, at: Locator) -> list[Problem]:
        """One group: no `versus`."""
        return no_control_group(spec, index, at)

    def compile(self) -> CriticalValues:
        """Critical values of the exact test."""
        return CriticalValues(self.spec.p0, self.spec.alpha)

    def describe(self) -> str:
        """The test in words."""
        return self.compile().describe()
