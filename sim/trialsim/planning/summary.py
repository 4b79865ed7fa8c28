"""Summarise a Monte Carlo run: :func:`summarise` builds the typed :class:`Summary`.

Each simulated number comes with its Monte Carlo error, beside the exact value
where the design admits one; the types are in :mod:`trialsim.planning.summary_types`.
Where a simulated value and its exact value differ by more than
:data:`WARNING_SE` Monte Carlo standard errors the endpoint carries a warning
naming the design features, read off the plan and the run's tallies, that the
exact calculation does not model (:func:`endpoint_warnings`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TypedDict

from trialsim import __version__
from trialsim.exact.scenario_values import plan_exact_characteristics
from trialsim.model.plan import NO_CAP, EndpointPlan
from trialsim.planning.summary_types import (
    AdverseEventSummary,
    ArmSummary,
    ControlGroupSummary,
    Distribution,
    DurationSummary,
    EndpointSummary,
    EnrollmentSummary,
    ScenarioSource,
    StageCounts,
    StageSummary,
    SubgroupCounts,
    Summary,
)
from trialsim.run.records import ALTERNATIVE, NULL, STAGE_COUNTS, SUBGROUP_COUNTS
from trialsim.run.runner import SimulationResult

__all__ = [
    "WARNING_SE",
    "Summary",
    "distribution",
    "endpoint_warnings",
    "proportion_se",
    "summarise",
]

WARNING_SE = 4.0  # a simulated value this many Monte Carlo SEs from its exact value is flagged
PROPORTIONS = 4  # the first pairs compared by endpoint_warnings are proportions


def proportion_se(estimate: float, count: int) -> float:
    """Monte Carlo standard error of a proportion estimated from ``count`` replicates."""
    return math.sqrt(max(estimate * (1.0 - estimate), 0.0) / count) if count else math.nan


def distribution(result: SimulationResult, column: str, world: int = ALTERNATIVE) -> Distribution:
    """Mean of a record column, its Monte Carlo standard error, and 5th, 50th, 95th percentiles.

    Percentiles are the inverse of the empirical distribution function, read off
    the column's histogram: exact for whole numbers, to 0.01 week for weeks.
    """
    histogram = result.histogram(world, column)
    return Distribution(
        mean=result.mean(world, column),
        mean_se=result.mean_se(world, column),
        p05=histogram.quantile(0.05),
        p50=histogram.quantile(0.50),
        p95=histogram.quantile(0.95),
    )


def summarise(result: SimulationResult) -> Summary:
    """Everything SPEC §6 asks of a run, typed; ``.to_dict()`` is summary.json's dictionary.

    Parameters
    ----------
    result : SimulationResult
        From :func:`trialsim.run_trials`.

    Returns
    -------
    Summary
        Per endpoint (power, type I error, early stopping: proportions; counts:
        patients per trial; each with its Monte Carlo SE and exact value where
        the design admits one), enrollment (patients), durations (weeks), adverse
        events and per-stage counts.

    Examples
    --------
    >>> from trialsim import load_scenario, run_trials
    >>> result = run_trials(load_scenario("scenarios/vk2_d3_2005.yaml"), 200, seed=1, jobs=1)
    >>> vk2 = summarise(result).endpoints["vk2_response"]
    >>> vk2.power, round(vk2.power_se, 3), round(vk2.power_exact, 3)
    (0.635, 0.034, 0.656)
    """
    plan = result.plan
    exact = plan_exact_characteristics(plan)
    endpoints = {}
    for index, endpoint in enumerate(plan.endpoints):
        prefix = f"endpoint.{endpoint.id}."

        def mean(name: str, world: int = ALTERNATIVE, prefix: str = prefix) -> float:
            return result.mean(world, prefix + name)

        def mean_se(name: str, prefix: str = prefix) -> float:
            return result.mean_se(ALTERNATIVE, prefix + name)

        alternative, null = exact[endpoint.id].alternative, exact[endpoint.id].null
        power = mean("reject")
        type1 = mean("reject", NULL)
        control = None
        if endpoint.compares_arms:
            control = ControlGroupSummary(
                versus=tuple(plan.stages[s].id for s in endpoint.control_stages),
                evaluable_mean=mean("control_denominator"),
                evaluable_mean_se=mean_se("control_denominator"),
                responders_mean=mean("control_responders"),
                responders_mean_se=mean_se("control_responders"),
            )
        endpoints[endpoint.id] = EndpointSummary(
            stages=tuple(plan.stages[s].id for s in endpoint.stages),
            population="entered" if endpoint.population_entered else "evaluable",
            rule=result.scenario.spec.endpoints[index].rule,
            power=power,
            power_se=proportion_se(power, result.replicates),
            power_exact=alternative.rejection if alternative else None,
            type1_error=type1,
            type1_error_se=proportion_se(type1, result.replicates),
            type1_error_exact=null.rejection if null else None,
            early_stop=mean("stopped_early"),
            early_stop_exact=alternative.early_termination if alternative else None,
            early_stop_null=mean("stopped_early", NULL),
            early_stop_null_exact=null.early_termination if null else None,
            evaluable_mean=mean("denominator"),
            evaluable_mean_se=mean_se("denominator"),
            evaluable_mean_exact=alternative.denominator_mean if alternative else None,
            responders_mean=mean("responders"),
            responders_mean_se=mean_se("responders"),
            responders_mean_exact=alternative.responders_mean if alternative else None,
            true_rate_mean=mean("true_rate"),
            **_estimate_summary(result, prefix),
            control=control,
        )
        endpoints[endpoint.id] = replace(
            endpoints[endpoint.id],
            warnings=endpoint_warnings(result, endpoint, endpoints[endpoint.id]),
        )
    return Summary(
        trialsim_version=__version__,
        scenario=ScenarioSource.of(result.scenario),
        seed=result.seed,
        replicates=result.replicates,
        jobs=result.jobs,
        elapsed_seconds=round(result.elapsed_seconds, 3),
        endpoints=endpoints,
        enrollment=EnrollmentSummary(
            registered=distribution(result, "registered"),
            screened=distribution(result, "screened"),
            turned_away=distribution(result, "turned_away"),
            arms=_arm_summary(result),
            stage_entries={
                s.id: distribution(result, f"stage.{s.id}.entered") for s in plan.stages
            },
        ),
        duration_weeks=DurationSummary(
            analysis=distribution(result, "analysis_week"),
            last_patient_off=distribution(result, "last_patient_off_week"),
            last_registration=distribution(result, "last_registration_week"),
        ),
        adverse_events={
            name: _adverse_event_summary(result, name) for name in plan.adverse_event_names
        },
        stages={stage.id: _stage_summary(result, stage.id) for stage in plan.stages},
    )


class _Estimate(TypedDict):
    estimate_mean: float | None
    estimate_bias: float | None
    estimate_bias_se: float | None
    ci_coverage: float | None
    ci_coverage_se: float | None
    estimate_defined: float


def _estimate_summary(result: SimulationResult, prefix: str) -> _Estimate:
    """Mean estimate of the endpoint's rate (or difference of rates), its bias and CI coverage.

    Over the replicates where the estimate is defined (a positive denominator in
    every group). No interval is computed for a difference, so its coverage is None.
    """
    defined = result.defined(ALTERNATIVE, prefix + "estimate")
    if defined == 0:
        return {
            "estimate_mean": None,
            "estimate_bias": None,
            "estimate_bias_se": None,
            "ci_coverage": None,
            "ci_coverage_se": None,
            "estimate_defined": 0.0,
        }
    covered = result.defined(ALTERNATIVE, prefix + "covered")
    coverage = result.mean(ALTERNATIVE, prefix + "covered") if covered else None
    return {
        "estimate_mean": result.mean(ALTERNATIVE, prefix + "estimate"),
        "estimate_bias": result.mean(ALTERNATIVE, prefix + "error"),
        "estimate_bias_se": result.mean_se(ALTERNATIVE, prefix + "error"),
        "ci_coverage": coverage,
        "ci_coverage_se": None if coverage is None else proportion_se(coverage, covered),
        "estimate_defined": defined / result.replicates,
    }


def _arm_summary(result: SimulationResult) -> dict[str, ArmSummary]:
    """Patients randomised to each arm, when there is more than one."""
    arms = result.plan.arms
    if len(arms) < 2:
        return {}
    return {
        arm.id: ArmSummary(
            share=arm.share,
            first_stage=result.plan.stages[arm.first_stage].id,
            registered=distribution(result, f"arm.{arm.id}.registered"),
        )
        for arm in arms
    }


def _adverse_event_summary(result: SimulationResult, name: str) -> AdverseEventSummary:
    column = f"adverse_event.{name}.patients"
    any_probability = result.histogram(ALTERNATIVE, column).share_above(0)
    return AdverseEventSummary(
        mean_patients=result.mean(ALTERNATIVE, column),
        mean_patients_se=result.mean_se(ALTERNATIVE, column),
        any_probability=any_probability,
        any_probability_se=proportion_se(any_probability, result.replicates),
    )


def _stage_summary(result: SimulationResult, stage_id: str) -> StageSummary:
    def counts(world: int) -> StageCounts:
        return StageCounts(
            **{name: result.mean(world, f"stage.{stage_id}.{name}") for name in STAGE_COUNTS}
        )

    groups = result.plan.subgroup_names
    subgroups = {
        group: SubgroupCounts(
            **{
                name: result.mean(ALTERNATIVE, f"stage.{stage_id}.{group}.{name}")
                for name in SUBGROUP_COUNTS
            }
        )
        for group in (groups if len(groups) > 1 else ())
    }
    return StageSummary(counts(ALTERNATIVE), counts(NULL), subgroups)


def endpoint_warnings(
    result: SimulationResult, endpoint: EndpointPlan, summary: EndpointSummary
) -> tuple[str, ...]:
    """One warning per simulated value more than :data:`WARNING_SE` SEs from its exact value.

    Parameters
    ----------
    result : SimulationResult
    endpoint : EndpointPlan
    summary : EndpointSummary
        The endpoint's numbers, without warnings.

    Returns
    -------
    tuple of str
        E.g. ``"power 0.343 ± 0.005 vs exact 0.758 (87 SE): <features>"``, where
        the features are those of the design the exact value does not model
        (empty when the values agree).
    """
    replicates = result.replicates
    pairs = (
        ("power", summary.power, summary.power_se, summary.power_exact),
        ("type I error", summary.type1_error, summary.type1_error_se, summary.type1_error_exact),
        (
            "early stop",
            summary.early_stop,
            proportion_se(summary.early_stop, replicates),
            summary.early_stop_exact,
        ),
        (
            "early stop (null)",
            summary.early_stop_null,
            proportion_se(summary.early_stop_null, replicates),
            summary.early_stop_null_exact,
        ),
        (
            "evaluable patients",
            summary.evaluable_mean,
            summary.evaluable_mean_se,
            summary.evaluable_mean_exact,
        ),
        (
            "responders",
            summary.responders_mean,
            summary.responders_mean_se,
            summary.responders_mean_exact,
        ),
    )
    warnings = []
    for k, (name, simulated, se, exact) in enumerate(pairs):
        if exact is None or not math.isfinite(simulated):
            continue
        # A run that never saw a rare event has SE 0: the error is at least that of
        # one replicate's difference, and for a proportion that of the exact value.
        floor = 1.0 / replicates
        if k < PROPORTIONS:
            floor = max(floor, proportion_se(exact, replicates))
        error = max(se, floor)
        gap = abs(simulated - exact)
        if gap > WARNING_SE * error:
            features = "; ".join(design_features(result, endpoint)) or (
                "no design feature found to explain it: rerun with more replicates, "
                "and report it if it persists"
            )
            warnings.append(
                f"{name} {simulated:.3f} ± {se:.3f} vs exact {exact:.3f} "
                f"({gap / error:.0f} SE): {features}"
            )
    return tuple(warnings)


def design_features(result: SimulationResult, endpoint: EndpointPlan) -> list[str]:
    """The features of the endpoint's design that exact values do not model, with their extent.

    Read from the plan and the alternative world's tallies: candidates turned
    away by a paused first stage, a monitored stage that fell short of its
    ``n`` (registration ended first), a data cut, accrual stopped by
    ``max_months``, stage caps that turned patients away, patients admitted
    while a look was pending, and rates drawn from a prior.
    """
    plan = result.plan
    features = []
    first = plan.stages[endpoint.stages[0]]
    first_ids = {plan.stages[arm.first_stage].id for arm in plan.arms}
    counted = {plan.stages[s].id for s in endpoint.stages} | first_ids
    for stage in plan.stages:
        column = f"stage.{stage.id}."
        turned = result.mean(ALTERNATIVE, column + "turned_away")
        if stage.interim is not None and stage.interim.pause and stage.id in first_ids and turned:
            features.append(
                f"stage {stage.id} held registration (interim pause, or its n pending), "
                f"turning away {turned:.1f} candidates per trial"
            )
        if stage.max_entries < NO_CAP and turned and stage.id in counted:
            features.append(
                f"stage {stage.id}'s cap of {stage.max_entries} entries turned away "
                f"{turned:.1f} patients per trial"
            )
    if endpoint.monitored and first.interim is not None:
        n = first.interim.table.n
        column = f"stage.{first.id}."
        short = 1.0 - result.histogram(ALTERNATIVE, column + "evaluable").share_above(n - 0.5)
        short -= result.mean(ALTERNATIVE, column + "stopped_early")
        if short > 0.0005:
            features.append(
                f"stage {first.id} did not reach its n = {n} evaluable in {short:.1%} of trials: "
                f"registration ended first (enrollment.patients = {plan.patients})"
            )
        overrun = result.mean(ALTERNATIVE, column + "overrun")
        if overrun:
            features.append(
                f"{overrun:.1f} patients per trial entered stage {first.id} while a look was "
                "pending (during_interim: continue)"
            )
    if not plan.cutoff_is_complete:
        features.append(f"a data cut at week {plan.cutoff_week:g}")
    if math.isfinite(plan.accrual_stop_week):
        short = 1.0 - result.histogram(ALTERNATIVE, "registered").share_above(plan.patients - 0.5)
        if short > 0:
            features.append(f"accrual stopped by max_months in {short:.1%} of trials")
    if any(stage.response_prior is not None for stage in plan.stages):
        features.append("response rates drawn from a prior (assurance, not power)")
    return features
