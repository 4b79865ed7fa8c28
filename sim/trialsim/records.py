"""Reduce one simulated trial to a row of numbers: the per-replicate record.

A record has a fixed column layout (:class:`RecordLayout`) so that chunks of
replicates are plain float arrays: cheap to send between processes, to sum,
and to write as CSV. The data cutoff is applied here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trialsim.binomial import critical_values
from trialsim.draws import PatientDraws
from trialsim.exact import patient_probabilities
from trialsim.model import TrialOutcome
from trialsim.plan import TrialPlan

ALTERNATIVE = 0
NULL = 1
WORLDS = ("alternative", "null")

STAGE_COUNTS = ("entered", "evaluable", "responders", "turned_away")
SUBGROUP_COUNTS = ("entered", "evaluable", "responders")
ENDPOINT_FIELDS = ("denominator", "responders", "reject", "stopped_early", "true_rate")
TRIAL_FIELDS = (
    "replicate",
    "world",
    "registered",
    "screened",
    "last_registration_week",
    "analysis_week",
    "last_patient_off_week",
)


@dataclass(frozen=True)
class RecordLayout:
    """Column names of a record and where each group of columns starts."""

    columns: tuple[str, ...]
    position: dict[str, int] = field(repr=False)

    @classmethod
    def for_plan(cls, plan: TrialPlan) -> RecordLayout:
        """The layout for ``plan``'s stages, subgroups, adverse events and endpoints."""
        columns = list(TRIAL_FIELDS)
        for stage in plan.stages:
            columns += [f"stage.{stage.id}.{name}" for name in STAGE_COUNTS]
        if len(plan.subgroup_names) > 1:
            for stage in plan.stages:
                for group in plan.subgroup_names:
                    columns += [f"stage.{stage.id}.{group}.{name}" for name in SUBGROUP_COUNTS]
        columns += [f"adverse_event.{name}.patients" for name in plan.adverse_event_names]
        for endpoint in plan.endpoints:
            columns += [f"endpoint.{endpoint.id}.{name}" for name in ENDPOINT_FIELDS]
        return cls(tuple(columns), {name: i for i, name in enumerate(columns)})

    def __len__(self) -> int:
        return len(self.columns)

    def column(self, records: np.ndarray, name: str) -> np.ndarray:
        """The column ``name`` of a 2-D array of records."""
        return records[:, self.position[name]]


class RecordMaker:
    """Turns a :class:`TrialOutcome` into a record row for one plan."""

    def __init__(self, plan: TrialPlan):
        self.plan = plan
        self.layout = RecordLayout.for_plan(plan)
        self.critical = [critical_values(plan.patients, e.p0, e.alpha) for e in plan.endpoints]
        self.has_prior = any(stage.response_prior is not None for stage in plan.stages)
        self._fixed_true_rates: dict[int, list[float]] = {}

    def true_rates(self, world: int, response_rate: np.ndarray) -> list[float]:
        """The rate each endpoint estimates in this world (cached unless rates are drawn)."""
        if world == ALTERNATIVE and self.has_prior:
            return self._rates(response_rate)
        if world not in self._fixed_true_rates:
            self._fixed_true_rates[world] = self._rates(response_rate)
        return self._fixed_true_rates[world]

    def _rates(self, response_rate: np.ndarray) -> list[float]:
        return [patient_probabilities(self.plan, e, response_rate)[1] for e in self.plan.endpoints]

    def record(
        self,
        replicate: int,
        world: int,
        draws: PatientDraws,
        outcome: TrialOutcome,
        response_rate: np.ndarray,
    ) -> np.ndarray:
        """The record row of one trial.

        Parameters
        ----------
        replicate : int
        world : int
            ``ALTERNATIVE`` or ``NULL``.
        draws : PatientDraws
        outcome : TrialOutcome
        response_rate : ndarray, shape (stages, subgroups)
            The world's response rates, for the endpoints' true rates.
        """
        plan = self.plan
        row: list[float] = []
        cutoff = plan.cutoff_week
        in_data = outcome.entry_week <= cutoff
        assessed = outcome.exit_week <= cutoff
        evaluable = in_data & assessed & draws.evaluable
        responders = evaluable & outcome.responded
        if plan.cutoff_is_complete:
            analysis = float(np.nanmax(outcome.exit_week)) if outcome.registered else 0.0
        else:
            analysis = cutoff
        row += [
            replicate,
            world,
            outcome.registered,
            outcome.registered + int(draws.screen_failures.sum()),
            float(draws.registration_week[-1]) if outcome.registered else 0.0,
            analysis,
            float(np.nanmax(outcome.off_week)) if outcome.registered else 0.0,
        ]
        for s in range(len(plan.stages)):
            row += [in_data[s].sum(), evaluable[s].sum(), responders[s].sum(), outcome.turned_away[s]]
        groups = len(plan.subgroup_names)
        if groups > 1:
            for s in range(len(plan.stages)):
                for g in range(groups):
                    member = draws.subgroup == g
                    row += [
                        (in_data[s] & member).sum(),
                        (evaluable[s] & member).sum(),
                        (responders[s] & member).sum(),
                    ]
        if plan.adverse_event_names:
            onset_week = outcome.entry_week[:, None, :] + draws.adverse_event_week
            had = draws.adverse_events & in_data[:, None, :] & (onset_week <= analysis)
            row += list(had.any(axis=0).sum(axis=1))
        true_rates = self.true_rates(world, response_rate)
        for e, endpoint in enumerate(plan.endpoints):
            first = endpoint.stages[0]
            counted = in_data[first] if endpoint.population_entered else evaluable[first]
            successes = counted & responders[list(endpoint.stages)].any(axis=0)
            denominator, responded = int(counted.sum()), int(successes.sum())
            reject = responded >= self.critical[e][denominator]
            row += [denominator, responded, reject, 0, true_rates[e]]
        return np.array(row, dtype=float)
