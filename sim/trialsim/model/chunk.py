"""The chunk driver: consecutive replicates of one world as arrays, without events.

Owns :func:`simulate_chunk_worlds`. When no stage is observed (no cap, no
interim monitoring) nothing in any trial reacts to the order of events, so a
chunk's replicates go through their arms' stages in one array computation
over the stacked draws: the same passages (:mod:`trialsim.model.pathway`) as
the event-driven and cohort drivers, hence identical outcomes patient by
patient (tested). Otherwise each replicate runs its own SimPy environment
(:func:`trialsim.model.simulation.simulate_worlds`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trialsim.model.draws import ChunkDraws
from trialsim.model.outcome import OutcomeBatch, TrialOutcome
from trialsim.model.pathway import Pathway, allocate
from trialsim.model.plan import TrialPlan
from trialsim.model.simulation import simulate_worlds


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
        per_world: list[list[TrialOutcome]] = [[] for _ in response_rates]
        for index in range(len(draws.registered)):
            replicate = draws.replicate(index)
            rates = [rate[index] for rate in response_rates]
            for world, outcome in enumerate(simulate_worlds(plan, replicate, rates)):
                per_world[world].append(outcome)
        return [OutcomeBatch.stack(outcomes, plan.patients) for outcomes in per_world]
    return [_pass_chunk(plan, draws, rate) for rate in response_rates]


def _pass_chunk(plan: TrialPlan, draws: ChunkDraws, response_rate: np.ndarray) -> OutcomeBatch:
    """One world's chunk through its unobserved stages: every patient is admitted."""
    stacked = draws.stacked
    count, n_stages, n = stacked.stay_weeks.shape
    pathway = Pathway(plan, stacked, response_rate)
    batch = OutcomeBatch.empty(count, n_stages, n)
    registered = np.arange(n)[None, :] < draws.registered[:, None]
    arm = allocate(stacked.arm_uniform, np.array([a.share for a in plan.arms]))
    batch.arm[registered] = arm[registered]
    batch.registration_week[registered] = stacked.registration_week[registered]
    for k, arm_plan in enumerate(plan.arms):
        inside = registered & (arm == k)
        for passage in pathway.chain(arm_plan.first_stage):
            stage = passage.stage
            batch.entry_week[:, stage][inside] = passage.entry[inside]
            batch.exit_week[:, stage][inside] = passage.leave[inside]
            batch.responded[:, stage] |= inside & passage.responded
            batch.off_week[inside] = passage.off[inside]
            inside = inside & passage.moves_on
    return batch
