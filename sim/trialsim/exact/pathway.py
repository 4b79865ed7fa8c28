"""Exact operating characteristics by binomial enumeration.

Every registered patient independently ends in one of three states for an
endpoint: outside its denominator, in it without success, or in it with
success. The number registered is fixed, or ``min(patients, Poisson)`` when
accrual can stop at ``max_months``. Summing the exact test's rejection region
over those distributions gives power and type I error without simulation. This
is the oracle the simulation is tested against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from trialsim.model.plan import NO_CAP, EndpointPlan, StagePlan, TrialPlan
from trialsim.rules.binomial import NEGLIGIBLE_MASS, binomial_pmf, log_factorials

COMPARISON_MAX_PATIENTS = 300  # beyond this, summing a two-group test over group sizes is too slow


@dataclass(frozen=True)
class ExactCharacteristics:
    """Exact operating characteristics of one endpoint in one world.

    Attributes
    ----------
    rejection : float
        Probability that the test rejects H0 (power or type I error).
    denominator_mean : float
        Expected number of patients in the denominator.
    responders_mean : float
        Expected number of responders counted.
    success_rate : float
        Probability that a patient in the denominator succeeds (the estimand);
        for a two-group comparison, the experimental minus the control rate.
    early_termination : float
        Probability that an interim analysis stops the endpoint's stage.
    """

    rejection: float
    denominator_mean: float
    responders_mean: float
    success_rate: float
    early_termination: float = 0.0

    def __post_init__(self) -> None:
        # Plain floats, not NumPy scalars, whatever the arithmetic that made them.
        for field in fields(self):
            object.__setattr__(self, field.name, float(getattr(self, field.name)))


def completion_probability(stage: StagePlan) -> float:
    """Probability that a patient entering ``stage`` is assessed and evaluable."""
    stays = 1.0 - (1.0 - math.exp(-stage.dropout_per_week * stage.weeks))
    for event in stage.adverse_events:
        if event.discontinues:
            stays *= 1.0 - event.probability
    return stays * (1.0 - stage.not_evaluable)


def patient_probabilities(
    plan: TrialPlan, endpoint: EndpointPlan, response_rate: np.ndarray
) -> tuple[float, float]:
    """Per-registered-patient probabilities for an endpoint.

    Parameters
    ----------
    plan : TrialPlan
    endpoint : EndpointPlan
    response_rate : ndarray, shape (stages, subgroups)

    Returns
    -------
    in_denominator : float
        P(the patient counts in the denominator).
    success_given_in : float
        P(success | in the denominator): the rate the endpoint estimates.
    """
    p_in, success = patient_probabilities_of(plan, endpoint, response_rate)
    return float(p_in), float(success)


def patient_probabilities_of(
    plan: TrialPlan, endpoint: EndpointPlan, response_rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`patient_probabilities` for many sets of response rates at once.

    Parameters
    ----------
    response_rate : ndarray, shape (..., stages, subgroups)

    Returns
    -------
    in_denominator, success_given_in : ndarray, shape (...)
    """
    weights = np.diff(plan.subgroup_cumulative, prepend=0.0)
    evaluable = np.array([completion_probability(s) for s in plan.stages])
    first = endpoint.stages[0]
    rate = np.asarray(response_rate, dtype=float)
    reach = np.zeros(rate.shape[:-2] + weights.shape)
    for arm, route in plan.routes_to(first):
        arm_reach = np.full_like(reach, arm.share)
        for stage, following in zip(route, route[1:], strict=False):
            entry = plan.stages[following].entry
            arm_reach = arm_reach * evaluable[stage] * (1 - rate[..., stage, :]) * entry
        reach += arm_reach
    success_later = np.zeros_like(reach)
    for s in reversed(endpoint.stages[1:]):
        entry = plan.stages[s].entry
        success_later = (
            entry * evaluable[s] * (rate[..., s, :] + (1 - rate[..., s, :]) * success_later)
        )
    success_if_evaluable = rate[..., first, :] + (1 - rate[..., first, :]) * success_later
    joint_success = reach * evaluable[first] * success_if_evaluable
    in_denominator = reach if endpoint.population_entered else reach * evaluable[first]
    p_in = (in_denominator * weights).sum(axis=-1)
    p_success = (joint_success * weights).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        success = np.where(p_in > 0, p_success / p_in, 0.0)
    return p_in, success


def registrations_distribution(plan: TrialPlan) -> np.ndarray:
    """P(registered = k), k = 0..patients.

    Registration stops at ``patients`` or when accrual stops; the Poisson
    count up to the stop week is capped at ``patients``.
    """
    probabilities = np.zeros(plan.patients + 1)
    if math.isinf(plan.accrual_stop_week):
        probabilities[-1] = 1.0
        return probabilities
    mean = plan.expected_registrations_by(plan.accrual_stop_week)
    k = np.arange(plan.patients)
    probabilities[:-1] = (
        np.exp(k * math.log(mean) - mean - log_factorials(plan.patients)[k]) if mean > 0 else k == 0
    )
    probabilities[-1] = max(1.0 - probabilities[:-1].sum(), 0.0)
    return probabilities


def exact_allowed(plan: TrialPlan, endpoint: EndpointPlan) -> bool:
    """Whether the design admits an exact calculation for ``endpoint``.

    It does with a complete cutoff and no stage caps or interim rules on the
    stages patients pass through up to the endpoint's stages. (Accrual stopped
    by ``max_months`` is exact too: the number registered is a capped Poisson.)
    """
    if not plan.cutoff_is_complete:
        return False
    return all(not plan.stages[s].observed for s in stages_counted(plan, endpoint))


