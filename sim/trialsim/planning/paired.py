"""Several scenarios simulated in lockstep under common random numbers, with paired differences.

Every task simulates the same replicates ``start`` to ``stop - 1`` of every
scenario, with the same seed, so replicate ``r`` of each draws from the same
seed stream. The task tallies each scenario's chunk as
:func:`trialsim.run.runner.run_trials` does, and reduces the per-replicate
differences from the first scenario of every compared quantity to their
moments. Only tallies and moments leave a task, and they are merged in chunk
order: memory stays flat in the number of replicates, and the numbers do not
depend on the number of workers or the backend. Chunks are those the largest
trial gets alone (:func:`trialsim.run.runner.chunk_replicates`), so each
scenario's tally is bit-identical to a plain ``run_trials`` with the same seed
when their chunk sizes agree (every trial of up to several hundred patients);
otherwise equal in counts and up to rounding in means.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trialsim.model.plan import TrialPlan, compile_plan
from trialsim.planning.pairs import check_pairs, compared_endpoints, union
from trialsim.run.backends import available_cores, in_task_order, run_tasks
from trialsim.run.histogram import Moments
from trialsim.run.records import ALTERNATIVE, NULL, RecordLayout
from trialsim.run.runner import (
    ProgressCallback,
    SimulationResult,
    chunk_ranges,
    replicate_bytes,
    simulate_chunk,
)
from trialsim.run.tally import RunTally
from trialsim.scenario.load import LoadedScenario


@dataclass(frozen=True)
class EndpointMetric:
    """A per-replicate endpoint quantity compared across scenarios.

    Attributes
    ----------
    key : str
        Key in the comparison and in :func:`trialsim.planning.summary.summarise`'s endpoint entry.
    field : str
        Record field: the column is ``endpoint.<id>.<field>``.
    world : int
        ``ALTERNATIVE`` or ``NULL``.
    """

    key: str
    field: str
    world: int


ENDPOINT_METRICS = (
    EndpointMetric("power", "reject", ALTERNATIVE),
    EndpointMetric("type1_error", "reject", NULL),
    EndpointMetric("early_stop", "stopped_early", ALTERNATIVE),
    EndpointMetric("early_stop_null", "stopped_early", NULL),
)
TRIAL_COLUMNS = ("registered", "analysis_week", "last_patient_off_week")
ADVERSE_EVENT_METRICS = ("mean_patients", "any_probability")


@dataclass(frozen=True)
class Quantity:
    """A per-replicate number compared between scenarios: a record column of one world.

    Attributes
    ----------
    key : tuple of str
        Where the comparison reports it, e.g. ``("endpoints", "vk2_response", "power")``,
        ``("trial", "analysis_week")`` or ``("adverse_events", "skin rash", "any_probability")``.
    columns : tuple of str or None
        The record column in each scenario, e.g. ``endpoint.vk2_response.reject``;
        None where the scenario has no such quantity. Columns differ between
        scenarios only for an endpoint paired with another id.
    world : int
        ``ALTERNATIVE`` or ``NULL``.
    positive : bool
        Compare whether the column is above 0 (1.0 or 0.0), not its value.
    """

    key: tuple[str, ...]
    columns: tuple[str | None, ...]
    world: int
    positive: bool = False

    def values(self, scenario: int, layout: RecordLayout, records: np.ndarray) -> np.ndarray:
        """The quantity in each replicate of a chunk of one scenario.

        Parameters
        ----------
        scenario : int
            Index of the scenario (0 = the reference).
        layout : RecordLayout
            The columns of ``records``.
        records : ndarray, shape (2 * replicates, columns)
            Alternative and null rows interleaved, as from
            :func:`trialsim.run.runner.simulate_chunk`.

        Returns
        -------
        ndarray, shape (replicates,)
            In the column's unit (1.0 or 0.0 if ``positive``); NaN throughout when
            the scenario has no such column.
        """
        column = self.columns[scenario]
        if column is None or column not in layout.position:
            return np.full(len(records) // 2, np.nan)
        values = layout.column(records[self.world :: 2], column)
        return (values > 0).astype(float) if self.positive else values


def compared_quantities(
    plans: Sequence[TrialPlan], endpoints: Mapping[str, Sequence[str | None]]
) -> tuple[Quantity, ...]:
    """Every quantity a comparison of these scenarios reports, in the comparison's order.

    Endpoint metrics of every compared endpoint (from :func:`compared_endpoints`),
    then the trial columns (alternative world), then the patients with each
    adverse event and whether there was any (alternative world).
    """
    event_names = union(plan.adverse_event_names for plan in plans)
    scenarios = len(plans)
    endpoints_quantities = [
        Quantity(
            ("endpoints", row, metric.key),
            tuple(None if i is None else f"endpoint.{i}.{metric.field}" for i in ids),
            metric.world,
        )
        for row, ids in endpoints.items()
        for metric in ENDPOINT_METRICS
    ]
    trial = [
        Quantity(("trial", column), (column,) * scenarios, ALTERNATIVE) for column in TRIAL_COLUMNS
    ]
    events = [
        Quantity(
            ("adverse_events", name, metric),
            (f"adverse_event.{name}.patients",) * scenarios,
            ALTERNATIVE,
            positive=metric == "any_probability",
        )
        for name in event_names
        for metric in ADVERSE_EVENT_METRICS
    ]
    return (*endpoints_quantities, *trial, *events)


@dataclass(frozen=True)
class PairedRun:
    """Scenarios simulated in lockstep, reduced to tallies and moments of paired differences.

    Attributes
    ----------
    results : tuple of SimulationResult
        One per scenario, the reference first, each as :func:`trialsim.run.runner.run_trials`
        would give it for the same seed and replicates (``elapsed_seconds`` is
        the wall time of the whole lockstep run).
    endpoints : mapping of str to tuple of (str or None)
        Each compared endpoint's id in every scenario, from :func:`compared_endpoints`.
    quantities : tuple of Quantity
        The compared per-replicate quantities.
    differences : Moments
        Moments of scenario minus reference, replicate by replicate, over the
        replicates where both are defined; column ``(k - 1) * len(quantities) + i``
        is scenario ``k`` (1-based after the reference) and quantity ``i``.
    """

    results: tuple[SimulationResult, ...]
    endpoints: Mapping[str, tuple[str | None, ...]]
    quantities: tuple[Quantity, ...]
    differences: Moments

    @property
    def seed(self) -> int:
        """Base seed shared by every scenario."""
        return self.results[0].seed

    @property
    def replicates(self) -> int:
        """Simulated trials per scenario and world."""
        return self.results[0].replicates

    def paired_se(self, scenario: int, key: tuple[str, ...]) -> float:
        """Monte Carlo standard error of the mean paired difference from the reference.

        Parameters
        ----------
        scenario : int
            Index of the scenario in :attr:`results`, at least 1.
        key : tuple of str
            :attr:`Quantity.key` of the quantity.

        Returns
        -------
        float
            ``sqrt(squares / (count - 1) / count)`` of the differences, in the
            quantity's unit; NaN below two replicates where both are defined.
        """
        if scenario < 1:
            raise ValueError("the reference has no difference from itself to pair")
        keys = [quantity.key for quantity in self.quantities]
        column = (scenario - 1) * len(keys) + keys.index(key)
        return float(self.differences.standard_error()[column])


def paired_chunk(
    plans: Sequence[TrialPlan],
    seed: int,
    start: int,
    stop: int,
    quantities: Sequence[Quantity],
) -> tuple[list[RunTally], Moments]:
    """Simulate replicates ``start`` to ``stop - 1`` of every scenario; tally and pair them.

    Returns
    -------
    tallies : list of RunTally
        One per scenario, as :func:`trialsim.run.runner.run_trials` tallies a chunk.
    differences : Moments
        Of the per-replicate differences from the first scenario, laid out as
        :attr:`PairedRun.differences`.
    """
    tallies, values = [], []
    for scenario, plan in enumerate(plans):
        records, registration_weeks = simulate_chunk(plan, seed, start, stop)
        layout = RecordLayout.for_plan(plan)
        tallies.append(RunTally.of(plan, layout, records, registration_weeks))
        values.append(np.column_stack([q.values(scenario, layout, records) for q in quantities]))
    differences = np.concatenate([other - values[0] for other in values[1:]], axis=1)
    return tallies, Moments.of(differences)


def run_paired(
    scenarios: Sequence[LoadedScenario],
    replicates: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    on_progress: ProgressCallback | None = None,
    scheduler: str | None = None,
    pairs: Mapping[str, str] | None = None,
) -> PairedRun:
    """Simulate scenarios in lockstep with common random numbers, paired replicate by replicate.

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
    on_progress : callable, optional
        Called with the number of replicates finished so far (of every scenario).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``) to run the
        chunks on instead of local processes.
    pairs : mapping of str to str, optional
        Endpoints compared although their ids differ: the reference's id to
        the other scenarios' id, e.g. ``{"d3_rescue": "d3_effect"}``.

    Returns
    -------
    PairedRun

    Raises
    ------
    ValueError
        Fewer than two scenarios, fewer than one replicate, or a pair refused
        by :func:`check_pairs`.

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> scenario = load_scenario("scenarios/vk2_d3_2005.yaml")
    >>> run = run_paired([scenario, scenario], replicates=20, jobs=1)
    >>> run.paired_se(1, ("endpoints", "vk2_response", "power"))
    0.0
    """
    if len(scenarios) < 2:
        raise ValueError(f"a comparison needs at least two scenarios, got {len(scenarios)}")
    simulation = scenarios[0].spec.simulation
    replicates = simulation.replicates if replicates is None else replicates
    seed = simulation.seed if seed is None else seed
    if replicates < 1:
        raise ValueError("replicates must be at least 1")
    jobs = max(1, min(available_cores() if jobs is None else jobs, replicates))
    plans = [compile_plan(scenario.spec) for scenario in scenarios]
    check_pairs(plans, [scenario.spec.name for scenario in scenarios], pairs or {})
    endpoints = compared_endpoints(plans, pairs)
    quantities = compared_quantities(plans, endpoints)
    # Every scenario runs in each task: chunks are those of the largest trial.
    largest = max(plans, key=replicate_bytes)
    chunks = [
        (plans, seed, start, stop, quantities)
        for start, stop in chunk_ranges(largest, 0, replicates)
    ]
    started = time.perf_counter()
    tallies: list[RunTally] | None = None
    differences: Moments | None = None
    finished = in_task_order(run_tasks(paired_chunk, chunks, jobs, scheduler))
    for chunk_tallies, chunk_differences in finished:
        if tallies is None or differences is None:
            tallies, differences = chunk_tallies, chunk_differences
        else:
            tallies = [a.merge(b) for a, b in zip(tallies, chunk_tallies, strict=True)]
            differences = differences.merge(chunk_differences)
        if on_progress is not None:
            on_progress(tallies[0].replicates)
    assert tallies is not None and differences is not None
    elapsed = time.perf_counter() - started
    results = tuple(
        SimulationResult(
            scenario=scenario,
            plan=plan,
            layout=RecordLayout.for_plan(plan),
            tally=tally,
            seed=seed,
            replicates=replicates,
            jobs=jobs,
            elapsed_seconds=elapsed,
        )
        for scenario, plan, tally in zip(scenarios, plans, tallies, strict=True)
    )
    return PairedRun(results, endpoints, quantities, differences)
