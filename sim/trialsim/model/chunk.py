"""The chunk driver: consecutive replicates of one world as arrays, without SimPy.

Owns :func:`simulate_chunk_worlds`. When no stage is observed (no cap, no
interim monitoring) nothing in any trial reacts to the order of events, so a
chunk's replicates go through their arms' stages in one array computation
over the stacked draws: the same passages (:mod:`trialsim.model.pathway`) as
the event-driven and cohort drivers, hence identical outcomes patient by
patient (tested). Otherwise the chunk's replicates run through the compiled
event loop (:mod:`trialsim.model.kernel`), which processes the same events
in the same order as the SimPy driver (:mod:`trialsim.model.simulation`);
this module gives it the plan and draws as arrays and the later arrivals a
held registration needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

import numpy as np

from trialsim.model.draws import LATER_ARRIVALS_BLOCK, ChunkDraws, draw_chunk, null_response_rate
from trialsim.model.kernel_inputs import KernelDraws, KernelOutcome, kernel_plan
from trialsim.model.outcome import OutcomeBatch
from trialsim.model.pathway import Pathway, allocate, responses
from trialsim.model.plan import TrialPlan


def simulate_chunk_worlds(
    plan: TrialPlan, draws: ChunkDraws, response_rates: Sequence[np.ndarray]
) -> list[OutcomeBatch]:
    """Run consecutive replicates in several worlds.

    Parameters
    ----------
    plan : TrialPlan
    draws : ChunkDraws
    response_rates : sequence of ndarray, shape (replicates, stages, subgroups)
        One set per world.

    Returns
    -------
    list of OutcomeBatch
        One per world; weeks are calendar weeks since each replicate's start.
    """
    if any(stage.observed for stage in plan.stages):
        candidates = _Candidates(plan, draws)
        return [_run_events(plan, draws, rate, candidates) for rate in response_rates]
    return [_pass_chunk(plan, draws, rate) for rate in response_rates]


def prepare_chunk_driver(plan: TrialPlan) -> None:
    """Compile (or load from numba's cache) the event loop ``plan`` needs, if any.

    Called before worker processes fork, so that they inherit it instead of
    each loading it; a plan without observed stages needs nothing.
    """
    if any(stage.observed for stage in plan.stages):
        draws = draw_chunk(plan, 0, 0, 1)
        simulate_chunk_worlds(plan, draws, [null_response_rate(plan)[None]])


def _pass_chunk(plan: TrialPlan, draws: ChunkDraws, response_rate: np.ndarray) -> OutcomeBatch:
    """One world's chunk through its unobserved stages: every patient is admitted."""
    stacked = draws.stacked
    count, n_stages, n = stacked.stay_weeks.shape
    pathway = Pathway(plan, stacked, response_rate)
    batch = OutcomeBatch.empty(count, n_stages, n)
    registered = np.arange(n)[None, :] < draws.registered[:, None]
    arm = allocate(stacked.arm_uniform, np.array([a.share for a in plan.arms]))
    np.copyto(batch.arm, arm, where=registered)
    np.copyto(batch.registration_week, stacked.registration_week, where=registered)
    for k, arm_plan in enumerate(plan.arms):
        inside = registered & (arm == k)
        for passage in pathway.chain(arm_plan.first_stage):
            stage = passage.stage
            np.copyto(batch.entry_week[:, stage], passage.entry, where=inside)
            np.copyto(batch.exit_week[:, stage], passage.leave, where=inside)
            batch.responded[:, stage] |= inside & passage.responded
            np.copyto(batch.off_week, passage.off, where=inside)
            inside = inside & passage.moves_on
    return batch


class _Candidates:
    """A chunk's candidates for registration: the pre-drawn arrivals, then later ones on demand."""

    def __init__(self, plan: TrialPlan, draws: ChunkDraws):
        self.plan = plan
        self.draws = draws
        self.weeks = draws.stacked.registration_week
        # Later arrivals exist only if every pre-drawn candidate came before accrual stopped.
        self.stream_ends = draws.registered < plan.patients

    def with_later(self, index: int, later: int) -> tuple[np.ndarray, bool]:
        """Replicate ``index``'s candidates with up to ``later`` later arrivals, shape
        ``(1, candidates)``, and whether no candidate comes after them."""
        pre_drawn = self.weeks[index, : self.draws.registered[index]]
        stream = self.draws.stacked.later_arrivals.of(index).weeks(self.plan, float(pre_drawn[-1]))
        arrivals = list(islice(stream, later))
        return np.concatenate([pre_drawn, arrivals])[None], len(arrivals) < later


def _run_events(
    plan: TrialPlan, draws: ChunkDraws, response_rate: np.ndarray, candidates: _Candidates
) -> OutcomeBatch:
    """One world's chunk through the compiled event loop."""
    from trialsim.model.kernel import run_observed_chunk

    stacked = draws.stacked
    count, n_stages, n = stacked.stay_weeks.shape
    responds = responses(stacked, response_rate)
    batch = OutcomeBatch.empty(count, n_stages, n)
    arrays = kernel_plan(plan)

    def run(rows: slice, weeks: np.ndarray, stream_ends: np.ndarray) -> np.ndarray:
        outcome = KernelOutcome(*(getattr(batch, name)[rows] for name in KernelOutcome._fields))
        kernel_draws = KernelDraws(
            stacked.stay_weeks[rows], stacked.evaluable[rows], responds[rows],
            stacked.accepts_entry[rows],
        )  # fmt: skip
        which = np.arange(len(weeks), dtype=np.int64)
        return run_observed_chunk(
            arrays, kernel_draws, outcome, weeks, draws.registered[rows],
            stream_ends, stacked.arm_uniform[rows], which,
        )  # fmt: skip

    status = run(slice(None), candidates.weeks, candidates.stream_ends)
    for index in np.flatnonzero(status).tolist():
        later = LATER_ARRIVALS_BLOCK
        while True:
            weeks, ends = candidates.with_later(index, later)
            _clear(batch, index)
            if not run(slice(index, index + 1), weeks, np.array([ends]))[0]:
                break
            later *= 2
    batch.responded[:] = responds & ~np.isnan(batch.exit_week)
    return batch


def _clear(batch: OutcomeBatch, index: int) -> None:
    """Reset replicate ``index`` of ``batch`` to nobody registered."""
    empty = OutcomeBatch.empty(1, *batch.entry_week.shape[1:])
    for name in OutcomeBatch.__dataclass_fields__:
        getattr(batch, name)[index] = getattr(empty, name)[0]
