"""Summarise a Monte Carlo run: :func:`summarise` builds the typed :class:`Summary`.

Each simulated number comes with its Monte Carlo error, beside the exact value
where the design admits one; the types are in :mod:`trialsim.planning.summary_types`.
"""

from __future__ import annotations

import math
from typing import TypedDict

from trialsim import __version__
from trialsim.exact.scenario_values import plan_exact_characteristics
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

__all__ = ["Summary", "distribution", "proportion_se", "summarise"]


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
