"""Random numbers of one replicate, drawn up front from its own seed stream.

Replicate ``r`` of a run with base seed ``s`` draws from
``SeedSequence(s, spawn_key=(r,))``: its numbers do not depend on how many
replicates run, on which worker, or in which order. Each random source reads
its own fixed block of one uniform array, so a patient's dropout time never
shifts because another patient responded. The alternative and the null world
use the same draws (common random numbers); only the response thresholds differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trialsim.plan import TrialPlan

ASSESSED = 0
DROPPED_OUT = 1
FIRST_ADVERSE_EVENT = 2


@dataclass(frozen=True)
class PatientDraws:
    """Fates of the candidate patients of one replicate, world-independent.

    Arrays indexed ``[stage, patient]`` describe what would happen if the
    patient entered that stage. Times are weeks.

    Attributes
    ----------
    registration_week : ndarray, shape (n,)
        Calendar week of each registration, increasing; only registrations
        before accrual stops are kept, so ``n <= plan.patients``.
    screen_failures : ndarray of int, shape (n,)
        Ineligible candidates screened before each registered patient.
    subgroup : ndarray of int, shape (n,)
    stay_weeks : ndarray, shape (stages, n)
        Weeks from stage entry to leaving it (assessment, dropout or a
        discontinuing adverse event).
    exit_cause : ndarray of int, shape (stages, n)
        ``ASSESSED``, ``DROPPED_OUT`` or ``FIRST_ADVERSE_EVENT + k`` for the
        stage's k-th adverse event.
    evaluable : ndarray of bool, shape (stages, n)
        Assessed and evaluable.
    response_uniform : ndarray, shape (stages, n)
        Responds if below the world's response rate.
    accepts_entry : ndarray of bool, shape (stages, n)
        Would accept re-registration into the stage.
    adverse_events : ndarray of bool, shape (stages, events, n)
        Had the named event (``plan.adverse_event_names``) during the stage.
    adverse_event_week : ndarray, shape (stages, events, n)
        Weeks from stage entry to the event's onset (inf if none).
    response_rate : ndarray, shape (stages, subgroups)
        Alternative-world response rates (drawn from the prior where given).
    """

    registration_week: np.ndarray
    screen_failures: np.ndarray
    subgroup: np.ndarray
    stay_weeks: np.ndarray
    exit_cause: np.ndarray
    evaluable: np.ndarray
    response_uniform: np.ndarray
    accepts_entry: np.ndarray
    adverse_events: np.ndarray
    adverse_event_week: np.ndarray
    response_rate: np.ndarray


def replicate_generator(seed: int, replicate: int) -> np.random.Generator:
    """The random generator of one replicate.

    Parameters
    ----------
    seed : int
        Base seed of the run.
    replicate : int
        0-based replicate index.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(replicate,))))


def uniform_rows(plan: TrialPlan) -> int:
    """Rows of the per-replicate uniform block: 3 + per stage 4 + 2 per adverse event."""
    return 3 + sum(4 + 2 * len(stage.adverse_events) for stage in plan.stages)


def draw_patients(plan: TrialPlan, seed: int, replicate: int) -> PatientDraws:
    """Draw every random quantity of one replicate.

    Parameters
    ----------
    plan : TrialPlan
    seed : int
        Base seed of the run.
    replicate : int
        0-based replicate index.

    Returns
    -------
    PatientDraws
    """
    rng = replicate_generator(seed, replicate)
    n_max = plan.patients
    block = rng.random((uniform_rows(plan), n_max))
    # 1 - U lies in (0, 1], so its logarithm is finite.
    epochs = np.cumsum(-np.log1p(-block[0]))
    weeks = plan.registration_week(epochs)
    n = int(np.searchsorted(weeks, plan.accrual_stop_week, side="right"))
    registration_week = weeks[:n]
    if plan.screen_failure > 0:
        screen_failures = np.floor(np.log1p(-block[1, :n]) / np.log(plan.screen_failure))
    else:
        screen_failures = np.zeros(n)
    subgroup = np.searchsorted(plan.subgroup_cumulative[:-1], block[2, :n], side="right")

    n_stages, n_events = len(plan.stages), len(plan.adverse_event_names)
    stay = np.empty((n_stages, n))
    cause = np.empty((n_stages, n), dtype=np.int64)
    evaluable = np.empty((n_stages, n), dtype=bool)
    response_uniform = np.empty((n_stages, n))
    accepts = np.empty((n_stages, n), dtype=bool)
    events = np.zeros((n_stages, n_events, n), dtype=bool)
    event_week = np.full((n_stages, n_events, n), np.inf)
    row = 3
    for s, stage in enumerate(plan.stages):
        u_dropout, u_not_evaluable, u_response, u_entry = block[row : row + 4, :n]
        row += 4
        with np.errstate(divide="ignore"):
            dropout_week = -np.log1p(-u_dropout) / stage.dropout_per_week
        leave = np.minimum(dropout_week, stage.weeks)
        cause[s] = np.where(dropout_week < stage.weeks, DROPPED_OUT, ASSESSED)
        onsets = []
        for k, event in enumerate(stage.adverse_events):
            occurs = block[row, :n] < event.probability
            onset = np.where(occurs, block[row + 1, :n] * stage.weeks, np.inf)
            row += 2
            onsets.append(onset)
            if event.discontinues:
                earlier = onset < leave
                leave = np.where(earlier, onset, leave)
                cause[s] = np.where(earlier, FIRST_ADVERSE_EVENT + k, cause[s])
        for event, onset in zip(stage.adverse_events, onsets):
            had = onset <= leave
            events[s, event.name_index] |= had
            event_week[s, event.name_index] = np.where(had, onset, event_week[s, event.name_index])
        stay[s] = leave
        evaluable[s] = (cause[s] == ASSESSED) & (u_not_evaluable >= stage.not_evaluable)
        response_uniform[s] = u_response
        accepts[s] = u_entry < stage.entry
    rates = np.array([stage.response for stage in plan.stages])
    for s, stage in enumerate(plan.stages):
        if stage.response_prior is not None:
            rates[s, :] = rng.beta(*stage.response_prior)
    return PatientDraws(
        registration_week=registration_week,
        screen_failures=screen_failures.astype(np.int64),
        subgroup=subgroup,
        stay_weeks=stay,
        exit_cause=cause,
        evaluable=evaluable,
        response_uniform=response_uniform,
        accepts_entry=accepts,
        adverse_events=events,
        adverse_event_week=event_week,
        response_rate=rates,
    )


def null_response_rate(plan: TrialPlan) -> np.ndarray:
    """Null-world response rates, shape (stages, subgroups)."""
    groups = len(plan.subgroup_names)
    return np.array([[stage.null_response] * groups for stage in plan.stages])
