"""The SimPy model of one simulated trial in calendar weeks.

The model reads pre-drawn random numbers (:mod:`trialsim.model.draws`) and each
world's response rates, and returns what happened to every patient. It does no
I/O and holds no global state.

Events are scheduled where the trial can react to them. A stage is *observed*
when the timing of other patients changes who may enter it (a cap on
entries): arrivals, admissions and exits there are SimPy events, processed in
calendar order, and registration is a SimPy process shared by the worlds
simulated together (common random numbers: the same patients arrive at the
same weeks). Through an unobserved stage a whole cohort moves at once, its
entry and exit weeks computed from the pre-drawn times, because nothing
depends on the order in which its patients move. ``observe_all=True`` makes
every stage observed: the plain event-by-event simulation, which must give
identical outcomes and is used for the per-patient trace. When no stage is
observed, nothing in any trial waits for an event, and a chunk of replicates
passes through the stages in one array computation
(:func:`simulate_chunk_worlds`). Responders' continued treatment is computed,
not simulated: nothing waits for it.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy

from trialsim.model.draws import (
    ASSESSED,
    DROPPED_OUT,
    FIRST_ADVERSE_EVENT,
    ChunkDraws,
    PatientDraws,
)
from trialsim.model.plan import NO_STAGE, TrialPlan

TraceRow = tuple[float, int, str, str, str]
WorldTraceRow = tuple[str, float, int, str, str, str]


@dataclass(frozen=True)
class TrialOutcome:
    """What happened in one simulated trial (one replicate, one world).

    Arrays indexed ``[stage, patient]`` hold NaN / False where the patient
    never entered the stage. Times are calendar weeks since study start.

    Attributes
    ----------
    entry_week, exit_week : ndarray, shape (stages, n)
        ``n`` is the number of candidates who arrived before accrual stopped.
    responded : ndarray of bool, shape (stages, n)
    off_week : ndarray, shape (n,)
        When each registered patient finished the protocol (NaN if never registered).
    arm : ndarray of int, shape (n,)
        Index of the arm each patient was randomised to (-1 if never registered).
    turned_away : ndarray of int, shape (stages,)
        Entries refused because the stage was not admitting (cap, interim
        pause, planned number reached, or stopped).
    stopped_early : ndarray of bool, shape (stages,)
        The stage's interim analysis stopped it.
    overrun : ndarray of int, shape (stages,)
        Patients admitted while the stage's interim analysis was pending.
    """

    entry_week: np.ndarray
    exit_week: np.ndarray
    responded: np.ndarray
    off_week: np.ndarray
    arm: np.ndarray
    turned_away: np.ndarray
    stopped_early: np.ndarray
    overrun: np.ndarray

    @property
    def registered(self) -> int:
        """Patients registered (and randomised)."""
        return int((self.arm >= 0).sum())


@dataclass(frozen=True)
class OutcomeBatch:
    """Outcomes of consecutive replicates in one world, padded to ``patients``.

    Padding (patients never registered) holds NaN weeks and False flags.
    """

    entry_week: np.ndarray
    exit_week: np.ndarray
    responded: np.ndarray
    off_week: np.ndarray
    arm: np.ndarray
    turned_away: np.ndarray
    stopped_early: np.ndarray
    overrun: np.ndarray

    @classmethod
    def empty(cls, count: int, stages: int, patients: int) -> OutcomeBatch:
        """A batch in which nobody has entered any stage yet."""
        return cls(
            entry_week=np.full((count, stages, patients), np.nan),
            exit_week=np.full((count, stages, patients), np.nan),
            responded=np.zeros((count, stages, patients), dtype=bool),
            off_week=np.full((count, patients), np.nan),
            arm=np.full((count, patients), -1, dtype=np.int64),
            turned_away=np.zeros((count, stages), dtype=np.int64),
            stopped_early=np.zeros((count, stages), dtype=bool),
            overrun=np.zeros((count, stages), dtype=np.int64),
        )

    @classmethod
    def stack(cls, outcomes: Sequence[TrialOutcome], patients: int) -> OutcomeBatch:
        """Stack per-replicate outcomes, padding each to ``patients``."""
        batch = cls.empty(len(outcomes), len(outcomes[0].turned_away), patients)
        for i, outcome in enumerate(outcomes):
            n = outcome.entry_week.shape[1]
            batch.turned_away[i] = outcome.turned_away
            batch.stopped_early[i] = outcome.stopped_early
            batch.overrun[i] = outcome.overrun
            batch.entry_week[i, :, :n] = outcome.entry_week
            batch.exit_week[i, :, :n] = outcome.exit_week
            batch.responded[i, :, :n] = outcome.responded
            batch.off_week[i, :n] = outcome.off_week
            batch.arm[i, :n] = outcome.arm
        return batch


def allocate(uniform: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Arm index of each patient: ``uniform`` against the cumulative allocation ``shares``.

    Parameters
    ----------
    uniform : ndarray
        The patients' arm uniforms.
    shares : ndarray, shape (arms,)
        Allocation ratios of the arms patients may be randomised to.
    """
    cumulative = np.cumsum(shares) / shares.sum()
    return np.searchsorted(cumulative[:-1], uniform, side="right")


