"""Monte Carlo runner: replicates in chunks, on one core or a process pool.

Replicate ``r`` always uses the seed stream ``(seed, r)`` and its records are
placed at row ``r``, so results are identical for any number of workers and
any chunk size.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trialsim.backends import run_tasks
from trialsim.draws import draw_chunk, draw_patients, null_response_rate
from trialsim.model import TraceRow, WorldTraceRow, simulate_chunk_worlds, simulate_worlds
from trialsim.plan import TrialPlan, compile_plan
from trialsim.records import ALTERNATIVE, NULL, WORLDS, RecordLayout, RecordMaker
from trialsim.scenario import LoadedScenario

CHUNK_REPLICATES = 250
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class SimulationResult:
    """Records of a Monte Carlo run.

    Attributes
    ----------
    scenario : LoadedScenario
    plan : TrialPlan
    layout : RecordLayout
    records : ndarray, shape (2 * replicates, columns)
        Row ``2 r`` is replicate ``r`` in the alternative world, ``2 r + 1`` in the null world.
    registration_weeks : ndarray, shape (replicates, patients)
        Calendar week of each registration (NaN past the last one).
    seed, replicates, jobs : int
    elapsed_seconds : float
        Wall time of the simulation.
    """

    scenario: LoadedScenario
    plan: TrialPlan
    layout: RecordLayout
    records: np.ndarray
    registration_weeks: np.ndarray
    seed: int
    replicates: int
    jobs: int
    elapsed_seconds: float

    def world(self, world: int) -> np.ndarray:
        """The records of one world (``ALTERNATIVE`` or ``NULL``), one row per replicate."""
        return self.records[world::2]


def default_jobs() -> int:
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


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
    registrations = draws.stacked.registration_week
    return records, registrations


def run_trials(
    scenario: LoadedScenario,
    replicates: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    on_progress: ProgressCallback | None = None,
    scheduler: str | None = None,
) -> SimulationResult:
    """Simulate the scenario's trial many times, in the alternative and the null world.

    Parameters
    ----------
    scenario : LoadedScenario
        From :func:`trialsim.scenario.load_scenario`.
    replicates : int, optional
        Number of simulated trials per world (default: the scenario's).
    seed : int, optional
        Base seed (default: the scenario's).
    jobs : int, optional
        Worker processes (default: all cores). ``1`` runs in this process.
    on_progress : callable, optional
        Called with the number of replicates finished so far.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:port``) to run the
        chunks on instead of local processes.

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> from trialsim.scenario import load_scenario
    >>> result = run_trials(load_scenario("scenarios/vk2_d3_2005.yaml"), replicates=20, jobs=1)
    >>> result.records.shape[0]
    40
    """
    spec = scenario.spec
    replicates = spec.simulation.replicates if replicates is None else replicates
    seed = spec.simulation.seed if seed is None else seed
    jobs = max(1, min(default_jobs() if jobs is None else jobs, replicates))
    if replicates < 1:
        raise ValueError("replicates must be at least 1")
    plan = compile_plan(spec)
    layout = RecordLayout.for_plan(plan)
    records = np.empty((2 * replicates, len(layout)))
    registrations = np.empty((replicates, plan.patients))
    chunks = [
        (plan, seed, start, min(start + CHUNK_REPLICATES, replicates))
        for start in range(0, replicates, CHUNK_REPLICATES)
    ]
    started = time.perf_counter()
    done = 0
    for index, (records_chunk, registrations_chunk) in run_tasks(
        simulate_chunk, chunks, jobs, scheduler
    ):
        _, _, start, stop = chunks[index]
        records[2 * start : 2 * stop], registrations[start:stop] = (
            records_chunk,
            registrations_chunk,
        )
        done += stop - start
        if on_progress is not None:
            on_progress(done)
    return SimulationResult(
        scenario=scenario,
        plan=plan,
        layout=layout,
        records=records,
        registration_weeks=registrations,
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
