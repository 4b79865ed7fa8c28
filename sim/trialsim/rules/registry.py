"""Where a rule kind is found: the ``test:`` of an endpoint's rule names its class.

To add a rule kind, write its schema model (:mod:`trialsim.scenario.schema`),
its class (a :class:`~trialsim.rules.base.Rule`) and one entry in :data:`RULES`;
see ``docs/extending.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trialsim.rules.base import Rule
from trialsim.rules.bayes import BayesMonitoring
from trialsim.rules.bop2 import Bop2Monitoring
from trialsim.rules.boundaries import Boundaries
from trialsim.rules.exact_binomial import ExactBinomialTest
from trialsim.rules.fisher import FisherComparison
from trialsim.rules.simon import SimonTwoStage

RULES: dict[str, Callable[[Any], Rule]] = {
    "exact_binomial": ExactBinomialTest,
    "simon": SimonTwoStage,
    "bayes": BayesMonitoring,
    "fisher": FisherComparison,
    "boundaries": Boundaries,
    "bop2": Bop2Monitoring,
}


def rule_for(schema_rule: Any) -> Rule:
    """The rule object of an endpoint's ``rule`` (a schema model with a ``test`` name).

    Parameters
    ----------
    schema_rule : pydantic model
        E.g. :class:`~trialsim.scenario.schema.SimonRule`.

    Returns
    -------
    Rule

    Raises
    ------
    KeyError
        When no rule kind has that ``test`` name.

    Examples
    --------
    >>> from trialsim.scenario.rule_schema import FisherRule
    >>> rule_for(FisherRule(test="fisher", alpha=0.1)).alpha
    0.1
    """
    try:
        make = RULES[schema_rule.test]
    except KeyError:
        raise KeyError(f"no rule kind {schema_rule.test!r}; known: {', '.join(RULES)}") from None
    return make(schema_rule)
