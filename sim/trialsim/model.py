"""The SimPy model of one simulated trial in calendar weeks.

The model reads pre-drawn random numbers (:mod:`trialsim.draws`) and the
world's response rates, and returns what happened to every patient. It does
no I/O and holds no global state. Registration is a SimPy process; each
stage entry schedules one event, when the patient leaves the stage
(assessment, dropout or a discontinuing adverse event), whose callback routes
the patient on. Responders' time on
continued treatment is computed, not simulated, because nothing in the trial
waits for it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy

from trialsim.draws import ASSESSED, DROPPED_OUT, FIRST_ADVERSE_EVENT, PatientDraws
from trialsim.plan import NO_STAGE, TrialPlan

TraceRow = tuple[float, int, str, str, str]


@dataclass(frozen=True)
class TrialOutcome:
    """What happened in one simulated trial (one replicate, one world).

    Arrays indexed ``[stage, patient]`` hold NaN / False where the patient
    never entered the stage. Times are calendar weeks since study start.

    Attributes
    ----------
    registered : int
    entry_week, exit_week : ndarray, shape (stages, n)
    responded : ndarray of bool, shape (stages, n)
    off_week : ndarray, shape (n,)
        When each registered patient finished the protocol.
    turned_away : ndarray of int, shape (stages,)
        Entries refused because the stage was not admitting (cap reached).
    """

    registered: int
    entry_week: np.ndarray
    exit_week: np.ndarray
    responded: np.ndarray
    off_week: np.ndarray
    turned_away: np.ndarray


class SequentialTrial:
    """One trial: registration, then each patient walks the stage graph.

    Parameters
    ----------
    plan : TrialPlan
    draws : PatientDraws
    response_rate : ndarray, shape (stages, subgroups)
        The world's response rates.
    trace : list or None
        If a list, one ``(week, patient, stage, event, detail)`` row is appended
        per event, in calendar order.
    """

    def __init__(
        self,
        plan: TrialPlan,
        draws: PatientDraws,
        response_rate: np.ndarray,
        trace: list[TraceRow] | None = None,
    ):
        self.plan = plan
        self.draws = draws
        n_stages, n = len(plan.stages), len(draws.registration_week)
        self.responds = draws.evaluable & (
            draws.response_uniform < response_rate[:, draws.subgroup]
        )
        self.env = simpy.Environment()
        self.trace = trace
        self.entries = [0] * n_stages
        self.turned_away = np.zeros(n_stages, dtype=np.int64)
        self.entry_week = np.full((n_stages, n), np.nan)
        self.exit_week = np.full((n_stages, n), np.nan)
        self.off_week = np.full(n, np.nan)

    def run(self) -> TrialOutcome:
        """Simulate until every patient is off study."""
        self.env.process(self._registration())
        self.env.run()
        return TrialOutcome(
            registered=len(self.draws.registration_week),
            entry_week=self.entry_week,
            exit_week=self.exit_week,
            responded=self.responds & ~np.isnan(self.exit_week),
            off_week=self.off_week,
            turned_away=self.turned_away,
        )

    def _registration(self) -> Generator[simpy.Event, None, None]:
        env = self.env
        for patient, week in enumerate(self.draws.registration_week.tolist()):
            yield env.timeout(week - env.now)
            if self.trace is not None:
                group = self.plan.subgroup_names[self.draws.subgroup[patient]]
                failures = int(self.draws.screen_failures[patient])
                self._log(patient, "", "registered", f"subgroup {group}; {failures} screen failures")
            self._enter(patient, 0)

    def _enter(self, patient: int, stage: int) -> None:
        stage_plan = self.plan.stages[stage]
        if self.entries[stage] >= stage_plan.max_entries:
            self.turned_away[stage] += 1
            self._log(patient, stage_plan.id, "turned away", "stage cap reached")
            self.off_week[patient] = self.env.now
            return
        self.entries[stage] += 1
        self.entry_week[stage, patient] = self.env.now
        self._log(patient, stage_plan.id, "entered", stage_plan.treatment)
        leaving = self.env.timeout(self.draws.stay_weeks[stage, patient])
        leaving.callbacks.append(partial(self._leave, patient, stage))

    def _leave(self, patient: int, stage: int, _event: simpy.Event) -> None:
        now, plan, draws = self.env.now, self.plan, self.draws
        stage_plan = plan.stages[stage]
        self.exit_week[stage, patient] = now
        self.off_week[patient] = now
        if not draws.evaluable[stage, patient]:
            self._log(patient, stage_plan.id, "not evaluable", self._exit_reason(stage, patient))
        elif self.responds[stage, patient]:
            self._log(patient, stage_plan.id, "responded", "continues treatment")
            continued = draws.registration_week[patient] + plan.continue_to_weeks
            self.off_week[patient] = max(now, continued)
        elif stage_plan.next_stage == NO_STAGE:
            self._log(patient, stage_plan.id, "no response", "off study")
        elif not draws.accepts_entry[stage_plan.next_stage, patient]:
            self._log(patient, stage_plan.id, "no response", "declined re-registration")
        else:
            self._log(patient, stage_plan.id, "no response", "re-registered")
            self._enter(patient, stage_plan.next_stage)

    def _exit_reason(self, stage: int, patient: int) -> str:
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


def simulate_trial(
    plan: TrialPlan,
    draws: PatientDraws,
    response_rate: np.ndarray,
    trace: list[TraceRow] | None = None,
) -> TrialOutcome:
    """Run one trial of ``plan`` with ``draws`` in the world given by ``response_rate``.

    Parameters
    ----------
    plan : TrialPlan
    draws : PatientDraws
    response_rate : ndarray, shape (stages, subgroups)
    trace : list or None
        Receives the event log when given.

    Returns
    -------
    TrialOutcome
    """
    return SequentialTrial(plan, draws, response_rate, trace).run()
