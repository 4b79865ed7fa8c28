"""The ``bayes`` rule: Bayesian monitoring (Beta prior, binomial data) and its decision table.

A rule is turned into plain counts once per run: the fewest responders of
``n`` that give final success, and at each look the most responders at which
the stage stops for futility and (with ``efficacy_above``) the fewest at which
it stops and rejects H0. The simulation then only compares counts.
References: Thall & Simon (1994) for posterior monitoring; Lee & Liu (2008)
for the predictive probability of final success.
"""

from __future__ import annotations

import numpy as np

from trialsim.rules.monitoring import StageMonitoringRule
from trialsim.rules.table import BoundaryTable, Look
from trialsim.scenario.checks import Locator
from trialsim.scenario.problems import Problem
from trialsim.scenario.rule_schema import BayesRule
from trialsim.scenario.schema import Scenario


def posterior_above(
    p0: float, prior: tuple[float, float], responders: np.ndarray, trials: int
) -> np.ndarray:
    """P(p > p0 | responders of trials) under a Beta(a, b) prior, elementwise."""
    from scipy import special

    a, b = prior
    x = np.asarray(responders, dtype=float)
    return special.betaincc(a + x, b + trials - x, p0)


def final_success_minimum(p0: float, prior: tuple[float, float], success: float, n: int) -> int:
    """Fewest responders of ``n`` with P(p > p0 | data) >= ``success`` (n + 1 if none)."""
    succeeds = posterior_above(p0, prior, np.arange(n + 1), n) >= success
    return int(np.argmax(succeeds)) if succeeds.any() else n + 1


def predictive_success(
    prior: tuple[float, float], responders: np.ndarray, seen: int, n: int, final_min: int
) -> np.ndarray:
    """P(final success | responders of ``seen``), over the remaining ``n - seen`` (Lee & Liu 2008).

    The remaining responders follow a beta-binomial with the current posterior.
    """
    from scipy import special

    a, b = prior
    x = np.asarray(responders, dtype=float)[:, None]
    remaining = n - seen
    y = np.arange(remaining + 1)[None, :]
    log_pmf = (
        special.gammaln(remaining + 1)
        - special.gammaln(y + 1)
        - special.gammaln(remaining - y + 1)
        + special.betaln(a + x + y, b + seen - x + remaining - y)
        - special.betaln(a + x, b + seen - x)
    )
    return np.where(x + y >= final_min, np.exp(log_pmf), 0.0).sum(axis=1)


def futility_boundaries(
    p0: float,
    prior: tuple[float, float],
    success: float,
    n: int,
    looks: list[int],
    method: str,
    below: float,
) -> tuple[tuple[tuple[int, int], ...], int]:
    """Counts that implement a Bayesian rule.

    Returns
    -------
    looks : tuple of (count, stop_at_most)
        At each look, stop if at most ``stop_at_most`` responded (-1: never).
    final_min : int
        Reject H0 at the end with at least this many responders of ``n``.
    """
    final_min = final_success_minimum(p0, prior, success, n)
    boundaries = []
    for seen in looks:
        x = np.arange(seen + 1)
        if method == "posterior":
            probability = posterior_above(p0, prior, x, seen)
        else:
            probability = predictive_success(prior, x, seen, n, final_min)
        futile = np.flatnonzero(probability < below)
        boundaries.append((seen, int(futile.max()) if futile.size else -1))
    return tuple(boundaries), final_min


def efficacy_minimum(p0: float, prior: tuple[float, float], above: float, seen: int) -> int | None:
    """Fewest responders of ``seen`` with P(p > p0 | data) >= ``above`` (None if none).

    The posterior probability grows with the responders, so every count from
    this one on stops the stage for efficacy.
    """
    reaches = posterior_above(p0, prior, np.arange(seen + 1), seen) >= above
    return int(np.argmax(reaches)) if reaches.any() else None


class BayesMonitoring(StageMonitoringRule[BayesRule]):
    """``test: bayes``: futility looks and a final posterior test, compiled to counts.

    Examples
    --------
    >>> spec = BayesRule(test="bayes", p0=0.1, n=29, looks=[10], futility_below=0.1)
    >>> print(BayesMonitoring(spec).describe())
    Bayesian monitoring, Beta(1, 1) prior, success if P(p > 0.1 | data) >= 0.95, futility \
by the predictive probability of success < 0.1: stop the stage if at most 0 of the first 10 \
evaluable patients respond; reject H0 if at least 6 of 29 respond
    """

    def check(self, spec: Scenario, index: int, at: Locator) -> list[Problem]:
        """One stage, evaluable patients, no `versus`; futility and efficacy bounds apart."""
        found = super().check(spec, index, at)
        crossing = [
            look.n
            for look in self.compile().looks
            if look.futility_max is not None
            and look.efficacy_min is not None
            and look.futility_max >= look.efficacy_min
        ]
        if crossing:
            message = (
                f"at the looks after {crossing} evaluable, a count would stop both for futility "
                "and for efficacy: raise efficacy_above or lower futility_below"
            )
            path = ("endpoints", index, "rule", "efficacy_above")
            found.append(at.problem(path, "bayes_bounds_cross", message, self.spec.efficacy_above))
        return found

    def compile(self) -> BoundaryTable:
        """At each look the futility maximum and efficacy minimum; the final minimum."""
        rule = self.spec
        looks, final_min = futility_boundaries(
            rule.p0,
            (rule.prior[0], rule.prior[1]),
            rule.success,
            rule.n,
            rule.looks,
            rule.futility,
            rule.futility_below,
        )
        prior = (rule.prior[0], rule.prior[1])
        return BoundaryTable(
            tuple(
                Look(
                    n,
                    None if most < 0 else most,
                    None
                    if rule.efficacy_above is None
                    else efficacy_minimum(rule.p0, prior, rule.efficacy_above, n),
                )
                for n, most in looks
            ),
            rule.n,
            final_min,
        )

    def describe(self) -> str:
        """The rule's parameters and its table in words."""
        rule = self.spec
        futility = (
            "the posterior P(p > p0 | data)"
            if rule.futility == "posterior"
            else "the predictive probability of success"
        )
        efficacy = (
            ""
            if rule.efficacy_above is None
            else f", efficacy at a look if P(p > {rule.p0:g} | data) >= {rule.efficacy_above:g}"
        )
        return (
            f"Bayesian monitoring, Beta({rule.prior[0]:g}, {rule.prior[1]:g}) prior, success if "
            f"P(p > {rule.p0:g} | data) >= {rule.success:g}, futility by {futility} "
            f"< {rule.futility_below:g}{efficacy}: " + self.compile().describe()
        )
