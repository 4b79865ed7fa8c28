"""Summaries of a Monte Carlo run, each number with its Monte Carlo error."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trialsim import __version__
from trialsim.binomial import clopper_pearson_covers
from trialsim.draws import null_response_rate
from trialsim.exact import exact_operating_characteristics, rates_are_drawn
from trialsim.records import ALTERNATIVE, NULL, STAGE_COUNTS
from trialsim.runner import SimulationResult

QUANTILES = (("p05", 0.05), ("p50", 0.50), ("p95", 0.95))


def proportion_se(estimate: float, count: int) -> float:
    """Monte Carlo standard error of a proportion estimated from ``count`` replicates."""
    return math.sqrt(max(estimate * (1.0 - estimate), 0.0) / count) if count else math.nan


def distribution(values: np.ndarray) -> dict[str, float]:
    """Mean, its Monte Carlo standard error, and the 5th, 50th and 95th percentiles."""
    values = np.asarray(values, dtype=float)
    summary = {"mean": float(values.mean()), "mean_se": _mean_se(values)}
    for name, q in QUANTILES:
        summary[name] = float(np.quantile(values, q))
    return summary


def _mean_se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


def summarise(result: SimulationResult) -> dict[str, Any]:
    """Everything SPEC §6 asks of a run, as a JSON-ready dictionary.

    Parameters
    ----------
    result : SimulationResult
        From :func:`trialsim.runner.run_trials`.

    Returns
    -------
    dict
        Keys ``trialsim_version``, ``scenario``, ``seed``, ``replicates``, ``jobs``,
        ``elapsed_seconds``, ``endpoints``, ``enrollment``, ``duration_weeks``,
        ``adverse_events``, ``stages``. Rates are proportions; times are weeks.
    """
    plan, layout = result.plan, result.layout
    alternative, null = result.world(ALTERNATIVE), result.world(NULL)

    def column(records: np.ndarray, name: str) -> np.ndarray:
        return layout.column(records, name)

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
        exact_alternative = (
            None
            if rates_are_drawn(plan, endpoint)
            else exact_operating_characteristics(plan, endpoint, alternative_rate)
        )
        exact_null = exact_operating_characteristics(plan, endpoint, null_response_rate(plan))
        power = float(column(alternative, prefix + "reject").mean())
        type1 = float(column(null, prefix + "reject").mean())
        denominators = column(alternative, prefix + "denominator")
        responders = column(alternative, prefix + "responders")
        truth = column(alternative, prefix + "true_rate")
        if endpoint.compares_arms:
            control_denominators = column(alternative, prefix + "control_denominator")
            control_responders = column(alternative, prefix + "control_responders")
            estimate = _difference_summary(
                denominators, responders, control_denominators, control_responders, truth
            )
        else:
            estimate = _estimate_summary(denominators, responders, truth)
        summary["endpoints"][endpoint.id] = {
            "stages": [plan.stages[s].id for s in endpoint.stages],
            "population": "entered" if endpoint.population_entered else "evaluable",
            "rule": spec.endpoints[index].rule.model_dump(),
            "power": power,
            "power_se": proportion_se(power, result.replicates),
            "power_exact": exact_alternative.rejection if exact_alternative else None,
            "type1_error": type1,
            "type1_error_se": proportion_se(type1, result.replicates),
            "type1_error_exact": exact_null.rejection if exact_null else None,
            "early_stop": float(column(alternative, prefix + "stopped_early").mean()),
            "early_stop_exact": exact_alternative.early_termination if exact_alternative else None,
            "early_stop_null": float(column(null, prefix + "stopped_early").mean()),
            "early_stop_null_exact": exact_null.early_termination if exact_null else None,
            "evaluable_mean": float(denominators.mean()),
            "evaluable_mean_se": _mean_se(denominators),
            "evaluable_mean_exact": exact_alternative.denominator_mean
            if exact_alternative
            else None,
            "responders_mean": float(responders.mean()),
            "responders_mean_se": _mean_se(responders),
            "responders_mean_exact": exact_alternative.responders_mean
            if exact_alternative
            else None,
            "true_rate_mean": float(truth.mean()),
            **estimate,
        }
        if endpoint.compares_arms:
            summary["endpoints"][endpoint.id].update(
                versus=[plan.stages[s].id for s in endpoint.control_stages],
                control_evaluable_mean=float(control_denominators.mean()),
                control_evaluable_mean_se=_mean_se(control_denominators),
                control_responders_mean=float(control_responders.mean()),
                control_responders_mean_se=_mean_se(control_responders),
            )
    summary["enrollment"] = {
        "registered": distribution(column(alternative, "registered")),
        **_arm_summary(result, alternative),
        "screened": distribution(column(alternative, "screened")),
        "turned_away": distribution(
            np.sum([column(alternative, f"stage.{s.id}.turned_away") for s in plan.stages], axis=0)
        ),
        "stage_entries": {
            s.id: distribution(column(alternative, f"stage.{s.id}.entered")) for s in plan.stages
        },
    }
    summary["duration_weeks"] = {
        "analysis": distribution(column(alternative, "analysis_week")),
        "last_patient_off": distribution(column(alternative, "last_patient_off_week")),
        "last_registration": distribution(column(alternative, "last_registration_week")),
    }
    summary["adverse_events"] = {}
    for name in plan.adverse_event_names:
        patients = column(alternative, f"adverse_event.{name}.patients")
        any_probability = float((patients > 0).mean())
        summary["adverse_events"][name] = {
            "mean_patients": float(patients.mean()),
            "mean_patients_se": _mean_se(patients),
            "any_probability": any_probability,
            "any_probability_se": proportion_se(any_probability, result.replicates),
        }
    summary["stages"] = {
        stage.id: _stage_summary(result, stage.id, alternative, null) for stage in plan.stages
    }
    return summary


def _difference_summary(
    denominators: np.ndarray,
    responders: np.ndarray,
    control_denominators: np.ndarray,
    control_responders: np.ndarray,
    truth: np.ndarray,
) -> dict[str, float | None]:
    """The estimated difference in response rates (experimental - control) and its bias.

    No confidence interval is computed for a difference, so ``ci_coverage`` is None.
    """
    defined = (denominators > 0) & (control_denominators > 0)
    count = int(defined.sum())
    summary: dict[str, float | None] = {
        "estimate_mean": None,
        "estimate_bias": None,
        "estimate_bias_se": None,
        "ci_coverage": None,
        "ci_coverage_se": None,
        "estimate_defined": count / len(denominators),
    }
    if count:
        difference = (
            responders[defined] / denominators[defined]
            - control_responders[defined] / control_denominators[defined]
        )
        summary["estimate_mean"] = float(difference.mean())
        summary["estimate_bias"] = float((difference - truth[defined]).mean())
        summary["estimate_bias_se"] = _mean_se(difference - truth[defined])
    return summary


def _estimate_summary(
    denominators: np.ndarray, responders: np.ndarray, truth: np.ndarray
) -> dict[str, float | None]:
    defined = denominators > 0
    count = int(defined.sum())
    if count == 0:
        return {
            "estimate_mean": None,
            "estimate_bias": None,
            "estimate_bias_se": None,
            "ci_coverage": None,
            "ci_coverage_se": None,
            "estimate_defined": 0.0,
        }
    estimate = responders[defined] / denominators[defined]
    covered = clopper_pearson_covers(responders[defined], denominators[defined], truth[defined])
    coverage = float(covered.mean())
    return {
        "estimate_mean": float(estimate.mean()),
        "estimate_bias": float((estimate - truth[defined]).mean()),
        "estimate_bias_se": _mean_se(estimate - truth[defined]),
        "ci_coverage": coverage,
        "ci_coverage_se": proportion_se(coverage, count),
        "estimate_defined": count / len(denominators),
    }


def _arm_summary(result: SimulationResult, alternative: np.ndarray) -> dict[str, Any]:
    """Patients randomised to each arm, when there is more than one."""
    arms = result.plan.arms
    if len(arms) < 2:
        return {}
    return {
        "arms": {
            arm.id: {
                "share": arm.share,
                "first_stage": result.plan.stages[arm.first_stage].id,
                "registered": distribution(
                    result.layout.column(alternative, f"arm.{arm.id}.registered")
                ),
            }
            for arm in arms
        }
    }


def _stage_summary(
    result: SimulationResult, stage_id: str, alternative: np.ndarray, null: np.ndarray
) -> dict[str, Any]:
    layout = result.layout
    counts: dict[str, Any] = {}
    for world_name, records in (("alternative", alternative), ("null", null)):
        counts[world_name] = {
            name: float(layout.column(records, f"stage.{stage_id}.{name}").mean())
            for name in STAGE_COUNTS
        }
    groups = result.plan.subgroup_names
    if len(groups) > 1:
        counts["subgroups"] = {
            group: {
                name: float(layout.column(alternative, f"stage.{stage_id}.{group}.{name}").mean())
                for name in ("entered", "evaluable", "responders")
            }
            for group in groups
        }
    return counts
