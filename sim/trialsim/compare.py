"""Compare scenarios simulated with common random numbers: values and paired differences.

Every scenario is simulated with the same base seed and number of replicates,
so replicate ``r`` of each draws from the same seed stream. A difference
between two scenarios is then estimated per replicate, and its Monte Carlo
error is that of the paired differences, usually much smaller than the error
of either value alone. The first scenario is the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trialsim import __version__
from trialsim.records import ALTERNATIVE, NULL
from trialsim.runner import SimulationResult
from trialsim.summary import distribution, proportion_se, summarise


@dataclass(frozen=True)
class EndpointMetric:
    """A per-replicate endpoint quantity compared across scenarios.

    Attributes
    ----------
    key : str
        Key in the comparison and in :func:`trialsim.summary.summarise`'s endpoint entry.
    field : str
        Record field: the column is ``endpoint.<id>.<field>``.
    world : int
        ``ALTERNATIVE`` or ``NULL``.
    """

    key: str
    field: str
    world: int

    @property
    def exact_key(self) -> str:
        """Key of the analytic value in the summary's endpoint entry."""
        return f"{self.key}_exact"


ENDPOINT_METRICS = (
    EndpointMetric("power", "reject", ALTERNATIVE),
    EndpointMetric("type1_error", "reject", NULL),
    EndpointMetric("early_stop", "stopped_early", ALTERNATIVE),
    EndpointMetric("early_stop_null", "stopped_early", NULL),
)
TRIAL_COLUMNS = ("registered", "analysis_week", "last_patient_off_week")


def paired_se(differences: np.ndarray) -> float:
    """Monte Carlo standard error of a mean of paired per-replicate differences.

    Parameters
    ----------
    differences : ndarray, shape (replicates,)
        Scenario minus reference, replicate by replicate (same unit as the metric).

    Returns
    -------
    float
        ``std(differences, ddof=1) / sqrt(replicates)``; NaN for a single replicate.
    """
    if len(differences) < 2:
        return math.nan
    return float(np.std(differences, ddof=1) / math.sqrt(len(differences)))


def compare_results(results: Sequence[SimulationResult]) -> dict[str, Any]:
    """Values of every scenario and their differences from the first, with Monte Carlo errors.

    Parameters
    ----------
    results : sequence of SimulationResult
        At least two runs with the same seed and number of replicates (common
        random numbers), from :func:`trialsim.runner.run_trials`. The first is
        the reference.

    Returns
    -------
    dict
        JSON-ready (NaN where a standard error is undefined). Keys:
        ``trialsim_version``, ``seed``, ``replicates``, ``reference`` (label of
        the first scenario), ``scenarios`` (list of ``{label, name, title, path,
        sha256}``), ``endpoints.<id>.<metric>`` for metrics ``power``,
        ``type1_error``, ``early_stop``, ``early_stop_null`` (proportions),
        ``trial.<metric>`` for ``registered`` (patients), ``analysis_week`` and
        ``last_patient_off_week`` (weeks), and ``adverse_events.<name>.<metric>``
        for ``mean_patients`` (patients per trial) and ``any_probability``.
        Each metric is ``{"values": [...], "differences": [...]}`` with one
        entry per scenario, in order: a value is ``{value, se}`` (plus
        ``exact`` for endpoints, ``p05``, ``p50``, ``p95`` for trial metrics);
        a difference is ``{difference, se, se_unpaired}`` (plus ``exact``,
        the difference of the exact values or None, for endpoints), where
        ``se`` is the paired standard error. A value is None where the
        scenario lacks the endpoint or adverse event; a difference is None for
        the reference and wherever either value is None. Trial and adverse
        event metrics are from the alternative world.

    Raises
    ------
    ValueError
        Fewer than two results, or results with different seeds or replicates.
    """
    if len(results) < 2:
        raise ValueError("a comparison needs at least two scenarios")
    seeds = {result.seed for result in results}
    replicates = {result.replicates for result in results}
    if len(seeds) > 1 or len(replicates) > 1:
        raise ValueError(
            "scenarios must share seed and replicates to be paired; "
            f"got seeds {sorted(seeds)} and replicates {sorted(replicates)}"
        )
    summaries = [summarise(result) for result in results]
    labels = scenario_labels(results)
    endpoint_ids = _union(summary["endpoints"] for summary in summaries)
    event_names = _union(result.plan.adverse_event_names for result in results)
    return {
        "trialsim_version": __version__,
        "seed": results[0].seed,
        "replicates": results[0].replicates,
        "reference": labels[0],
        "scenarios": [
            {"label": label, **summary["scenario"]}
            for label, summary in zip(labels, summaries, strict=True)
        ],
        "endpoints": {
            endpoint_id: {
                metric.key: _compare_endpoint_metric(results, summaries, endpoint_id, metric)
                for metric in ENDPOINT_METRICS
            }
            for endpoint_id in endpoint_ids
        },
        "trial": {
            column: _compare(
                [_alternative_column(result, column) for result in results], _mean_value
            )
            for column in TRIAL_COLUMNS
        },
        "adverse_events": {name: _compare_adverse_event(results, name) for name in event_names},
    }


