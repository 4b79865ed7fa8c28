"""Monte Carlo runner: replicates in chunks, on one core or a process pool.

Replicate ``r`` always uses the seed stream ``(seed, r)``, chunks are
:func:`chunk_replicates` replicates whatever the number of workers (a function
of the plan alone: ``CHUNK_REPLICATES``, fewer where a chunk of that many would
hold more than ``CHUNK_MEMORY_BYTES``), and their tallies are merged in
replicate order, so results are identical for any number of workers and any
backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trialsim.model.chunk import prepare_chunk_driver, simulate_chunk_worlds
from trialsim.model.draws import (
    TRIAL_ROWS,
    draw_chunk,
    draw_patients,
    null_response_rate,
    stage_rows,
)
from trialsim.model.plan import TrialPlan, compile_plan
from trialsim.model.simulation import TraceRow, WorldTraceRow, simulate_worlds
from trialsim.run.backends import available_cores, in_task_order, run_tasks
from trialsim.run.histogram import Histogram
from trialsim.run.records import ALTERNATIVE, NULL, WORLDS, RecordLayout, RecordMaker
from trialsim.run.tally import RunTally, WorldTally
from trialsim.scenario.load import LoadedScenario

CHUNK_REPLICATES = 500
"""Replicates per chunk, unless fewer keep a chunk within ``CHUNK_MEMORY_BYTES``."""
CHUNK_MEMORY_BYTES = 256 * 2**20
"""Largest estimated memory of one chunk while it is simulated and tallied, bytes."""
UNIFORM_BYTES = 8  # one float64 uniform per patient and stream row
STAGE_BYTES_PER_PATIENT = 200  # per stage: draws, pathway outcomes of both worlds, temporaries
EVENT_BYTES_PER_PATIENT = 9  # per stage and adverse event: whether it occurred, its onset week
TRIAL_BYTES_PER_PATIENT = 100  # registration weeks, subgroup, arm, screening, records
ProgressCallback = Callable[[int], None]
RecordsCallback = Callable[[Any], None]
RecordsTransform = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class SimulationResult:
    """A Monte Carlo run, reduced to tallies: its size in memory does not grow with replicates.

    Attributes
    ----------
    scenario : LoadedScenario
    plan : TrialPlan
    layout : RecordLayout
        The columns of a per-replicate record.
    tally : RunTally
        Moments and histograms of every record column in each world, and of
        registration times.
    seed, replicates, jobs : int
    elapsed_seconds : float
        Wall time of the simulation.
    """

    scenario: LoadedScenario
    plan: TrialPlan
    layout: RecordLayout
    tally: RunTally
    seed: int
    replicates: int
    jobs: int
    elapsed_seconds: float

    def world(self, world: int) -> WorldTally:
        """The tally of one world (``ALTERNATIVE`` or ``NULL``)."""
        return self.tally.worlds[world]

    def mean(self, world: int, column: str) -> float:
        """Mean of a record column over the replicates where it is defined."""
        return float(self.world(world).moments.mean[self.layout.position[column]])

    def mean_se(self, world: int, column: str) -> float:
        """Monte Carlo standard error of :meth:`mean`."""
        return float(self.world(world).moments.standard_error()[self.layout.position[column]])

    def defined(self, world: int, column: str) -> int:
        """Number of replicates where a record column is defined (not NaN)."""
        return int(self.world(world).moments.count[self.layout.position[column]])

    def histogram(self, world: int, column: str) -> Histogram:
        """Distribution of a record column across replicates."""
        return self.world(world).histograms[self.layout.position[column]]


def replicate_bytes(plan: TrialPlan) -> int:
    """Estimated memory one replicate takes while its chunk is simulated and tallied.

    An upper bound calibrated on the array path's peak (tracemalloc): the
    uniforms drawn per patient, the per-stage and per-adverse-event arrays of
    the draws and of both worlds' outcomes, and per-trial arrays, all of the
    trial's full patient count.

    Returns
    -------
    int
        Bytes.
    """
    stages, events = len(plan.stages), len(plan.adverse_event_names)
    per_patient = (
        UNIFORM_BYTES * (TRIAL_ROWS + sum(stage_rows(plan)))
        + STAGE_BYTES_PER_PATIENT * stages
        + EVENT_BYTES_PER_PATIENT * stages * events
        + TRIAL_BYTES_PER_PATIENT
    )
    return plan.patients * per_patient


def chunk_replicates(plan: TrialPlan) -> int:
    """Replicates per chunk: ``CHUNK_REPLICATES``, fewer for large trials, at least 1.

    A function of the plan alone (never of the workers), so chunk boundaries and
    so the results are the same for any ``jobs`` and backend, and a run grown
    from one of ``k * chunk_replicates(plan)`` replicates is bit-identical to
    one made at once. Trials of a few hundred patients get ``CHUNK_REPLICATES``;
    larger ones as many as fit ``CHUNK_MEMORY_BYTES`` by :func:`replicate_bytes`
    (a 10,000-patient trial of two stages about 40), which also reports
    progress more often.
    """
    return max(1, min(CHUNK_REPLICATES, CHUNK_MEMORY_BYTES // replicate_bytes(plan)))


def chunk_ranges(plan: TrialPlan, first: int, replicates: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each chunk of replicates ``first`` to ``replicates - 1``."""
    size = chunk_replicates(plan)
    return [(start, min(start + size, replicates)) for start in range(first, replicates, size)]


