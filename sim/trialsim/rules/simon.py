"""The ``simon`` rule: Simon's two-stage design on one stage's evaluable patients.

After ``n1`` evaluable patients the stage stops if at most ``r1`` responded;
otherwise it admits until ``n`` are evaluable and rejects H0 if more than
``r`` respond. It compiles to a one-look :class:`~trialsim.rules.table.BoundaryTable`.
"""

from __future__ import annotations

from trialsim.rules.monitoring import StageMonitoringRule
from trialsim.rules.table import BoundaryTable, Look
from trialsim.scenario.rule_schema import SimonRule


class SimonTwoStage(StageMonitoringRule[SimonRule]):
    """``test: simon``.

    Examples
    --------
    >>> rule = SimonTwoStage(SimonRule(test="simon", p0=0.1, r1=1, n1=10, r=5, n=29))
    >>> print(rule.describe())
    Simon two-stage design r1/n1 = 1/10, r/n = 5/29: stop the stage if at most 1 of the \
first 10 evaluable patients respond; reject H0 if at least 6 of 29 respond
    """

    def compile(self) -> BoundaryTable:
        """One look at ``n1`` (futility at most ``r1``); reject with more than ``r`` of ``n``."""
        rule = self.spec
        return BoundaryTable((Look(rule.n1, futility_max=rule.r1),), rule.n, rule.r + 1)

    def describe(self) -> str:
        """The design and its table in words."""
        rule = self.spec
        return (
            f"Simon two-stage design r1/n1 = {rule.r1}/{rule.n1}, r/n = {rule.r}/{rule.n}: "
            + self.compile().describe()
        )