def scenario_labels(results: Sequence[SimulationResult]) -> list[str]:
    """Scenario names, numbered ``name [k]`` (1-based) where a name occurs more than once."""
    names = [result.scenario.spec.name for result in results]
    return [
        name if names.count(name) == 1 else f"{name} [{index + 1}]"
        for index, name in enumerate(names)
    ]


def _union(groups: Iterable[Iterable[str]]) -> list[str]:
    """Distinct items of several sequences, in order of first appearance."""
    return list(dict.fromkeys(item for group in groups for item in group))


def _alternative_column(result: SimulationResult, column: str) -> np.ndarray | None:
    if column not in result.layout.position:
        return None
    return result.layout.column(result.world(ALTERNATIVE), column)


def _compare_endpoint_metric(
    results: Sequence[SimulationResult],
    summaries: Sequence[dict[str, Any]],
    endpoint_id: str,
    metric: EndpointMetric,
) -> dict[str, Any]:
    samples: list[np.ndarray | None] = []
    exact: list[float | None] = []
    for result, summary in zip(results, summaries, strict=True):
        column = f"endpoint.{endpoint_id}.{metric.field}"
        present = column in result.layout.position
        if present:
            samples.append(result.layout.column(result.world(metric.world), column))
            exact.append(summary["endpoints"][endpoint_id].get(metric.exact_key))
        else:
            samples.append(None)
            exact.append(None)
    comparison = _compare(samples, _proportion_value)
    for value, exact_value in zip(comparison["values"], exact, strict=True):
        if value is not None:
            value["exact"] = exact_value
    reference_exact = exact[0]
    for difference, exact_value in zip(comparison["differences"][1:], exact[1:], strict=True):
        if difference is not None:
            difference["exact"] = (
                None
                if exact_value is None or reference_exact is None
                else exact_value - reference_exact
            )
    return comparison


def _compare_adverse_event(results: Sequence[SimulationResult], name: str) -> dict[str, Any]:
    patients = [_alternative_column(result, f"adverse_event.{name}.patients") for result in results]
    return {
        "mean_patients": _compare(patients, _mean_value),
        "any_probability": _compare(
            [None if p is None else (p > 0).astype(float) for p in patients], _proportion_value
        ),
    }


def _proportion_value(sample: np.ndarray) -> dict[str, Any]:
    value = float(sample.mean())
    return {"value": value, "se": proportion_se(value, len(sample))}


def _mean_value(sample: np.ndarray) -> dict[str, Any]:
    described = distribution(sample)
    return {
        "value": described.pop("mean"),
        "se": described.pop("mean_se"),
        **described,
    }


def _compare(
    samples: Sequence[np.ndarray | None], describe: Callable[[np.ndarray], dict[str, Any]]
) -> dict[str, Any]:
    """Values of each scenario's per-replicate sample and paired differences from the first."""
    values = [None if sample is None else describe(sample) for sample in samples]
    reference, reference_value = samples[0], values[0]
    differences: list[dict[str, Any] | None] = [None]
    for sample, value in zip(samples[1:], values[1:], strict=True):
        if sample is None or value is None or reference is None or reference_value is None:
            differences.append(None)
            continue
        differences.append(
            {
                "difference": value["value"] - reference_value["value"],
                "se": paired_se(sample - reference),
                "se_unpaired": math.hypot(value["se"], reference_value["se"]),
            }
        )
    return {"values": values, "differences": differences}
