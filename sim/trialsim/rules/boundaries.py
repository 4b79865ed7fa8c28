"""The ``boundaries`` rule: a general multi-look single-arm design given in responder counts.

At each look, after ``n_k`` evaluable patients, the stage stops for futility
with at most ``futility_max`` responders, or stops and rejects H0 with at
least ``efficacy_min``; not stopped, H0 is rejected with at least
``final_min`` of ``n`` (Fleming 1982; the bounds ``a``/``b`` of gsDesign's
``gsBinomialExact``). It compiles to a :class:`~trialsim.rules.table.BoundaryTable`
as written; this module also owns the checks that the looks and bounds fit together.
"""

from __future__ import annotations

from typing import Any

from trialsim.rules.monitoring import StageMonitoringRule
from trialsim.rules.table import BoundaryTable, Look
from trialsim.scenario.checks import Locator
from trialsim.scenario.problems import Problem
from trialsim.scenario.rule_schema import BoundariesRule
from trialsim.scenario.schema import Scenario

Finding = tuple[tuple[Any, ...], str, str, Any]


class Boundaries(StageMonitoringRule[BoundariesRule]):
    """``test: boundaries``: the looks' bounds and the final minimum, as written.

    Examples
    --------
    >>> from trialsim.scenario.rule_schema import BoundaryLook
    >>> spec = BoundariesRule(test="boundaries", p0=0.1, n=40, final_min=8,
    ...     looks=[BoundaryLook(n=10, futility_max=0, efficacy_min=5)])
    >>> print(Boundaries(spec).describe())
    boundaries: stop the stage if at most 0 of the first 10 evaluable patients respond; stop \
the stage and reject H0 if at least 5 of the first 10 evaluable patients respond; reject H0 if \
at least 8 of 40 respond
    """

    def check(self, spec: Scenario, index: int, at: Locator) -> list[Problem]:
        """One stage, evaluable patients, no `versus`, and looks and bounds that fit together."""
        found = super().check(spec, index, at)
        prefix = ("endpoints", index, "rule")
        return found + [
            at.problem((*prefix, *path), rule, message, value)
            for path, rule, message, value in design_findings(self.spec)
        ]

    def compile(self) -> BoundaryTable:
        """The looks and the final minimum as a boundary table."""
        rule = self.spec
        looks = tuple(Look(look.n, look.futility_max, look.efficacy_min) for look in rule.looks)
        return BoundaryTable(looks, rule.n, rule.final_min)

    def describe(self) -> str:
        """The table in words."""
        return "boundaries: " + self.compile().describe()


def design_findings(rule: BoundariesRule) -> list[Finding]:
    """What is wrong with the looks and bounds of a ``boundaries`` rule.

    Parameters
    ----------
    rule : BoundariesRule

    Returns
    -------
    list of (path, rule, message, value)
        ``path`` is relative to the endpoint's ``rule`` key. Refused: looks whose
        ``n`` does not increase or reaches the final ``n``; a look with neither
        bound; a futility bound of ``n_k`` or more (the look always stops) or an
        efficacy bound outside 1..``n_k``; bounds that leave no count at which
        the stage continues; a ``final_min`` outside 0..``n``; and a design whose
        final analysis can never be reached, or that can never reject H0.
    """
    found: list[Finding] = []
    if rule.final_min > rule.n:
        message = f"final_min must be at most n = {rule.n}: H0 could never be rejected at the end"
        found.append((("final_min",), "boundaries_final_min", message, rule.final_min))
    previous = 0
    for k, look in enumerate(rule.looks):
        found += _look_findings(k, look.n, look.futility_max, look.efficacy_min, previous, rule.n)
        previous = max(previous, look.n)
    if not found:
        found += _reach_findings(rule)
    return found


def _look_findings(
    k: int, n_k: int, futility_max: int | None, efficacy_min: int | None, previous: int, n: int
) -> list[Finding]:
    """Problems of look ``k`` alone, after ``n_k`` evaluable (the look before: ``previous``)."""
    found: list[Finding] = []
    if n_k <= previous or n_k >= n:
        message = (
            f"look n must increase and stay below the final n = {n} (previous look {previous})"
        )
        found.append((("looks", k, "n"), "boundaries_look_order", message, n_k))
    if futility_max is None and efficacy_min is None:
        message = "a look needs futility_max, efficacy_min or both"
        found.append((("looks", k), "boundaries_look_without_bound", message, None))
    if futility_max is not None and futility_max >= n_k:
        message = f"futility_max must be below the look's n = {n_k} (else the look always stops)"
        found.append(
            (("looks", k, "futility_max"), "boundaries_bound_range", message, futility_max)
        )
    if efficacy_min is not None and not 1 <= efficacy_min <= n_k:
        message = f"efficacy_min must be from 1 to the look's n = {n_k}"
        found.append(
            (("looks", k, "efficacy_min"), "boundaries_bound_range", message, efficacy_min)
        )
    if futility_max is not None and efficacy_min is not None and futility_max + 1 >= efficacy_min:
        why = (
            "a count would stop the stage both for futility and for efficacy"
            if futility_max >= efficacy_min
            else "no count of responders lets the stage continue"
        )
        message = (
            f"futility_max {futility_max} must be below efficacy_min {efficacy_min} - 1: {why}"
        )
        path = ("looks", k, "futility_max")
        found.append((path, "boundaries_bounds_cross", message, futility_max))
    return found


def _reach_findings(rule: BoundariesRule) -> list[Finding]:
    """A design whose later looks or final analysis no path of responses reaches.

    Follows the range of responder counts with which the stage is still running,
    look by look; if it empties at a look, the stage always stops there.
    """
    lowest = highest = seen = 0
    for k, look in enumerate(rule.looks):
        highest += look.n - seen
        seen = look.n
        if look.futility_max is not None:
            lowest = max(lowest, look.futility_max + 1)
        if look.efficacy_min is not None:
            highest = min(highest, look.efficacy_min - 1)
        if lowest > highest:
            message = (
                f"every count of responders stops the stage at look {k} (n = {look.n}): "
                "the later looks and the final analysis can never be reached"
            )
            return [(("looks", k), "boundaries_always_stop", message, None)]
    return []
