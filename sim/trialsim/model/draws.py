"""Random numbers of one replicate, drawn up front from its own seed streams.

Replicate ``r`` of a run with base seed ``s`` draws from
``SeedSequence(s, spawn_key=(r,))``: its numbers do not depend on how many
replicates run, on which worker, or in which order. Within a replicate each
random source has its own stream: the trial's (registration, screening,
subgroup, arm) and one per stage, named by the stage's id, each far apart on
the replicate's PCG64 generator. Inside a stream patient ``i`` reads the
``i``-th fixed-size row, so a patient's numbers do not depend on the number of
patients, on other stages, or on other patients' fates: scenarios that differ
in N, in one stage's parameters or in the stages present share their random
numbers (common random numbers). The alternative and the null world use the
same draws; only the response thresholds differ.

Patient ``i``'s row belongs to the ``i``-th *registered* patient. Candidates
who arrive while registration is held (a paused first stage) are not
registered, so a trial may need arrivals beyond the ``plan.patients``
pre-drawn ones: :class:`LaterArrivals` draws them on demand from the
replicate's first :class:`numpy.random.SeedSequence` child, a stream no other
source reads, so no existing number moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from trialsim.model.plan import TrialPlan
from trialsim.model.seeding import pcg64_states

ASSESSED = 0
DROPPED_OUT = 1
FIRST_ADVERSE_EVENT = 2
TRIAL_ROWS = 4  # registration gap, screening, subgroup, arm
STREAM_SPACING = 2**64  # numbers between the starts of two sources' streams
GENERATOR_PERIOD = 2**128
LATER_ARRIVALS_BLOCK = 64  # later arrival gaps drawn at a time


@dataclass(frozen=True)
class LaterArrivals:
    """Candidates arriving after the ``plan.patients`` pre-drawn ones, drawn on demand.

    Parameters
    ----------
    seed : int
        Base seed of the run.
    replicate : int
        0-based replicate index (of the first replicate, in a chunk's stacked draws).
    """

    seed: int
    replicate: int

    def of(self, index: int) -> LaterArrivals:
        """The later arrivals of the ``index``-th replicate of a chunk starting here."""
        return LaterArrivals(self.seed, self.replicate + index)

    def weeks(self, plan: TrialPlan, after_week: float) -> Iterator[float]:
        """Calendar weeks of the candidates arriving after ``after_week``, until accrual stops.

        The unit-rate Poisson process continues from the epoch of ``after_week``
        (the last pre-drawn arrival) with exponential gaps from
        ``SeedSequence(seed, spawn_key=(replicate, 0))``.
        """
        child = np.random.SeedSequence(self.seed, spawn_key=(self.replicate, 0))
        generator = np.random.Generator(np.random.PCG64(child))
        epoch = plan.expected_registrations_by(after_week)
        while True:
            epochs = epoch + np.cumsum(generator.standard_exponential(LATER_ARRIVALS_BLOCK))
            epoch = float(epochs[-1])
            for week in plan.registration_week(epochs).tolist():
                if week > plan.accrual_stop_week:
                    return
                yield week


@dataclass(frozen=True)
class PatientDraws:
    """Fates of the candidate patients of one replicate, world-independent.

    Arrays indexed ``[stage, patient]`` describe what would happen if the
    patient entered that stage. Times are weeks.

    Attributes
    ----------
    registration_week : ndarray, shape (n,)
        Calendar week of each of the first ``plan.patients`` candidates'
        arrival, increasing; only arrivals before accrual stops are kept, so
        ``n <= plan.patients``. It is the ``i``-th registration's week unless a
        held registration turned earlier candidates away.
    screen_failures : ndarray of int, shape (n,)
        Ineligible candidates screened before each registered patient.
    subgroup : ndarray of int, shape (n,)
    arm_uniform : ndarray, shape (n,)
        Picks the arm among those open at registration, by allocation share.
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
    later_arrivals : LaterArrivals
        Candidates beyond the pre-drawn ones (the chunk's first replicate's
        in stacked draws).
    """

    registration_week: np.ndarray
    screen_failures: np.ndarray
    subgroup: np.ndarray
    arm_uniform: np.ndarray
    stay_weeks: np.ndarray
    exit_cause: np.ndarray
    evaluable: np.ndarray
    response_uniform: np.ndarray
    accepts_entry: np.ndarray
    adverse_events: np.ndarray
    adverse_event_week: np.ndarray
    response_rate: np.ndarray
    later_arrivals: LaterArrivals


PER_PATIENT_FIELDS = tuple(
    name
    for name in PatientDraws.__dataclass_fields__
    if name not in ("response_rate", "later_arrivals")
)


def source_offset(source: str) -> int:
    """Start of a random source's stream on a replicate's generator (the trial's is 0)."""
    digest = hashlib.blake2b(source.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") * STREAM_SPACING


class ReplicateStreams:
    """The random streams of consecutive replicates, one replicate at a time.

    Replicate ``r``'s generator is ``PCG64(SeedSequence(seed, spawn_key=(r,)))``;
    the states of all of them are computed at once (:mod:`trialsim.model.seeding`)
    and one generator object is set to each in turn.

    Parameters
    ----------
    seed : int
        Base seed of the run.
    start, stop : int
        Replicate range.
    """

    def __init__(self, seed: int, start: int, stop: int):
        self._states = pcg64_states(seed, np.arange(start, stop))
        self._bits = np.random.PCG64()
        self._generator = np.random.Generator(self._bits)
        self._position = 0

    def begin(self, index: int) -> None:
        """Read the streams of the ``index``-th replicate of the range from now on."""
        state, increment = self._states[index]
        self._bits.state = {
            "bit_generator": "PCG64",
            "state": {"state": state, "inc": increment},
            "has_uint32": 0,
            "uinteger": 0,
        }
        self._position = 0

    def uniforms(self, offset: int, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (C-contiguous) with uniforms on [0, 1) from the start of the stream at
        ``offset``, one draw per number in memory order; ``out``."""
        self._bits.advance((offset - self._position) % GENERATOR_PERIOD)
        self._generator.random(out=out)
        self._position = offset + out.size
        return out


def stage_rows(plan: TrialPlan) -> list[int]:
    """Uniforms per patient in each stage's stream: 4 + 2 per adverse event."""
    return [4 + 2 * len(stage.adverse_events) for stage in plan.stages]


@dataclass(frozen=True)
class ChunkDraws:
    """The :class:`PatientDraws` of consecutive replicates, stacked.

    Attributes
    ----------
    registered : ndarray of int, shape (replicates,)
        Patients registered in each replicate.
    stacked : PatientDraws
        Every array with a leading replicate axis; patient axes have length
        ``plan.patients``, and entries past a replicate's ``registered`` count
        are padding (registration week NaN).
    """

    registered: np.ndarray
    stacked: PatientDraws

    @classmethod
    def of_one(cls, draws: PatientDraws) -> ChunkDraws:
        """A chunk holding the single replicate ``draws``."""
        fields = {name: getattr(draws, name)[None] for name in PER_PATIENT_FIELDS}
        stacked = PatientDraws(
            **fields,
            response_rate=draws.response_rate[None],
            later_arrivals=draws.later_arrivals,
        )
        return cls(np.array([len(draws.registration_week)]), stacked)

    def replicate(self, index: int) -> PatientDraws:
        """The draws of the ``index``-th replicate of the chunk (views, not copies)."""
        n = int(self.registered[index])
        fields = {name: getattr(self.stacked, name)[index][..., :n] for name in PER_PATIENT_FIELDS}
        return PatientDraws(
            **fields,
            response_rate=self.stacked.response_rate[index],
            later_arrivals=self.stacked.later_arrivals.of(index),
        )


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
        The same numbers as replicate ``replicate`` of any chunk containing it.
    """
    return draw_chunk(plan, seed, replicate, replicate + 1).replicate(0)


def draw_chunk(plan: TrialPlan, seed: int, start: int, stop: int) -> ChunkDraws:
    """Draw every random quantity of replicates ``start`` to ``stop - 1``.

    Each replicate reads only its own stream; the transformations below are
    elementwise, so a replicate's draws do not depend on the chunk it is in.

    Parameters
    ----------
    plan : TrialPlan
    seed : int
        Base seed of the run.
    start, stop : int
        Replicate range.

    Returns
    -------
    ChunkDraws
    """
    count, n_max = stop - start, plan.patients
    # Each source's uniforms as [replicate, patient, row]: patient i reads the i-th row.
    trial = np.empty((count, n_max, TRIAL_ROWS))
    stage_uniforms = [np.empty((count, n_max, width)) for width in stage_rows(plan)]
    offsets = [source_offset(f"stage:{stage.id}") for stage in plan.stages]
    priors = [
        (s, stage.response_prior)
        for s, stage in enumerate(plan.stages)
        if stage.response_prior is not None
    ]
    prior_uniforms = np.empty((count, len(priors)))
    streams = ReplicateStreams(seed, start, stop)
    for index in range(count):
        streams.begin(index)
        streams.uniforms(0, trial[index])
        for offset, uniforms in zip(offsets, stage_uniforms, strict=True):
            streams.uniforms(offset, uniforms[index])
        for k, (s, _) in enumerate(priors):
            # A stage's prior has its own stream, half-way to the next possible start.
            prior_offset = offsets[s] + STREAM_SPACING // 2
            streams.uniforms(prior_offset, prior_uniforms[index, k : k + 1])
    rates = np.empty((count, len(plan.stages), len(plan.subgroup_names)))
    rates[:] = [stage.response for stage in plan.stages]
    if priors:
        from scipy.special import betaincinv

        for k, (s, (a, b)) in enumerate(priors):
            rates[:, s, :] = betaincinv(a, b, prior_uniforms[:, k])[:, None]
    # 1 - U lies in (0, 1], so its logarithm is finite.
    weeks = plan.registration_week(np.cumsum(-np.log1p(-trial[..., 0]), axis=1))
    registered = (weeks <= plan.accrual_stop_week).sum(axis=1)
    weeks[weeks > plan.accrual_stop_week] = np.nan
    if plan.screen_failure > 0:
        screen_failures = np.floor(np.log1p(-trial[..., 1]) / np.log(plan.screen_failure))
    else:
        screen_failures = np.zeros((count, n_max))
    subgroup = np.searchsorted(plan.subgroup_cumulative[:-1], trial[..., 2], side="right")
    arm_uniform = np.ascontiguousarray(trial[..., 3])

    n_stages, n_events = len(plan.stages), len(plan.adverse_event_names)
    shape = (count, n_stages, n_max)
    stay = np.empty(shape)
    cause = np.empty(shape, dtype=np.int64)
    evaluable = np.empty(shape, dtype=bool)
    response_uniform = np.empty(shape)
    accepts = np.empty(shape, dtype=bool)
    events = np.zeros((count, n_stages, n_events, n_max), dtype=bool)
    event_week = np.full((count, n_stages, n_events, n_max), np.inf)
    for s, (stage, uniforms) in enumerate(zip(plan.stages, stage_uniforms, strict=True)):
        u_dropout, u_not_evaluable, u_response, u_entry = (uniforms[..., k] for k in range(4))
        with np.errstate(divide="ignore", over="ignore"):  # (near) no dropout: week inf
            dropout_week = -np.log1p(-u_dropout) / stage.dropout_per_week
        leave = np.minimum(dropout_week, stage.weeks)
        cause[:, s] = np.where(dropout_week < stage.weeks, DROPPED_OUT, ASSESSED)
        onsets = []
        for k, event in enumerate(stage.adverse_events):
            occurs = uniforms[..., 4 + 2 * k] < event.probability
            onset = np.where(occurs, uniforms[..., 5 + 2 * k] * stage.weeks, np.inf)
            onsets.append(onset)
            if event.discontinues:
                earlier = onset < leave
                leave = np.where(earlier, onset, leave)
                cause[:, s] = np.where(earlier, FIRST_ADVERSE_EVENT + k, cause[:, s])
        for event, onset in zip(stage.adverse_events, onsets, strict=True):
            had = onset <= leave
            events[:, s, event.name_index] |= had
            event_week[:, s, event.name_index] = np.where(
                had, onset, event_week[:, s, event.name_index]
            )
        stay[:, s] = leave
        evaluable[:, s] = (cause[:, s] == ASSESSED) & (u_not_evaluable >= stage.not_evaluable)
        response_uniform[:, s] = u_response
        accepts[:, s] = u_entry < stage.entry
    return ChunkDraws(
        registered,
        PatientDraws(
            registration_week=weeks,
            screen_failures=screen_failures.astype(np.int64),
            subgroup=subgroup,
            arm_uniform=arm_uniform,
            stay_weeks=stay,
            exit_cause=cause,
            evaluable=evaluable,
            response_uniform=response_uniform,
            accepts_entry=accepts,
            adverse_events=events,
            adverse_event_week=event_week,
            response_rate=rates,
            later_arrivals=LaterArrivals(seed, start),
        ),
    )


def null_response_rate(plan: TrialPlan) -> np.ndarray:
    """Null-world response rates, shape (stages, subgroups)."""
    groups = len(plan.subgroup_names)
    return np.array([[stage.null_response] * groups for stage in plan.stages])