def stage_passage(
    weeks: np.ndarray,
    stay: np.ndarray,
    responds: np.ndarray,
    continued_until: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise passage through an unobserved stage entered at ``weeks``.

    Returns
    -------
    leave : ndarray
        Week each patient leaves the stage.
    off : ndarray
        Week each patient would be off study if going nowhere next: responders
        continue to ``continued_until``.
    """
    leave = weeks + stay
    return leave, np.where(responds, np.maximum(leave, continued_until), leave)


class WorldTrial:
    """The state of one world's trial inside a shared SimPy environment.

    Parameters
    ----------
    env : simpy.Environment
    plan : TrialPlan
    draws : PatientDraws
    response_rate : ndarray, shape (stages, subgroups)
        The world's response rates.
    observed : list of bool
        Per stage, whether its passages are SimPy events.
    trace : list or None
        If a list, receives one ``(week, patient, stage, event, detail)`` row per
        event of an observed stage.
    """

    def __init__(
        self,
        env: simpy.Environment,
        plan: TrialPlan,
        draws: PatientDraws,
        response_rate: np.ndarray,
        observed: list[bool],
        trace: list[TraceRow] | None = None,
    ):
        self.env = env
        self.plan = plan
        self.draws = draws
        self.observed = observed
        self.trace = trace
        n_stages, n = len(plan.stages), len(draws.registration_week)
        self.responds = draws.evaluable & (
            draws.response_uniform < response_rate[:, draws.subgroup]
        )
        self.continued_until = draws.registration_week + plan.continue_to_weeks
        self.entries = [0] * n_stages
        self.turned_away = np.zeros(n_stages, dtype=np.int64)
        self.entry_week = np.full((n_stages, n), np.nan)
        self.exit_week = np.full((n_stages, n), np.nan)
        self.off_week = np.full(n, np.nan)
        self.arm = np.full(n, -1, dtype=np.int64)
        self.shares = np.array([arm.share for arm in plan.arms])
        self._cuts: dict[tuple[int, ...], list[float]] = {}
        # Interim monitoring (observed stages with a Simon rule)
        self.pending = [0] * n_stages
        self.assessed_evaluable = [0] * n_stages
        self.assessed_responders = [0] * n_stages
        self.looks_read = [0] * n_stages
        self.closed = [False] * n_stages
        self.stopped_early = np.zeros(n_stages, dtype=bool)
        self.stopped_for_efficacy = np.zeros(n_stages, dtype=bool)
        self.overrun = np.zeros(n_stages, dtype=np.int64)

    @property
    def registration_open(self) -> bool:
        """Whether some arm's first stage may still admit patients."""
        return any(not self.closed[arm.first_stage] for arm in self.plan.arms)

    def outcome(self) -> TrialOutcome:
        """The finished trial's outcome arrays."""
        return TrialOutcome(
            entry_week=self.entry_week,
            exit_week=self.exit_week,
            responded=self.responds & ~np.isnan(self.exit_week),
            off_week=self.off_week,
            arm=self.arm,
            turned_away=self.turned_away,
            stopped_early=self.stopped_early,
            overrun=self.overrun,
        )

    def register_all(self) -> None:
        """Register every patient at their week, arm by arm (no first stage observed)."""
        self.arm[:] = allocate(self.draws.arm_uniform, self.shares)
        for k, arm in enumerate(self.plan.arms):
            patients = np.flatnonzero(self.arm == k)
            self._route(arm.first_stage, patients, self.draws.registration_week[patients])

    def register(self, patient: int) -> None:
        """Register ``patient`` now and randomise them among the arms still open.

        An arm is open until its first stage stops or completes; a patient
        randomised to an arm paused for an interim analysis is turned away.
        """
        arms = self.plan.arms
        open_arms = tuple(k for k, arm in enumerate(arms) if not self.closed[arm.first_stage])
        if open_arms not in self._cuts:
            cumulative = (
                np.cumsum(self.shares[list(open_arms)]) / self.shares[list(open_arms)].sum()
            )
            self._cuts[open_arms] = cumulative[:-1].tolist()
        # The same choice as allocate(), without array calls for one patient.
        choice = bisect.bisect_right(self._cuts[open_arms], self.draws.arm_uniform[patient])
        self.arm[patient] = open_arms[choice]
        if self.trace is not None:
            group = self.plan.subgroup_names[self.draws.subgroup[patient]]
            failures = int(self.draws.screen_failures[patient])
            arm = f"arm {arms[self.arm[patient]].id}; " if len(arms) > 1 else ""
            detail = f"{arm}subgroup {group}; {failures} screen failures"
            self._log(patient, "", "registered", detail)
        first = arms[self.arm[patient]].first_stage
        week = self.draws.registration_week[patient : patient + 1]
        if not self.observed[first]:
            self._pass_cohort(first, np.array([patient]), week)
        elif not self._admit(patient, first, float(week[0])):
            self.arm[patient] = -1  # turned away (interim pause): not registered

    def _route(self, stage: int, patients: np.ndarray, weeks: np.ndarray) -> None:
        """``patients`` arrive at ``stage`` at ``weeks`` (not before now)."""
        if len(patients) == 0:
            return
        if not self.observed[stage]:
            self._pass_cohort(stage, patients, weeks)
            return
        for patient, week in zip(patients.tolist(), weeks.tolist(), strict=True):
            if week > self.env.now:
                arrival = self.env.timeout(week - self.env.now)
                arrival.callbacks.append(partial(self._admit_at_event, patient, stage, week))
            else:
                self._admit(patient, stage, week)

    def _pass_cohort(self, stage: int, patients: np.ndarray, weeks: np.ndarray) -> None:
        """Move a cohort through an unobserved stage (no cap: all are admitted)."""
        draws = self.draws
        self.entries[stage] += len(patients)
        self.entry_week[stage, patients] = weeks
        responded = self.responds[stage, patients]
        leave, self.off_week[patients] = stage_passage(
            weeks, draws.stay_weeks[stage, patients], responded, self.continued_until[patients]
        )
        self.exit_week[stage, patients] = leave
        following = self.plan.stages[stage].next_stage
        if following != NO_STAGE:
            moving = (
                draws.evaluable[stage, patients]
                & ~responded
                & draws.accepts_entry[following, patients]
            )
            self._route(following, patients[moving], leave[moving])

    def _admit_at_event(self, patient: int, stage: int, week: float, _event: simpy.Event) -> None:
        self._admit(patient, stage, week)

    def _admit(self, patient: int, stage: int, week: float) -> bool:
        """Admit ``patient`` to an observed stage unless it refuses; return whether admitted."""
        # Times are carried as exact weeks: SimPy's clock (now + delay) may differ
        # in the last bit, and the outcome must not depend on the event path.
        stage_plan = self.plan.stages[stage]
        refusal = self._refusal(stage)
        if refusal:
            self.turned_away[stage] += 1
            self.off_week[patient] = week
            self._log(patient, stage_plan.id, "turned away", refusal)
            return False
        interim = stage_plan.interim
        if interim is not None:
            if self._awaited_look(stage) is not None:
                self.overrun[stage] += 1
            self.pending[stage] += 1
        self.entries[stage] += 1
        self.entry_week[stage, patient] = week
        self._log(patient, stage_plan.id, "entered", stage_plan.treatment)
        leave = week + self.draws.stay_weeks[stage, patient]
        leaving = self.env.timeout(leave - self.env.now)
        leaving.callbacks.append(partial(self._leave, patient, stage, leave))
        return True

    def _filled(self, stage: int) -> int:
        return self.assessed_evaluable[stage] + self.pending[stage]

    def _refusal(self, stage: int) -> str:
        """Why ``stage`` admits no one now, or "" if it admits."""
        stage_plan = self.plan.stages[stage]
        if self.closed[stage]:
            return "stage stopped at the interim" if self.stopped_early[stage] else "stage complete"
        if self.entries[stage] >= stage_plan.max_entries:
            return "stage cap reached"
        interim = stage_plan.interim
        if interim is not None:
            if self._filled(stage) >= interim.table.n:
                return "planned evaluable patients reached or pending"
            if interim.pause and self._awaited_look(stage) is not None:
                return "paused for the interim analysis"
        return ""

    def _awaited_look(self, stage: int) -> int | None:
        """Count of the next unread look if enough patients are in for it, else None."""
        interim = self.plan.stages[stage].interim
        assert interim is not None
        looks, read = interim.table.looks, self.looks_read[stage]
        if read < len(looks) and self._filled(stage) >= looks[read].n:
            return looks[read].n
        return None

    def _monitor(self, patient: int, stage: int) -> None:
        """Count an exit from a monitored stage; read a look when due."""
        interim = self.plan.stages[stage].interim
        if interim is None:
            return
        self.pending[stage] -= 1
        if not self.draws.evaluable[stage, patient]:
            return
        self.assessed_evaluable[stage] += 1
        self.assessed_responders[stage] += bool(self.responds[stage, patient])
        count, responders = self.assessed_evaluable[stage], self.assessed_responders[stage]
        looks, read = interim.table.looks, self.looks_read[stage]
        if read < len(looks) and count == looks[read].n:
            self.looks_read[stage] += 1
            decision = looks[read].decision(responders)
            if decision != "continue":
                self.stopped_early[stage] = self.closed[stage] = True
                self.stopped_for_efficacy[stage] = decision == "efficacy"
            verdict = "continue" if decision == "continue" else f"stop for {decision}"
            self._log(
                patient,
                self.plan.stages[stage].id,
                "interim analysis",
                f"{responders} of {count} responded: {verdict}",
            )
        if count >= interim.table.n:
            self.closed[stage] = True

    def _leave(self, patient: int, stage: int, now: float, _event: simpy.Event) -> None:
        draws = self.draws
        stage_plan = self.plan.stages[stage]
        self.exit_week[stage, patient] = now
        self.off_week[patient] = now
        self._monitor(patient, stage)
        following = stage_plan.next_stage
        if not draws.evaluable[stage, patient]:
            self._log(patient, stage_plan.id, "not evaluable", self._exit_reason(stage, patient))
        elif self.responds[stage, patient]:
            self._log(patient, stage_plan.id, "responded", "continues treatment")
            self.off_week[patient] = max(now, self.continued_until[patient])
        elif following == NO_STAGE:
            self._log(patient, stage_plan.id, "no response", "off study")
        elif not draws.accepts_entry[following, patient]:
            self._log(patient, stage_plan.id, "no response", "declined re-registration")
        else:
            self._log(patient, stage_plan.id, "no response", "re-registered")
            self._route(following, np.array([patient]), np.array([now]))

    def _exit_reason(self, stage: int, patient: int) -> str:
        if self.trace is None:
            return ""
        cause = int(self.draws.exit_cause[stage, patient])
        if cause == ASSESSED:
            return "assessed, not evaluable"
        if cause == DROPPED_OUT:
            return "dropped out"
        event = self.plan.stages[stage].adverse_events[cause - FIRST_ADVERSE_EVENT]
        return f"discontinued: {self.plan.adverse_event_names[event.name_index]}"

    def _log(self, patient: int, stage: str, event: str, detail: str) -> None:
        if self.trace is not None:
            self.trace.append((self.env.now, patient, stage, event, detail))


def _registration(
    env: simpy.Environment, weeks: list[float], worlds: Sequence[WorldTrial]
) -> Generator[simpy.Event, None, None]:
    for patient, week in enumerate(weeks):
        yield env.timeout(week - env.now)
        open_worlds = [world for world in worlds if world.registration_open]
        if not open_worlds:
            return
        for world in open_worlds:
            world.register(patient)


def simulate_worlds(
    plan: TrialPlan,
    draws: PatientDraws,
    response_rates: Sequence[np.ndarray],
    traces: Sequence[list[TraceRow] | None] | None = None,
    observe_all: bool = False,
) -> list[TrialOutcome]:
    """Run one replicate's trial in several worlds on one SimPy clock.

    Parameters
    ----------
    plan : TrialPlan
    draws : PatientDraws
        The replicate's random numbers, shared by all worlds.
    response_rates : sequence of ndarray, shape (stages, subgroups)
        One set of true response rates per world.
    traces : sequence of (list or None), optional
        Per world, a list to receive the event log; implies ``observe_all``.
    observe_all : bool
        Simulate every passage as SimPy events (same outcomes, slower).

    Returns
    -------
    list of TrialOutcome
        One per world, in the order of ``response_rates``.
    """
    logs = list(traces) if traces is not None else [None] * len(response_rates)
    observe_all = observe_all or any(log is not None for log in logs)
    observed = [observe_all or stage.observed for stage in plan.stages]
    env = simpy.Environment()
    worlds = [
        WorldTrial(env, plan, draws, rate, observed, log)
        for rate, log in zip(response_rates, logs, strict=True)
    ]
    if any(observed[arm.first_stage] for arm in plan.arms):
        env.process(_registration(env, draws.registration_week.tolist(), worlds))
    else:
        for world in worlds:
            world.register_all()
    env.run()
    return [world.outcome() for world in worlds]


def simulate_trial(
    plan: TrialPlan,
    draws: PatientDraws,
    response_rate: np.ndarray,
    trace: list[TraceRow] | None = None,
    observe_all: bool = False,
) -> TrialOutcome:
    """Run one trial of ``plan`` with ``draws`` in the world given by ``response_rate``.

    Parameters
    ----------
    plan : TrialPlan
    draws : PatientDraws
    response_rate : ndarray, shape (stages, subgroups)
    trace : list or None
        Receives the event log when given.
    observe_all : bool
        Simulate every passage as SimPy events (same outcomes, slower).

    Returns
    -------
    TrialOutcome
    """
    return simulate_worlds(plan, draws, [response_rate], [trace], observe_all)[0]


def simulate_chunk_worlds(
    plan: TrialPlan, draws: ChunkDraws, response_rates: Sequence[np.ndarray]
) -> list[OutcomeBatch]:
    """Run consecutive replicates in several worlds.

    When no stage is observed nothing in any trial reacts to event order, so
    every replicate's cohorts pass through the stages together in one array
    computation (identical outcomes, tested against the event-by-event model).
    Otherwise each replicate runs its own SimPy environment.

    Parameters
    ----------
    plan : TrialPlan
    draws : ChunkDraws
    response_rates : sequence of ndarray, shape (replicates, stages, subgroups)
        One set per world.

    Returns
    -------
    list of OutcomeBatch
        One per world.
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
    stacked = draws.stacked
    count, n_stages, n = stacked.stay_weeks.shape
    replicate_index = np.arange(count)[:, None, None]
    stage_index = np.arange(n_stages)[None, :, None]
    rate = response_rate[replicate_index, stage_index, stacked.subgroup[:, None, :]]
    responds = stacked.evaluable & (stacked.response_uniform < rate)
    batch = OutcomeBatch.empty(count, n_stages, n)
    registered = np.arange(n)[None, :] < draws.registered[:, None]
    arm = allocate(stacked.arm_uniform, np.array([a.share for a in plan.arms]))
    batch.arm[registered] = arm[registered]
    for k, arm_plan in enumerate(plan.arms):
        _pass_chain(plan, stacked, batch, arm_plan.first_stage, registered & (arm == k), responds)
    return batch


def _pass_chain(
    plan: TrialPlan,
    stacked: PatientDraws,
    batch: OutcomeBatch,
    stage: int,
    arriving: np.ndarray,
    responds: np.ndarray,
) -> None:
    """Move the ``arriving`` patients of a chunk from ``stage`` along their stage chain."""
    continued_until = stacked.registration_week + plan.continue_to_weeks
    weeks = stacked.registration_week
    while True:
        batch.entry_week[:, stage][arriving] = weeks[arriving]
        responded = arriving & responds[:, stage]
        leave, off = stage_passage(weeks, stacked.stay_weeks[:, stage], responded, continued_until)
        batch.exit_week[:, stage][arriving] = leave[arriving]
        batch.responded[:, stage] |= responded
        batch.off_week[arriving] = off[arriving]
        following = plan.stages[stage].next_stage
        if following == NO_STAGE:
            return
        goes_on = stacked.evaluable[:, stage] & ~responded & stacked.accepts_entry[:, following]
        arriving = arriving & goes_on
        weeks, stage = leave, following
