"""The one seam of rule kinds: the :class:`Rule` protocol and what a rule compiles to.

A rule kind (the ``test:`` of an endpoint's ``rule`` in a scenario) is one
class implementing :class:`Rule`, found by :func:`trialsim.rules.registry.rule_for`.
It checks itself against the scenario and compiles to a :class:`Decision`:
plain numbers that the plan carries and that decide, from counts, whether H0
is rejected. Code after this package asks the rule or its decision, never
which kind it is.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

from trialsim.rules.counts import GroupCounts
from trialsim.rules.table import BoundaryTable
from trialsim.scenario.checks import Locator
from trialsim.scenario.problems import Problem
from trialsim.scenario.schema import Scenario


class Decision(Protocol):
    """A compiled rule: counts in, reject H0 out; also its exact values and its words."""

    @property
    def table(self) -> BoundaryTable | None:
        """The boundary table whose looks govern the endpoint's stage (None: read at the end)."""
        ...

    def rejects(self, counts: GroupCounts) -> np.ndarray:
        """Whether H0 is rejected, per replicate."""
        ...

    def rejection_probability(self, sizes: np.ndarray, rates: tuple[float, ...]) -> float:
        """Exact P(reject H0) over a distribution of group sizes.

        ``sizes[a]`` (one group) or ``sizes[a, b]`` (experimental and control)
        is the probability of those denominators; ``rates`` is each group's
        success probability.
        """
        ...

    def boundary(self, max_denominator: int) -> np.ndarray | None:
        """Fewest responders that reject H0 for each denominator 0..max (None: two groups)."""
        ...

    def boundary_label(self) -> str:
        """A short name of the boundary, for a figure's legend or title."""
        ...

    def describe(self) -> str:
        """The decision in words."""
        ...


class Rule(Protocol):
    """One rule kind, built from its schema model (``rule:`` of an endpoint).

    Attributes
    ----------
    monitors_stage : bool
        The rule's looks govern its stage, which at most one rule may do.
    """

    monitors_stage: ClassVar[bool]

    @property
    def null_rate(self) -> float | None:
        """The response rate the rule assumes under H0 (None: H0 compares two groups)."""
        ...

    @property
    def alpha(self) -> float | None:
        """The rule's own significance level, if it has one."""
        ...

    @property
    def pause(self) -> bool:
        """Whether entries to the stage wait while a look's assessments are pending."""
        ...

    def check(self, spec: Scenario, index: int, at: Locator) -> list[Problem]:
        """Problems of endpoint ``index`` of ``spec`` that this rule finds."""
        ...

    def compile(self) -> Decision:
        """The rule as plain counts."""
        ...

    def describe(self) -> str:
        """The rule in words."""
        ...
