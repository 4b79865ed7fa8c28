"""Exact operating characteristics of every endpoint of a scenario, in both worlds.

The alternative world has the response rates written in the scenario; the null
world has every stage at its null response rate. Where the design admits no
exact value (a calendar cutoff, a stage cap, response rates drawn from a prior
for the alternative world) the world's entry is None.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from trialsim.exact.pathway import ExactCharacteristics, rates_are_drawn
from trialsim.exact.pathway import (
    exact_operating_characteristics as endpoint_characteristics,
)
from trialsim.model.draws import null_response_rate
from trialsim.model.plan import TrialPlan, compile_plan
from trialsim.scenario.load import LoadedScenario


@dataclass(frozen=True)
class EndpointExactCharacteristics:
    """One endpoint's exact operating characteristics in the two worlds.

    Attributes
    ----------
    alternative : ExactCharacteristics or None
        Response rates as written: ``rejection`` is the power. None where the
        design admits no exact value or a rate is drawn from a prior.
    null : ExactCharacteristics or None
        Every stage at its null response rate: ``rejection`` is the type I error.
        None where the design admits no exact value.
    """

    alternative: ExactCharacteristics | None
    null: ExactCharacteristics | None


def plan_exact_characteristics(
    plan: TrialPlan, endpoint_ids: Collection[str] | None = None
) -> dict[str, EndpointExactCharacteristics]:
    """:func:`exact_operating_characteristics` of a compiled plan, for some or all endpoints.

    Parameters
    ----------
    plan : TrialPlan
    endpoint_ids : collection of str, optional
        The endpoints wanted (default: all), reported in the plan's order.
    """
    alternative_rate = np.array([stage.response for stage in plan.stages])
    null_rate = null_response_rate(plan)
    return {
        endpoint.id: EndpointExactCharacteristics(
            alternative=None
            if rates_are_drawn(plan, endpoint)
            else endpoint_characteristics(plan, endpoint, alternative_rate),
            null=endpoint_characteristics(plan, endpoint, null_rate),
        )
        for endpoint in plan.endpoints
        if endpoint_ids is None or endpoint.id in endpoint_ids
    }


def exact_operating_characteristics(
    scenario: LoadedScenario,
) -> dict[str, EndpointExactCharacteristics]:
    """Exact power, type I error and expected counts of every endpoint, without simulation.

    Parameters
    ----------
    scenario : LoadedScenario
        From :func:`trialsim.load_scenario` (or :func:`trialsim.apply_overrides`).

    Returns
    -------
    dict of str to EndpointExactCharacteristics
        Endpoint id to its values in the alternative and null worlds, in the
        scenario's order. Rejection and early-termination probabilities are
        proportions; ``denominator_mean`` and ``responders_mean`` are patients
        per trial.

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> exact = exact_operating_characteristics(load_scenario("scenarios/vk2_d3_2005.yaml"))
    >>> vk2 = exact["vk2_response"]
    >>> round(vk2.alternative.rejection, 3), round(vk2.null.rejection, 3)
    (0.656, 0.027)
    """
    return plan_exact_characteristics(compile_plan(scenario.spec))