def rates_are_drawn(plan: TrialPlan, endpoint: EndpointPlan) -> bool:
    """Whether any stage up to the endpoint's stages draws its rate from a prior."""
    return any(plan.stages[s].response_prior is not None for s in stages_counted(plan, endpoint))


def stages_counted(plan: TrialPlan, endpoint: EndpointPlan) -> set[int]:
    """Stages whose outcomes decide the endpoint: its groups' stages and the routes to them."""
    counted: set[int] = set()
    for last in (endpoint.stages[-1], *endpoint.control_stages[-1:]):
        for _, route in plan.routes_to(last):
            counted.update(route)
    return counted


def exact_operating_characteristics(
    plan: TrialPlan, endpoint: EndpointPlan, response_rate: np.ndarray
) -> ExactCharacteristics | None:
    """Exact rejection probability and expected counts for one endpoint.

    Parameters
    ----------
    plan : TrialPlan
    endpoint : EndpointPlan
    response_rate : ndarray, shape (stages, subgroups)
        The world's true response rates.

    Returns
    -------
    ExactCharacteristics or None
        None when the design admits no exact value (see :func:`exact_allowed`).

    Examples
    --------
    >>> from trialsim.model.plan import compile_plan
    >>> from trialsim import load_scenario
    >>> plan = compile_plan(load_scenario("scenarios/vk2_d3_2005.yaml").spec)
    >>> as_written = np.array([stage.response for stage in plan.stages])
    >>> round(exact_operating_characteristics(plan, plan.endpoints[0], as_written).rejection, 3)
    0.656
    """
    if endpoint.monitored:
        return _monitored_exact(plan, endpoint, response_rate)
    if not exact_allowed(plan, endpoint):
        return None
    if endpoint.compares_arms:
        return _comparison_exact(plan, endpoint, response_rate)
    p_in, p_success = patient_probabilities(plan, endpoint, response_rate)
    counts = np.arange(plan.patients + 1)
    registered = registrations_distribution(plan)
    denominators = np.zeros(plan.patients + 1)
    for k in np.flatnonzero(registered > 0):
        denominators[: k + 1] += registered[k] * binomial_pmf(counts[: k + 1], int(k), p_in)
    rejection = endpoint.decision.rejection_probability(denominators, (p_success,))
    mean_registered = float(registered @ counts)
    return ExactCharacteristics(
        rejection=min(rejection, 1.0),
        denominator_mean=mean_registered * p_in,
        responders_mean=mean_registered * p_in * p_success,
        success_rate=p_success,
    )


def _monitored_exact(
    plan: TrialPlan, endpoint: EndpointPlan, response_rate: np.ndarray
) -> ExactCharacteristics | None:
    """Exact values for a monitored first stage that pauses at its looks.

    Then the stage's evaluable patients are independent with one response
    probability, and each look reads exactly the first patients it counts.
    The value assumes registration lasts until ``n`` are evaluable; the
    simulation reports how often it fell short.
    """
    stage = plan.stages[endpoint.stages[0]]
    interim = stage.interim
    if (
        interim is None
        or endpoint.stages[0] not in {arm.first_stage for arm in plan.arms}
        or not interim.pause
        or not plan.cutoff_is_complete
        or stage.max_entries < NO_CAP
        or not math.isinf(plan.accrual_stop_week)
    ):
        return None
    _, p_success = patient_probabilities(plan, endpoint, response_rate)
    result = interim.table.characteristics(p_success)
    return ExactCharacteristics(
        rejection=result.rejection,
        denominator_mean=result.expected_n,
        responders_mean=result.expected_n * p_success,
        success_rate=p_success,
        early_termination=result.early_termination,
    )


def _comparison_exact(
    plan: TrialPlan, endpoint: EndpointPlan, response_rate: np.ndarray
) -> ExactCharacteristics | None:
    """Exact values of a two-group comparison.

    Each registered patient independently lands in the experimental
    denominator, the control denominator, or neither; the decision sums its
    rejection probability over the resulting group sizes.
    """
    if plan.patients > COMPARISON_MAX_PATIENTS:
        return None
    control = replace(endpoint, stages=endpoint.control_stages, control_stages=())
    in_experimental, experimental_rate = patient_probabilities(plan, endpoint, response_rate)
    in_control, control_rate = patient_probabilities(plan, control, response_rate)
    size_mass = np.zeros((plan.patients + 1, plan.patients + 1))
    registered = registrations_distribution(plan)
    control_given_not_experimental = in_control / (1 - in_experimental) if in_control > 0 else 0.0
    for k in np.flatnonzero(registered > NEGLIGIBLE_MASS):
        experimental_sizes = binomial_pmf(np.arange(k + 1), int(k), in_experimental)
        for a in np.flatnonzero(experimental_sizes * registered[k] > NEGLIGIBLE_MASS):
            control_sizes = binomial_pmf(
                np.arange(k - a + 1), int(k - a), control_given_not_experimental
            )
            size_mass[a, : k - a + 1] += registered[k] * experimental_sizes[a] * control_sizes
    rejection = endpoint.decision.rejection_probability(
        size_mass, (experimental_rate, control_rate)
    )
    mean_registered = float(registered @ np.arange(plan.patients + 1))
    return ExactCharacteristics(
        rejection=min(float(rejection), 1.0),
        denominator_mean=mean_registered * in_experimental,
        responders_mean=mean_registered * in_experimental * experimental_rate,
        success_rate=experimental_rate - control_rate,
    )
