"""Summaries of a Monte Carlo run, each number with its Monte Carlo error."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trialsim import __version__
from trialsim.exact.pathway import exact_operating_characteristics, rates_are_drawn
from trialsim.model.draws import null_response_rate
from trialsim.run.records import ALTERNATIVE, NULL, STAGE_COUNTS, SUBGROUP_COUNTS
from trialsim.run.runner import SimulationResult

QUANTILES = (("p05", 0.05), ("p50", 0.50), ("p95", 0.95))


def proportion_se(estimate: float, count: int) -> float:
    """Monte Carlo standard error of a proportion estimated from ``count`` replicates."""
    return math.sqrt(max(estimate * (1.0 - estimate), 0.0) / count) if count else math.nan


def distribution(
    result: SimulationResult, column: str, world: int = ALTERNATIVE
) -> dict[str, float]:
    """Mean of a record column, its Monte Carlo standard error, and 5th, 50th, 95th percentiles.

    Percentiles are the inverse of the empirical distribution function, read off
    the column's histogram: exact for whole numbers, to 0.01 week for weeks.
    """
    histogram = result.histogram(world, column)
    summary = {"mean": result.mean(world, column), "mean_se": result.mean_se(world, column)}
    for name, q in QUANTILES:
        summary[name] = histogram.quantile(q)
    return summary


def summarise(result: SimulationResult) -> dict[str, Any]:
    """Everything SPEC §6 asks of a run, as a JSON-ready dictionary.

    Parameters
    ----------
    result : SimulationResult
        From :func:`trialsim.run.runner.run_trials`.

    Returns
    -------
    dict
        Keys ``trialsim_version``, ``scenario``, ``seed``, ``replicates``, ``jobs``,
        ``elapsed_seconds``, ``endpoints``, ``enrollment``, ``duration_weeks``,
        ``adverse_events``, ``stages``. Rates are proportions; times are weeks.

    Examples
    --------
    >>> from trialsim import load_scenario, run_trials
    >>> result = run_trials(load_scenario("scenarios/vk2_d3_2005.yaml"), 200, seed=1, jobs=1)
    >>> vk2 = summarise(result)["endpoints"]["vk2_response"]
    >>> vk2["power"], round(vk2["power_se"], 3), round(vk2["power_exact"], 3)
    (0.635, 0.034, 0.656)
    """
    plan = result.plan
    spec = result.scenario.spec
    summary: dict[str, Any] = {
        "trialsim_version": __version__,
        "scenario": {
            "name": spec.name,
            "title": spec.title,
            "path": result.scenario.path,
            "sha256": result.scenario.sha256,
        },
        "seed": result.seed,
        "replicates": result.replicates,
        "jobs": result.jobs,
        "elapsed_seconds": round(result.elapsed_seconds, 3),
        "endpoints": {},
    }
    alternative_rate = np.array([stage.response for stage in plan.stages])
    for index, endpoint in enumerate(plan.endpoints):
        prefix = f"endpoint.{endpoint.id}."

        def mean(name: str, world: int = ALTERNATIVE, prefix: str = prefix) -> float:
            return result.mean(world, prefix + name)

        def mean_se(name: str, prefix: str = prefix) -> float:
            return result.mean_se(ALTERNATIVE, prefix + name)

        exact_alternative = (
            None
            if rates_are_drawn(plan, endpoint)
            else exact_operating_characteristics(plan, endpoint, alternative_rate)
        )
        exact_null = exact_operating_characteristics(plan, endpoint, null_response_rate(plan))
        power = mean("reject")
        type1 = mean("reject", NULL)
        entry: dict[str, Any] = {
            "stages": [plan.stages[s].id for s in endpoint.stages],
            "population": "entered" if endpoint.population_entered else "evaluable",
            "rule": spec.endpoints[index].rule.model_dump(),
            "power": power,
            "power_se": proportion_se(power, result.replicates),
            "power_exact": exact_alternative.rejection if exact_alternative else None,
            "type1_error": type1,
            "type1_error_se": proportion_se(type1, result.replicates),
            "type1_error_exact": exact_null.rejection if exact_null else None,
            "early_stop": mean("stopped_early"),
            "early_stop_exact": exact_alternative.early_termination if exact_alternative else None,
            "early_stop_null": mean("stopped_early", NULL),
            "early_stop_null_exact": exact_null.early_termination if exact_null else None,
            "evaluable_mean": mean("denominator"),
            "evaluable_mean_se": mean_se("denominator"),
            "evaluable_mean_exact": exact_alternative.denominator_mean
            if exact_alternative
            else None,
            "responders_mean": mean("responders"),
            "responders_mean_se": mean_se("responders"),
            "responders_mean_exact": exact_alternative.responders_mean
            if exact_alternative
            else None,
            "true_rate_mean": mean("true_rate"),
            **_estimate_summary(result, prefix),
        }
        if endpoint.compares_arms:
            entry.update(
                versus=[plan.stages[s].id for s in endpoint.control_stages],
                control_evaluable_mean=mean("control_denominator"),
                control_evaluable_mean_se=mean_se("control_denominator"),
                control_responders_mean=mean("control_responders"),
                control_responders_mean_se=mean_se("control_responders"),
            )
        summary["endpoints"][endpoint.id] = entry
    summary["enrollment"] = {
        "registered": distribution(result, "registered"),
        **_arm_summary(result),
        "screened": distribution(result, "screened"),
        "turned_away": distribution(result, "turned_away"),
        "stage_entries": {s.id: distribution(result, f"stage.{s.id}.entered") for s in plan.stages},
    }
    summary["duration_weeks"] = {
        "analysis": distribution(result, "analysis_week"),
        "last_patient_off": distribution(result, "last_patient_off_week"),
        "last_registration": distribution(result, "last_registration_week"),
    }
    summary["adverse_events"] = {}
    for name in plan.adverse_event_names:
        column = f"adverse_event.{name}.patients"
        any_probability = result.histogram(ALTERNATIVE, column).share_above(0)
        summary["adverse_events"][name] = {
            "mean_patients": result.mean(ALTERNATIVE, column),
            "mean_patients_se": result.mean_se(ALTERNATIVE, column),
            "any_probability": any_probability,
            "any_probability_se": proportion_se(any_probability, result.replicates),
        }
    summary["stages"] = {stage.id: _stage_summary(result, stage.id) for stage in plan.stages}
    return summary


def _estimate_summary(result: SimulationResult, prefix: str) -> dict[str, float | None]:
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


def _arm_summary(result: SimulationResult) -> dict[str, Any]:
    """Patients randomised to each arm, when there is more than one."""
    arms = result.plan.arms
    if len(arms) < 2:
        return {}
    return {
        "arms": {
            arm.id: {
                "share": arm.share,
                "first_stage": result.plan.stages[arm.first_stage].id,
                "registered": distribution(result, f"arm.{arm.id}.registered"),
            }
            for arm in arms
        }
    }


def _stage_summary(result: SimulationResult, stage_id: str) -> dict[str, Any]:
    counts: dict[str, Any] = {
        world_name: {name: result.mean(world, f"stage.{stage_id}.{name}") for name in STAGE_COUNTS}
        for world, world_name in ((ALTERNATIVE, "alternative"), (NULL, "null"))
    }
    groups = result.plan.subgroup_names
    if len(groups) > 1:
        counts["subgroups"] = {
            group: {
                name: result.mean(ALTERNATIVE, f"stage.{stage_id}.{group}.{name}")
                for name in SUBGROUP_COUNTS
            }
            for group in groups
        }
    return counts
