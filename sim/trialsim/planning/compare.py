"""Compare scenarios simulated with common random numbers: values and paired differences.

Every scenario is simulated with the same base seed and number of replicates,
so replicate ``r`` of each draws from the same seed stream. A difference
between two scenarios is then estimated per replicate, and its Monte Carlo
error is that of the paired differences, usually much smaller than the error
of either value alone. The first scenario is the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from trialsim import __version__
from trialsim.planning.paired import PairedRun, Quantity
from trialsim.planning.summary import distribution, proportion_se, summarise
from trialsim.run.runner import SimulationResult


def compare_results(run: PairedRun) -> dict[str, Any]:
    """Values of every scenario and their differences from the first, with Monte Carlo errors.

    Parameters
    ----------
    run : PairedRun
        At least two scenarios simulated in lockstep with the same seed and
        number of replicates (common random numbers), from
        :func:`trialsim.planning.paired.run_paired`. The first is the reference.

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
        ``exact`` for endpoints, ``p05``, ``p50``, ``p95`` for trial metrics and
        ``mean_patients``); a difference is ``{difference, se, se_unpaired}``
        (plus ``exact``, the difference of the exact values or None, for
        endpoints), where ``se`` is the paired standard error. A value is None
        where the scenario lacks the endpoint or adverse event; a difference is
        None where the endpoint is a one-group test in one scenario and a
        two-group comparison in the other, and
        None for the reference and wherever either value is None. Trial and
        adverse event metrics are from the alternative world. Values are those
        of :func:`trialsim.planning.summary.summarise` of each scenario.

    Raises
    ------
    ValueError
        Fewer than two scenarios, or scenarios with different seeds or replicates.
    """
    results = run.results
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
    comparison: dict[str, Any] = {
        "trialsim_version": __version__,
        "seed": run.seed,
        "replicates": run.replicates,
        "reference": labels[0],
        "scenarios": [
            {"label": label, **summary["scenario"]}
            for label, summary in zip(labels, summaries, strict=True)
        ],
        "endpoints": {},
        "trial": {},
        "adverse_events": {},
    }
    for quantity in run.quantities:
        *groups, metric = quantity.key
        entry = comparison
        for group in groups:
            entry = entry.setdefault(group, {})
        values = [_value(result, quantity) for result in results]
        entry[metric] = _compare(run, quantity, values, _paired_with_reference(results, quantity))
        if quantity.key[0] == "endpoints":
            _add_exact(entry[metric], summaries, quantity)
    return comparison


def scenario_labels(results: Sequence[SimulationResult]) -> list[str]:
    """Scenario names, numbered ``name [k]`` (1-based) where a name occurs more than once."""
    names = [result.scenario.spec.name for result in results]
    return [
        name if names.count(name) == 1 else f"{name} [{index + 1}]"
        for index, name in enumerate(names)
    ]


def _value(result: SimulationResult, quantity: Quantity) -> dict[str, Any] | None:
    """The quantity's mean in one scenario with its Monte Carlo error; None if it lacks it."""
    if quantity.column not in result.layout.position:
        return None
    if quantity.positive:
        share = result.histogram(quantity.world, quantity.column).share_above(0)
        return {"value": share, "se": proportion_se(share, result.replicates)}
    if quantity.key[0] == "endpoints":
        rate = result.mean(quantity.world, quantity.column)
        return {"value": rate, "se": proportion_se(rate, result.replicates)}
    described = distribution(result, quantity.column, quantity.world)
    return {"value": described.pop("mean"), "se": described.pop("mean_se"), **described}


def _paired_with_reference(results: Sequence[SimulationResult], quantity: Quantity) -> list[bool]:
    """Whether each scenario's quantity answers the reference's question.

    An endpoint id that is a one-group test in one scenario and a two-group
    comparison in another names two different questions: no difference is given.
    """
    if quantity.key[0] != "endpoints":
        return [True] * len(results)
    kinds = [
        {endpoint.id: endpoint.compares_arms for endpoint in result.plan.endpoints}.get(
            quantity.key[1]
        )
        for result in results
    ]
    return [kind == kinds[0] for kind in kinds]


def _compare(
    run: PairedRun,
    quantity: Quantity,
    values: Sequence[dict[str, Any] | None],
    paired: Sequence[bool],
) -> dict[str, Any]:
    """Values of each scenario and paired differences from the first."""
    reference = values[0]
    differences: list[dict[str, Any] | None] = [None]
    for scenario, value in enumerate(values[1:], start=1):
        if value is None or reference is None or not paired[scenario]:
            differences.append(None)
            continue
        differences.append(
            {
                "difference": value["value"] - reference["value"],
                "se": run.paired_se(scenario, quantity.key),
                "se_unpaired": math.hypot(value["se"], reference["se"]),
            }
        )
    return {"values": list(values), "differences": differences}


def _add_exact(
    comparison: dict[str, Any], summaries: Sequence[dict[str, Any]], quantity: Quantity
) -> None:
    """Add each scenario's exact value of an endpoint metric, and their differences."""
    _, endpoint_id, metric = quantity.key
    exact: list[float | None] = []
    for value, summary in zip(comparison["values"], summaries, strict=True):
        exact_value = None
        if value is not None:
            exact_value = summary["endpoints"][endpoint_id].get(f"{metric}_exact")
            value["exact"] = exact_value
        exact.append(exact_value)
    reference_exact = exact[0]
    for difference, exact_value in zip(comparison["differences"][1:], exact[1:], strict=True):
        if difference is not None:
            difference["exact"] = (
                None
                if exact_value is None or reference_exact is None
                else exact_value - reference_exact
            )
