"""The SimPy model of one simulated trial in calendar weeks: the event-driven driver.

Owns :class:`WorldTrial` (one world's trial inside a shared SimPy
environment), the registration process, the per-patient trace, and
:func:`simulate_worlds` / :func:`simulate_trial`. What happens to a patient
in a stage comes from :mod:`trialsim.model.pathway`, the monitoring of a
stage from :mod:`trialsim.model.monitor`; whole chunks of replicates without
events go through :mod:`trialsim.model.chunk`. The model reads pre-drawn
random numbers (:mod:`trialsim.model.draws`) and each world's response
rates; it does no I/O and holds no global state.

Events are scheduled where the trial can react to them. A stage is *observed*
when the timing of other patients changes who may enter it (a cap on entries
or interim monitoring): arrivals, admissions and exits there are SimPy
events, processed in calendar order, and registration is a SimPy process
shared by the worlds simulated together (common random numbers: the same
patients arrive at the same weeks). Through an unobserved stage a whole
cohort moves at once, because nothing depends on the order in which its
patients move. ``observe_all=True`` makes every stage observed: the plain
event-by-event simulation, which must give identical outcomes and is used
for the per-patient trace. Responders' continued treatment is computed, not
simulated: nothing waits for it.

``enrollment.patients`` counts registrations. A candidate who arrives while
the first stage of the arm they would be randomised to is not admitting (an
interim pause, or its planned number evaluable or pending) is turned away:
not registered, not counted. Each world registers until it has
``plan.patients`` patients, its first stages close, or accrual stops; its
``i``-th registered patient takes patient ``i``'s draws at the candidate's
arrival week. Randomisation follows a list: the next registration's arm is
fixed by its draw, so a paused arm holds registration until it reopens.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator, Iterator, Sequence
from functools import partial

import numpy as np
import simpy

from trialsim.model.draws import ASSESSED, DROPPED_OUT, FIRST_ADVERSE_EVENT, PatientDraws
from trialsim.model.monitor import StageMonitor
from trialsim.model.outcome import TrialOutcome
from trialsim.model.pathway import Passage, Pathway, allocate
from trialsim.model.plan import NO_STAGE, TrialPlan

TraceRow = tuple[float, int, str, str, str]
WorldTraceRow = tuple[str, float, int, str, str, str]
Route = dict[int, Passage]  # an arm's passages, by stage


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
        self.pathway = Pathway(plan, draws, response_rate)
        self.routes: list[Route] = [
            {passage.stage: passage for passage in self.pathway.chain(arm.first_stage)}
            for arm in plan.arms
        ]
        self.entries = [0] * n_stages
        self.turned_away = np.zeros(n_stages, dtype=np.int64)
        self.entry_week = np.full((n_stages, n), np.nan)
        self.exit_week = np.full((n_stages, n), np.nan)
        self.off_week = np.full(n, np.nan)
        self.arm = np.full(n, -1, dtype=np.int64)
        self.registration_week = np.full(n, np.nan)
        self.registrations = 0
        self.shares = np.array([arm.share for arm in plan.arms])
        self._cuts: dict[tuple[int, ...], list[float]] = {}
        self.monitors = [
            None if stage.interim is None else StageMonitor(stage.interim) for stage in plan.stages
        ]
        self._monitored = [(s, m) for s, m in enumerate(self.monitors) if m is not None]

    @property
    def registering(self) -> bool:
        """Whether the world still registers: patients to go and some arm's first stage open."""
        return self.registrations < len(self.registration_week) and any(
            not self._closed(arm.first_stage) for arm in self.plan.arms
        )

    def _closed(self, stage: int) -> bool:
        """Whether ``stage`` will never admit again (stopped, complete or its cap reached)."""
        monitor = self.monitors[stage]
        if monitor is not None and monitor.closed:
            return True
        return self.entries[stage] >= self.plan.stages[stage].max_entries

    def outcome(self) -> TrialOutcome:
        """The finished trial's outcome arrays."""
        n_stages = len(self.plan.stages)
        stopped = np.zeros(n_stages, dtype=bool)
        for_efficacy = np.zeros(n_stages, dtype=bool)
        overrun = np.zeros(n_stages, dtype=np.int64)
        for stage, monitor in self._monitored:
            stopped[stage] = monitor.stopped
            for_efficacy[stage] = monitor.stopped_for_efficacy
            overrun[stage] = monitor.overrun
        return TrialOutcome(
            entry_week=self.entry_week,
            exit_week=self.exit_week,
            responded=self.pathway.responds & ~np.isnan(self.exit_week),
            off_week=self.off_week,
            arm=self.arm,
            registration_week=self.registration_week,
            turned_away=self.turned_away,
            stopped_early=stopped,
            stopped_for_efficacy=for_efficacy,
            overrun=overrun,
        )

    def register_all(self) -> None:
        """Register every patient at their week, arm by arm (no first stage observed)."""
        self.arm[:] = allocate(self.draws.arm_uniform, self.shares)
        self.registration_week[:] = self.draws.registration_week
        self.registrations = len(self.arm)
        for k, arm in enumerate(self.plan.arms):
            self._route(self.routes[k], arm.first_stage, np.flatnonzero(self.arm == k))

    def register(self, week: float) -> None:
        """A candidate arrives at ``week`` (now): register them as the next patient, or not.

        The next patient is randomised among the arms still open; if that arm's
        first stage is not admitting (an interim pause, or its planned number
        evaluable or pending) the candidate is turned away and the patient's
        slot waits for the next candidate.
        """
        arms, patient = self.plan.arms, self.registrations
        open_arms = tuple(k for k, arm in enumerate(arms) if not self._closed(arm.first_stage))
        if open_arms not in self._cuts:
            cumulative = (
                np.cumsum(self.shares[list(open_arms)]) / self.shares[list(open_arms)].sum()
            )
            self._cuts[open_arms] = cumulative[:-1].tolist()
        # The same choice as allocate(), without array calls for one patient.
        arm = open_arms[bisect.bisect_right(self._cuts[open_arms], self.draws.arm_uniform[patient])]
        first = arms[arm].first_stage
        refusal = self._refusal(first) if self.observed[first] else ""
        if refusal:
            self.turned_away[first] += 1
            self._log(-1, self.plan.stages[first].id, "turned away", f"candidate: {refusal}")
            return
        self.registrations += 1
        self.arm[patient] = arm
        self.registration_week[patient] = week
        if week != self.draws.registration_week[patient]:
            self.pathway.register_at(patient, week, self.routes)
        if self.trace is not None:
            group = self.plan.subgroup_names[self.draws.subgroup[patient]]
            failures = int(self.draws.screen_failures[patient])
            named = f"arm {arms[arm].id}; " if len(arms) > 1 else ""
            detail = f"{named}subgroup {group}; {failures} screen failures"
            self._log(patient, "", "registered", detail)
        route = self.routes[arm]
        if self.observed[first]:
            self._admit(route, first, patient, week)
        else:
            self._pass_cohort(route, first, np.array([patient]))

    def _route(self, route: Route, stage: int, patients: np.ndarray) -> None:
        """``patients`` arrive at ``stage`` at their entry weeks (not before now)."""
        if len(patients) == 0:
            return
        if not self.observed[stage]:
            self._pass_cohort(route, stage, patients)
            return
        weeks = route[stage].entry[patients]
        for patient, week in zip(patients.tolist(), weeks.tolist(), strict=True):
            if week > self.env.now:
                arrival = self.env.timeout(week - self.env.now)
                arrival.callbacks.append(partial(self._admit_at_event, route, stage, patient, week))
            else:
                self._admit(route, stage, patient, week)

    def _pass_cohort(self, route: Route, stage: int, patients: np.ndarray) -> None:
        """Move a cohort through an unobserved stage (no cap: all are admitted)."""
        passage = route[stage]
        self.entries[stage] += len(patients)
        self.entry_week[stage, patients] = passage.entry[patients]
        self.exit_week[stage, patients] = passage.leave[patients]
        self.off_week[patients] = passage.off[patients]
        if passage.next_stage != NO_STAGE:
            self._route(route, passage.next_stage, patients[passage.moves_on[patients]])

    def _admit_at_event(
        self, route: Route, stage: int, patient: int, week: float, _event: simpy.Event
    ) -> None:
        self._admit(route, stage, patient, week)

    def _admit(self, route: Route, stage: int, patient: int, week: float) -> bool:
        """Admit ``patient`` arriving at ``week`` unless the stage refuses; whether admitted."""
        # Times are carried as exact weeks from the passage: SimPy's clock
        # (now + delay) may differ in the last bit, and the outcome must not
        # depend on the event path.
        stage_plan, passage, monitor = self.plan.stages[stage], route[stage], self.monitors[stage]
        refusal = self._refusal(stage)
        if refusal:
            self.turned_away[stage] += 1
            self.off_week[patient] = week
            self._log(patient, stage_plan.id, "turned away", refusal)
            return False
        if monitor is not None:
            monitor.admit()
        self.entries[stage] += 1
        self.entry_week[stage, patient] = week
        self._log(patient, stage_plan.id, "entered", stage_plan.treatment)
        leaving = self.env.timeout(passage.leave[patient] - self.env.now)
        leaving.callbacks.append(partial(self._leave, route, passage, patient))
        return True

    def _refusal(self, stage: int) -> str:
        """Why ``stage`` admits no one now, or "" if it admits."""
        monitor = self.monitors[stage]
        if monitor is not None and monitor.closed:
            return monitor.closed_reason()
        if self.entries[stage] >= self.plan.stages[stage].max_entries:
            return "stage cap reached"
        return "" if monitor is None else monitor.waiting_reason()

    def _leave(self, route: Route, passage: Passage, patient: int, _event: simpy.Event) -> None:
        stage = passage.stage
        stage_id = self.plan.stages[stage].id
        self.exit_week[stage, patient] = passage.leave[patient]
        self.off_week[patient] = passage.off[patient]
        evaluable, responded = passage.evaluable[patient], passage.responded[patient]
        monitor = self.monitors[stage]
        if monitor is not None and (look := monitor.leave(evaluable, responded)) is not None:
            verdict = "continue" if look.decision == "continue" else f"stop for {look.decision}"
            detail = f"{look.responders} of {look.count} responded: {verdict}"
            self._log(patient, stage_id, "interim analysis", detail)
        if not evaluable:
            self._log(patient, stage_id, "not evaluable", self._exit_reason(stage, patient))
        elif responded:
            self._log(patient, stage_id, "responded", "continues treatment")
        elif passage.moves_on[patient]:
            self._log(patient, stage_id, "no response", "re-registered")
            self._route(route, passage.next_stage, np.array([patient]))
        elif passage.next_stage == NO_STAGE:
            self._log(patient, stage_id, "no response", "off study")
        else:
            self._log(patient, stage_id, "no response", "declined re-registration")

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


def candidate_weeks(plan: TrialPlan, draws: PatientDraws) -> Iterator[float]:
    """Arrival weeks of the candidates for registration, until accrual stops.

    The pre-drawn arrivals, then (if all of them came before accrual stops)
    the replicate's later arrivals.
    """
    weeks = draws.registration_week.tolist()
    yield from weeks
    if len(weeks) == plan.patients:
        yield from draws.later_arrivals.weeks(plan, weeks[-1] if weeks else 0.0)


def _registration(
    env: simpy.Environment, plan: TrialPlan, draws: PatientDraws, worlds: Sequence[WorldTrial]
) -> Generator[simpy.Event, None, None]:
    for week in candidate_weeks(plan, draws):
        registering = [world for world in worlds if world.registering]
        if not registering:
            return
        yield env.timeout(week - env.now)
        for world in registering:
            if world.registering:
                world.register(week)


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
        env.process(_registration(env, plan, draws, worlds))
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
