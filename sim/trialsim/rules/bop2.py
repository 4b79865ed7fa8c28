"""The ``bop2`` rule: Bayesian optimal phase II futility monitoring (Zhou, Lee & Yuan 2017).

Owns the rule class :class:`Bop2Monitoring`; :func:`bop2_table` (from
:mod:`trialsim.rules.bop2_boundaries`, re-exported here) turns BOP2's posterior
cutoffs into a :class:`~trialsim.rules.table.BoundaryTable`. With a Beta(a, b)
prior and x responders of n_k evaluable patients, the stage stops at a look n_k < N if
P(p <= p0 | x) > C(n_k) = 1 - lambda (n_k / N)^gamma, and H0 is rejected at N
if P(p > p0 | x) >= lambda. The design search over (lambda, gamma) lives in
:mod:`trialsim.exact.bop2_design`.
"""

from __future__ import annotations

from trialsim.rules.bop2_boundaries import bop2_table
from trialsim.rules.monitoring import StageMonitoringRule
from trialsim.rules.table import BoundaryTable
from trialsim.scenario.rule_schema import Bop2Rule

__all__ = ["Bop2Monitoring", "bop2_table"]


class Bop2Monitoring(StageMonitoringRule[Bop2Rule]):
    """``test: bop2``: BOP2 futility looks and final posterior test, compiled to counts.

    Examples
    --------
    >>> spec = Bop2Rule.model_validate(
    ...     {"test": "bop2", "p0": 0.2, "n": 40, "looks": [10, 20, 30], "lambda": 0.95, "gamma": 1}
    ... )
    >>> print(Bop2Monitoring(spec).describe())
    BOP2, Beta(0.2, 0.8) prior, lambda 0.95, gamma 1: stop the stage if at most 1 of the first \
10 evaluable patients respond; stop the stage if at most 4 of the first 20 evaluable patients \
respond; stop the stage if at most 7 of the first 30 evaluable patients respond; reject H0 if \
at least 13 of 40 respond
    """

    def compile(self) -> BoundaryTable:
        """The counts at which each look stops for futility, and the final minimum."""
        rule = self.spec
        return bop2_table(rule.p0, rule.n, rule.looks, rule.lam, rule.gamma, rule.prior_parameters)

    def describe(self) -> str:
        """The rule's parameters and its table in words."""
        rule = self.spec
        a, b = rule.prior_parameters
        return (
            f"BOP2, Beta({a:g}, {b:g}) prior, lambda {rule.lam:g}, gamma {rule.gamma:g}: "
            + self.compile().describe()
        )
