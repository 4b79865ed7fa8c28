"""Compare scenarios simulated with common random numbers: values and paired differences.

Every scenario is simulated with the same base seed and number of replicates,
so replicate ``r`` of each draws from the same seed stream. A difference
between two scenarios is then estimated per replicate, and its Monte Carlo
error is that of the paired differences, usually much smaller than the error
of either value alone. The first scenario is the reference. The result types
are in :mod:`trialsim.planning.comparison`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from trialsim import __version__
from trialsim.exact.pathway import ExactCharacteristics
from trialsim.exact.scenario_values import plan_exact_characteristics
from trialsim.planning.comparison import (
    AdverseEventComparison,
    ComparedScenario,
    Comparison,
    D,
    Difference,
    DistributionValue,
    EndpointComparison,
    EndpointDifference,
    EndpointValue,
    MetricComparison,
    ScenarioValue,
    TrialComparison,
    V,
)
from trialsim.planning.paired import ENDPOINT_METRICS, PairedRun, Quantity, run_paired
from trialsim.planning.pairs import union
from trialsim.planning.summary import distribution, proportion_se
from trialsim.planning.summary_types import ScenarioSource
from trialsim.run.records import NULL
from trialsim.run.runner import ProgressCallback, SimulationResult
from trialsim.scenario.load import LoadedScenario

__all__ = ["Comparison", "compare", "compare_results", "scenario_labels"]

# Each endpoint metric's exact value, from the world's exact characteristics.
EXACT_OF: dict[str, Callable[[ExactCharacteristics], float]] = {
    "power": lambda exact: exact.rejection,
    "type1_error": lambda exact: exact.rejection,
    "early_stop": lambda exact: exact.early_termination,
    "early_stop_null": lambda exact: exact.early_termination,
}


def compare(
    scenarios: Sequence[LoadedScenario],
    replicates: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    on_progress: ProgressCallback | None = None,
    pairs: Mapping[str, str] | None = None,
) -> Comparison:
    """Simulate scenarios in lockstep with common random numbers and compare each with the first.

    Parameters
    ----------
    scenarios : sequence of LoadedScenario
        Two or more, from :func:`trialsim.load_scenario`; the first is the reference.
    replicates : int, optional
        Simulated trials per scenario and world (default: the first scenario's).
    seed : int, optional
        Base seed of every scenario (default: the first scenario's).
    jobs : int, optional
        Worker processes (default: all cores). ``1`` runs in this process.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``) to run on instead.
    on_progress : callable, optional
        Called with the number of replicates finished so far (of every scenario).
    pairs : mapping of str to str, optional
        Endpoints compared although their ids differ: the reference's id to the
        other scenarios' id, e.g. ``{"d3_rescue": "d3_effect"}`` (the row keeps
        the reference's id). Both must be one-group tests or both two-group
        comparisons.

    Returns
    -------
    Comparison
        Per endpoint, trial quantity and adverse event: each scenario's value
        and its paired difference from the reference, with Monte Carlo errors;
        see :func:`compare_results`.

    Raises
    ------
    ValueError
        Fewer than two scenarios, fewer than one replicate, or a pair naming an
        endpoint that does not exist or pairing a one-group test with a
        two-group comparison.

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> scenario = load_scenario("scenarios/vk2_d3_2005.yaml")
    >>> comparison = compare([scenario, scenario], replicates=20, jobs=1)
    >>> comparison.endpoints["vk2_response"].power.differences[1].se
    0.0
    """
    return compare_results(
        run_paired(scenarios, replicates, seed, jobs, on_progress, scheduler, pairs)
    )


def compare_results(run: PairedRun) -> Comparison:
    """Values of every scenario and their differences from the first, with Monte Carlo errors.

    Parameters
    ----------
    run : PairedRun
        At least two scenarios simulated in lockstep with the same seed and
        number of replicates (common random numbers), from
        :func:`trialsim.planning.paired.run_paired`. The first is the reference.

    Returns
    -------
    Comparison
        Endpoint metrics ``power``, ``type1_error``, ``early_stop``,
        ``early_stop_null`` (proportions) with exact values and exact
        differences where the design admits them; trial metrics ``registered``
        (patients), ``analysis_week`` and ``last_patient_off_week`` (weeks) with
        percentiles; per adverse event ``mean_patients`` (patients per trial,
        with percentiles) and ``any_probability``. Trial and adverse event
        metrics are from the alternative world. Values are those of
        :func:`trialsim.summarise` of each scenario; differences carry the
        paired standard error and the unpaired one.

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
    labels = scenario_labels(results)
    quantities = {quantity.key: quantity for quantity in run.quantities}
    exact = [plan_exact_characteristics(result.plan) for result in results]

    def endpoint_metric(
        endpoint_id: str, name: str
    ) -> MetricComparison[EndpointValue, EndpointDifference]:
        quantity = quantities[("endpoints", endpoint_id, name)]
        ids = run.endpoints[endpoint_id]
        in_world = [
            None if i is None else values.get(i) for i, values in zip(ids, exact, strict=True)
        ]
        world_exact = [
            None if both is None else both.null if quantity.world == NULL else both.alternative
            for both in in_world
        ]
        exact_values = [None if w is None else EXACT_OF[name](w) for w in world_exact]
        values = [
            None
            if (rate := _rate(result, column, quantity.world)) is None
            else EndpointValue(rate.value, rate.se, exact_value)
            for result, column, exact_value in zip(
                results, quantity.columns, exact_values, strict=True
            )
        ]

        def difference(
            k: int, value: EndpointValue, reference: EndpointValue
        ) -> EndpointDifference:
            plain = _difference(run, quantity, k, value, reference)
            exact_difference = (
                None
                if value.exact is None or reference.exact is None
                else value.exact - reference.exact
            )
            return EndpointDifference(
                plain.difference, plain.se, plain.se_unpaired, exact_difference
            )

        return _compare(values, difference, _alike_to_reference(results, ids))

    def mean_metric(key: tuple[str, ...]) -> MetricComparison[DistributionValue, Difference]:
        quantity = quantities[key]
        values = [
            _distribution_value(result, column, quantity.world)
            for result, column in zip(results, quantity.columns, strict=True)
        ]
        return _compare(values, lambda k, v, r: _difference(run, quantity, k, v, r))

    def share_metric(key: tuple[str, ...]) -> MetricComparison[ScenarioValue, Difference]:
        quantity = quantities[key]
        values = [
            _share(result, column, quantity.world)
            for result, column in zip(results, quantity.columns, strict=True)
        ]
        return _compare(values, lambda k, v, r: _difference(run, quantity, k, v, r))

    plans = [result.plan for result in results]
    event_names = union(plan.adverse_event_names for plan in plans)
    return Comparison(
        trialsim_version=__version__,
        seed=run.seed,
        replicates=run.replicates,
        reference=labels[0],
        scenarios=tuple(
            ComparedScenario(label, **vars(ScenarioSource.of(result.scenario)))
            for label, result in zip(labels, results, strict=True)
        ),
        endpoints={
            endpoint_id: EndpointComparison(
                **{m.key: endpoint_metric(endpoint_id, m.key) for m in ENDPOINT_METRICS}
            )
            for endpoint_id in run.endpoints
        },
        endpoint_ids=dict(run.endpoints),
        trial=TrialComparison(
            registered=mean_metric(("trial", "registered")),
            analysis_week=mean_metric(("trial", "analysis_week")),
            last_patient_off_week=mean_metric(("trial", "last_patient_off_week")),
        ),
        adverse_events={
            name: AdverseEventComparison(
                mean_patients=mean_metric(("adverse_events", name, "mean_patients")),
                any_probability=share_metric(("adverse_events", name, "any_probability")),
            )
            for name in event_names
        },
        results=tuple(results),
    )


def scenario_labels(results: Sequence[SimulationResult]) -> list[str]:
    """Scenario names, numbered ``name [k]`` (1-based) where a name occurs more than once."""
    names = [result.scenario.spec.name for result in results]
    return [
        name if names.count(name) == 1 else f"{name} [{index + 1}]"
        for index, name in enumerate(names)
    ]


def _rate(result: SimulationResult, column: str | None, world: int) -> ScenarioValue | None:
    """An endpoint rate in one scenario with its Monte Carlo error; None if it lacks it."""
    if column is None or column not in result.layout.position:
        return None
    rate = result.mean(world, column)
    return ScenarioValue(rate, proportion_se(rate, result.replicates))


def _share(result: SimulationResult, column: str | None, world: int) -> ScenarioValue | None:
    """The share of trials where the column is above 0; None if the scenario lacks it."""
    if column is None or column not in result.layout.position:
        return None
    share = result.histogram(world, column).share_above(0)
    return ScenarioValue(share, proportion_se(share, result.replicates))


def _distribution_value(
    result: SimulationResult, column: str | None, world: int
) -> DistributionValue | None:
    """The column's mean and percentiles in one scenario; None if it lacks it."""
    if column is None or column not in result.layout.position:
        return None
    described = distribution(result, column, world)
    return DistributionValue(
        described.mean, described.mean_se, described.p05, described.p50, described.p95
    )


def _alike_to_reference(
    results: Sequence[SimulationResult], ids: Sequence[str | None]
) -> list[bool]:
    """Whether each scenario's endpoint asks the reference's kind of question.

    A one-group test in one scenario and a two-group comparison in another
    (:attr:`~trialsim.model.plan.EndpointPlan.compares_arms`) answer different
    questions, whatever their ids: no difference is given between them.
    """
    kinds = [
        {endpoint.id: endpoint.compares_arms for endpoint in result.plan.endpoints}.get(i)
        if i is not None
        else None
        for result, i in zip(results, ids, strict=True)
    ]
    return [kind == kinds[0] for kind in kinds]


def _difference(
    run: PairedRun,
    quantity: Quantity,
    scenario: int,
    value: ScenarioValue,
    reference: ScenarioValue,
) -> Difference:
    """Scenario minus reference, with the paired and the unpaired standard error."""
    return Difference(
        value.value - reference.value,
        run.paired_se(scenario, quantity.key),
        math.hypot(value.se, reference.se),
    )


def _compare(
    values: Sequence[V | None],
    difference: Callable[[int, V, V], D],
    paired: Sequence[bool] | None = None,
) -> MetricComparison[V, D]:
    """Values of each scenario and their differences from the first."""
    reference = values[0]
    differences: list[D | None] = [None]
    for scenario, value in enumerate(values[1:], start=1):
        if value is None or reference is None or (paired is not None and not paired[scenario]):
            differences.append(None)
        else:
            differences.append(difference(scenario, value, reference))
    return MetricComparison(tuple(values), tuple(differences))
