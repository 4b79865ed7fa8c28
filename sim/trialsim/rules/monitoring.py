"""What the single-arm rules that monitor a stage share: ``p0``, pause or continue, their checks.

A rule kind that governs its stage by a boundary table (``simon``, ``bayes``,
``boundaries``, ``bop2``)
subclasses :class:`StageMonitoringRule` and adds only its ``compile`` and
``describe``.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from trialsim.rules.common_checks import monitored_stage_problems, no_control_group
from trialsim.scenario.checks import Locator
from trialsim.scenario.problems import Problem
from trialsim.scenario.rule_schema import BayesRule, Bop2Rule, BoundariesRule, SimonRule
from trialsim.scenario.schema import Scenario

Spec = TypeVar("Spec", SimonRule, BayesRule, BoundariesRule, Bop2Rule)


class StageMonitoringRule(Generic[Spec]):
    """A single-arm rule whose looks govern its stage; ``spec`` is its schema model."""

    monitors_stage: ClassVar[bool] = True

    def __init__(self, spec: Spec):
        self.spec: Spec = spec

    @property
    def null_rate(self) -> float:
        """``p0``."""
        return self.spec.p0

    @property
    def alpha(self) -> None:
        """None: the type I error follows from the rule's counts."""
        return None

    @property
    def pause(self) -> bool:
        """``during_interim: pause``."""
        return self.spec.during_interim == "pause"

    def check(self, spec: Scenario, index: int, at: Locator) -> list[Problem]:
        """One stage, evaluable patients, no `versus`."""
        return monitored_stage_problems(spec, index, at, self.spec.test) + no_control_group(
            spec, index, at
        )
