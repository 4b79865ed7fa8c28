"""Monte Carlo runner: replicates in chunks, on one core or a process pool.

Replicate ``r`` always uses the seed stream ``(seed, r)`` and its records are
placed at row ``r``, so results are identical for any number of workers and
any chunk size.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext

import numpy as np

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
        (start, min(start + CHUNK_REPLICATES, replicates))
        for start in range(0, replicates, CHUNK_REPLICATES)
    ]
    started = time.perf_counter()
    done = 0

    def place(start: int, stop: int, chunk: tuple[np.ndarray, np.ndarray]) -> None:
        nonlocal done
        records[2 * start : 2 * stop], registrations[start:stop] = chunk
        done += stop - start
        if on_progress is not None:
            on_progress(done)

    if jobs == 1:
        for start, stop in chunks:
            place(start, stop, simulate_chunk(plan, seed, start, stop))
    else:
        _run_pool(plan, seed, chunks, jobs, place)
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


def _run_pool(
    plan: TrialPlan,
    seed: int,
    chunks: list[tuple[int, int]],
    jobs: int,
    place: Callable[[int, int, tuple[np.ndarray, np.ndarray]], None],
) -> None:
    context = fork_context()
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=leave_interrupts_to_parent
    ) as pool:
        pending: dict[Future[tuple[np.ndarray, np.ndarray]], tuple[int, int]] = {}
        try:
            for start, stop in chunks:
                pending[pool.submit(simulate_chunk, plan, seed, start, stop)] = (start, stop)
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    start, stop = pending.pop(future)
                    place(start, stop, future.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def leave_interrupts_to_parent() -> None:
    """Worker initializer: Ctrl-C is handled once, by the parent, which stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def fork_context() -> BaseContext | None:
    """The ``fork`` start method where available: workers inherit the parent's imports."""
    return get_context("fork") if "fork" in get_all_start_methods() else None


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