def simulate_chunk(
    plan: TrialPlan, seed: int, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate replicates ``start`` to ``stop - 1`` in both worlds.

    Returns
    -------
    records : ndarray, shape (2 * (stop - start), columns)
    registration_weeks : ndarray, shape (stop - start, patients)
    """
    maker = RecordMaker(plan)
    draws = draw_chunk(plan, seed, start, stop)
    null_rate = np.broadcast_to(null_response_rate(plan), draws.stacked.response_rate.shape)
    world_rates = (draws.stacked.response_rate, null_rate)
    batches = simulate_chunk_worlds(plan, draws, world_rates)
    records = np.empty((2 * (stop - start), len(maker.layout)))
    for world in (ALTERNATIVE, NULL):
        records[world::2] = maker.records(start, world, draws, batches[world], world_rates[world])
    return records, batches[ALTERNATIVE].registration_week


def tally_chunk(
    plan: TrialPlan, seed: int, start: int, stop: int, records_as: RecordsTransform | None
) -> tuple[RunTally, Any]:
    """Simulate replicates ``start`` to ``stop - 1`` and tally them.

    Returns
    -------
    tally : RunTally
    records : any
        ``records_as`` applied to the chunk's records (see :func:`simulate_chunk`),
        here where the chunk runs; None without ``records_as``.
    """
    records, registrations = simulate_chunk(plan, seed, start, stop)
    tally = RunTally.of(plan, RecordLayout.for_plan(plan), records, registrations)
    return tally, None if records_as is None else records_as(records)


def _unchanged(records: np.ndarray) -> np.ndarray:
    return records


def run_trials(
    scenario: LoadedScenario,
    replicates: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    on_progress: ProgressCallback | None = None,
    scheduler: str | None = None,
    on_records: RecordsCallback | None = None,
    resume: RunTally | None = None,
    records_as: RecordsTransform | None = None,
) -> SimulationResult:
    """Simulate the scenario's trial many times, in the alternative and the null world.

    Chunks of replicates are tallied where they run and merged here in
    replicate order, so memory stays flat however many replicates are asked
    for, and the numbers are the same for any ``jobs`` and any backend.

    Parameters
    ----------
    scenario : LoadedScenario
        From :func:`trialsim.load_scenario`.
    replicates : int, optional
        Number of simulated trials per world (default: the scenario's).
    seed : int, optional
        Base seed (default: the scenario's).
    jobs : int, optional
        Worker processes (default: all cores). ``1`` runs in this process.
    on_progress : callable, optional
        Called with the number of replicates finished so far, after each chunk
        (see :func:`chunk_replicates`).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``) to run the
        chunks on instead of local processes.
    on_records : callable, optional
        Called with each chunk's records (shape (2 * chunk replicates, columns),
        alternative and null rows interleaved), in replicate order.
    records_as : callable, optional
        Applied to each chunk's records where the chunk runs (so in parallel),
        before they reach ``on_records``; e.g. formatting them as CSV text. It is
        pickled to reach worker processes.
    resume : RunTally, optional
        The tally of the first ``resume.replicates`` replicates of the same
        scenario and seed: only the replicates after them are simulated, in
        chunks from there; bit-identical to a run made at once when
        ``resume.replicates`` is a multiple of :func:`chunk_replicates`.

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> result = run_trials(load_scenario("scenarios/vk2_d3_2005.yaml"), replicates=20, jobs=1)
    >>> result.replicates, int(result.world(0).moments.count[0])
    (20, 20)
    """
    spec = scenario.spec
    replicates = spec.simulation.replicates if replicates is None else replicates
    seed = spec.simulation.seed if seed is None else seed
    first = 0 if resume is None else resume.replicates
    if replicates < 1:
        raise ValueError("replicates must be at least 1")
    if replicates < first:
        raise ValueError(f"cannot shrink a run of {first} replicates to {replicates}")
    jobs = max(1, min(available_cores() if jobs is None else jobs, max(replicates - first, 1)))
    plan = compile_plan(spec)
    layout = RecordLayout.for_plan(plan)
    chunks = [
        (plan, seed, start, stop, None if on_records is None else records_as or _unchanged)
        for start, stop in chunk_ranges(plan, first, replicates)
    ]
    started = time.perf_counter()
    if jobs > 1 and scheduler is None:
        prepare_chunk_driver(plan)
    tally = resume
    for chunk_tally, records in in_task_order(run_tasks(tally_chunk, chunks, jobs, scheduler)):
        tally = chunk_tally if tally is None else tally.merge(chunk_tally)
        if on_records is not None:
            on_records(records)
        if on_progress is not None:
            on_progress(tally.replicates)
    assert tally is not None
    return SimulationResult(
        scenario=scenario,
        plan=plan,
        layout=layout,
        tally=tally,
        seed=seed,
        replicates=replicates,
        jobs=jobs,
        elapsed_seconds=time.perf_counter() - started,
    )


def trace_replicate(
    scenario: LoadedScenario, replicate: int, seed: int | None = None
) -> list[WorldTraceRow]:
    """The per-patient event log of one replicate in both worlds.

    Parameters
    ----------
    scenario : LoadedScenario
    replicate : int
        0-based replicate index (same numbers as in a full run).
    seed : int, optional
        Base seed (default: the scenario's).

    Returns
    -------
    list of (world, week, patient, stage, event, detail)
    """
    plan = compile_plan(scenario.spec)
    seed = scenario.spec.simulation.seed if seed is None else seed
    draws = draw_patients(plan, seed, replicate)
    logs: list[list[TraceRow]] = [[], []]
    simulate_worlds(plan, draws, (draws.response_rate, null_response_rate(plan)), logs)
    return [(WORLDS[world], *row) for world in (ALTERNATIVE, NULL) for row in logs[world]]
