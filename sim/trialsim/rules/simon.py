"""The ``simon`` rule: Simon's two-stage design on one stage's evaluable patients.

After ``n1`` evaluable patients the stage stops if at most ``r1`` responded;
otherwise it admits until ``n`` are evaluable and rejects H0 if more than
``r`` respond. It compiles to a one-look :class:`~trialsim.rules.table.BoundaryTable`.
"""

from __future__ import annotations

from typing import ClassVar

from trialsim.rules.common_checks import monitored_stage_problems, no_control_group
from trialsim.rules.table import BoundaryTable, Look
from trialsim.scenario.checks import Locator
from trialsim.scenario.problems import Problem
from trialsim.scenario.schema import Scenario, SimonRule


class SimonTwoStage:
    """``test: simon``.

    Examples
    --------
    >>> rule = SimonTwoStage(SimonRule(test="simon", p0=0.1, r1=1, n1=10, r=5, n=29))
    >>> print(rule.describe())
    Simon two-stage design r1/n1 = 1/10, r/n = 5/29: stop the stage if at most 1 of the \
first 10 evaluable patients respond; reject H0 if at least 6 of 29 respond
    """

    monitors_stage: ClassVar[bool] = True

    def __init__(self, spec: SimonRule):
        self.spec = spec

    @property
    def null_rate(self) -> float:
        """``p0``."""
        return self.spec.p0

    @property
    def alpha(self) -> None:
        """None: the design's type I error follows from its counts."""
        return None

    @property
    def pause(self) -> bool:
        """``during_interim: pause``."""
        return self.spec.during_interim == "pause"

    def check(self, spec: Scenario, index: int, at: Locator) -> list[Problem]:
        """One stage, evaluable patients, no `versus`."""
        return monitored_stage_problems(spec, index, at, "simon") + no_control_group(
            spec, index, at
        )

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
