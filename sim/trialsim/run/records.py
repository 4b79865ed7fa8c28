"""Reduce one simulated trial to a row of numbers: the per-replicate record.

A record has a fixed column layout (:class:`RecordLayout`) so that chunks of
replicates are plain float arrays: cheap to send between processes, to sum,
and to write as CSV. The data cutoff is applied here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from trialsim.exact.pathway import patient_probabilities_of
from trialsim.model.draws import ChunkDraws, PatientDraws
from trialsim.model.outcome import OutcomeBatch, TrialOutcome
from trialsim.model.plan import EndpointPlan, TrialPlan
from trialsim.rules.binomial import clopper_pearson_covers, clopper_pearson_table
from trialsim.rules.counts import GroupCounts

ALTERNATIVE = 0
NULL = 1
WORLDS = ("alternative", "null")

STAGE_COUNTS = ("entered", "evaluable", "responders", "turned_away", "stopped_early", "overrun")
SUBGROUP_COUNTS = ("entered", "evaluable", "responders")
ENDPOINT_FIELDS = (
    "denominator",
    "responders",
    "reject",
    "stopped_early",
    "true_rate",
    "estimate",
    "error",
    "covered",
)
CONTROL_FIELDS = ("control_denominator", "control_responders")
TRIAL_FIELDS = (
    "replicate",
    "world",
    "registered",
    "screened",
    "turned_away",
    "last_registration_week",
    "analysis_week",
    "last_patient_off_week",
)
COVERAGE_TABLE_TRIALS = 100  # up to this many patients, a table of intervals is made once
WEEK_RESOLUTION = 0.01
RATE_RESOLUTION = 0.001
WEEK_COLUMNS = frozenset(("last_registration_week", "analysis_week", "last_patient_off_week"))
RATE_FIELDS = frozenset(("true_rate", "estimate", "error"))


@dataclass(frozen=True)
class RecordLayout:
    """Column names of a record and where each group of columns starts."""

    columns: tuple[str, ...]
    position: dict[str, int] = field(repr=False)

    @property
    def resolutions(self) -> tuple[float, ...]:
        """Bin width of each column's histogram: whole numbers are exact, weeks to 0.01.

        0 for the replicate index, whose distribution is not kept: it would grow
        with the number of replicates.
        """
        return tuple(
            0.0
            if name == "replicate"
            else WEEK_RESOLUTION
            if name in WEEK_COLUMNS
            else RATE_RESOLUTION
            if name.rsplit(".", 1)[-1] in RATE_FIELDS
            else 1.0
            for name in self.columns
        )

    @classmethod
    def for_plan(cls, plan: TrialPlan) -> RecordLayout:
        """The layout for ``plan``'s stages, subgroups, adverse events and endpoints."""
        columns = list(TRIAL_FIELDS)
        if len(plan.arms) > 1:
            columns += [f"arm.{arm.id}.registered" for arm in plan.arms]
        for stage in plan.stages:
            columns += [f"stage.{stage.id}.{name}" for name in STAGE_COUNTS]
        if len(plan.subgroup_names) > 1:
            for stage in plan.stages:
                for group in plan.subgroup_names:
                    columns += [f"stage.{stage.id}.{group}.{name}" for name in SUBGROUP_COUNTS]
        columns += [f"adverse_event.{name}.patients" for name in plan.adverse_event_names]
        for endpoint in plan.endpoints:
            fields = ENDPOINT_FIELDS + (CONTROL_FIELDS if endpoint.compares_arms else ())
            columns += [f"endpoint.{endpoint.id}.{name}" for name in fields]
        return cls(tuple(columns), {name: i for i, name in enumerate(columns)})

    def __len__(self) -> int:
        return len(self.columns)

    def column(self, records: np.ndarray, name: str) -> np.ndarray:
        """The column ``name`` of a 2-D array of records."""
        return records[:, self.position[name]]


class RecordMaker:
    """Turns trial outcomes into record rows for one plan."""

    def __init__(self, plan: TrialPlan):
        self.plan = plan
        self.layout = RecordLayout.for_plan(plan)
        self.has_prior = any(stage.response_prior is not None for stage in plan.stages)
        self._fixed_true_rates: dict[int, np.ndarray] = {}

    def true_rates(self, world: int, response_rate: np.ndarray) -> np.ndarray:
        """The rate each endpoint estimates, shape (replicates, endpoints).

        Parameters
        ----------
        world : int
        response_rate : ndarray, shape (replicates, stages, subgroups)
        """
        if world == ALTERNATIVE and self.has_prior:
            return self._rates(response_rate)
        if world not in self._fixed_true_rates:
            self._fixed_true_rates[world] = self._rates(response_rate[0])
        return np.broadcast_to(
            self._fixed_true_rates[world], (len(response_rate), len(self.plan.endpoints))
        )

    def _rates(self, response_rate: np.ndarray) -> np.ndarray:
        """Shape (..., endpoints) for response rates of shape (..., stages, subgroups)."""
        return np.stack(
            [endpoint_estimand(self.plan, e, response_rate) for e in self.plan.endpoints], axis=-1
        )

    def record(
        self,
        replicate: int,
        world: int,
        draws: PatientDraws,
        outcome: TrialOutcome,
        response_rate: np.ndarray,
    ) -> np.ndarray:
        """The record row of one trial (see :meth:`records`)."""
        batch = OutcomeBatch.stack([outcome], len(draws.registration_week))
        return self.records(replicate, world, ChunkDraws.of_one(draws), batch, response_rate[None])[
            0
        ]

    def records(
        self,
        first_replicate: int,
        world: int,
        draws: ChunkDraws,
        outcomes: OutcomeBatch,
        response_rate: np.ndarray,
    ) -> np.ndarray:
        """Record rows of consecutive replicates in one world.

        Parameters
        ----------
        first_replicate : int
            Index of the chunk's first replicate.
        world : int
            ``ALTERNATIVE`` or ``NULL``.
        draws : ChunkDraws
        outcomes : OutcomeBatch
        response_rate : ndarray, shape (replicates, stages, subgroups)
            The world's response rates, for the endpoints' true rates.

        Returns
        -------
        ndarray, shape (replicates, columns)
        """
        plan = self.plan
        count = len(draws.registered)
        stacked = draws.stacked
        is_registered = outcomes.arm >= 0
        registered = is_registered.sum(axis=1)
        cutoff = plan.cutoff_week
        in_data = outcomes.entry_week <= cutoff
        evaluable = in_data & (outcomes.exit_week <= cutoff) & stacked.evaluable
        responders = evaluable & outcomes.responded
        if plan.cutoff_is_complete:
            last_exit = np.where(np.isnan(outcomes.exit_week), -np.inf, outcomes.exit_week)
            analysis = np.maximum(last_exit.max(axis=(1, 2), initial=-np.inf), 0.0)
        else:
            analysis = np.full(count, cutoff)
        last_off = np.where(np.isnan(outcomes.off_week), 0.0, outcomes.off_week).max(
            axis=1, initial=0.0
        )
        last_registration = np.where(is_registered, outcomes.registration_week, 0.0).max(
            axis=1, initial=0.0
        )
        columns: list[np.ndarray] = [
            np.arange(first_replicate, first_replicate + count),
            np.full(count, world),
            registered,
            registered + (stacked.screen_failures * is_registered).sum(axis=1),
            outcomes.turned_away.sum(axis=1),
            last_registration,
            analysis,
            last_off,
        ]
        if len(plan.arms) > 1:
            columns += [(outcomes.arm == k).sum(axis=1) for k in range(len(plan.arms))]
        entered_count = in_data.sum(axis=2)
        evaluable_count = evaluable.sum(axis=2)
        responder_count = responders.sum(axis=2)
        for s in range(len(plan.stages)):
            columns += [
                entered_count[:, s],
                evaluable_count[:, s],
                responder_count[:, s],
                outcomes.turned_away[:, s],
                outcomes.stopped_early[:, s],
                outcomes.overrun[:, s],
            ]
        if len(plan.subgroup_names) > 1:
            for s in range(len(plan.stages)):
                for g in range(len(plan.subgroup_names)):
                    member = stacked.subgroup == g
                    columns += [
                        (in_data[:, s] & member).sum(axis=1),
                        (evaluable[:, s] & member).sum(axis=1),
                        (responders[:, s] & member).sum(axis=1),
                    ]
        if plan.adverse_event_names:
            onset_week = outcomes.entry_week[:, :, None, :] + stacked.adverse_event_week
            had = (
                stacked.adverse_events
                & in_data[:, :, None, :]
                & (onset_week <= analysis[:, None, None, None])
            )
            per_event = had.any(axis=1).sum(axis=2)
            columns += [per_event[:, k] for k in range(len(plan.adverse_event_names))]
        true_rates = self.true_rates(world, response_rate)
        for e, endpoint in enumerate(plan.endpoints):
            denominator, responded = _group_counts(
                endpoint.stages, endpoint.population_entered, in_data, evaluable, responders
            )
            counts = GroupCounts(responded, denominator, *_stops(endpoint, outcomes, count))
            extra: list[np.ndarray] = []
            if endpoint.compares_arms:
                control_denominator, control_responded = _group_counts(
                    endpoint.control_stages,
                    endpoint.population_entered,
                    in_data,
                    evaluable,
                    responders,
                )
                counts = replace(
                    counts,
                    control_responders=control_responded,
                    control_denominator=control_denominator,
                )
                extra = [control_denominator, control_responded]
                with np.errstate(invalid="ignore", divide="ignore"):
                    estimate = np.where(
                        (denominator > 0) & (control_denominator > 0),
                        responded / denominator - control_responded / control_denominator,
                        np.nan,
                    )
                covered = np.full(count, np.nan)
            else:
                estimate, covered = _estimate_and_coverage(
                    responded, denominator, true_rates[:, e], plan.patients
                )
            columns += [
                denominator,
                responded,
                endpoint.decision.rejects(counts),
                counts.stopped,
                true_rates[:, e],
                estimate,
                estimate - true_rates[:, e],
                covered,
                *extra,
            ]
        return np.column_stack(columns).astype(float)


def _stops(
    endpoint: EndpointPlan, outcomes: OutcomeBatch, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Whether the endpoint's own looks stopped its stage, and whether for efficacy.

    Both all False for an endpoint without looks, even when another endpoint's
    looks govern the stage.
    """
    if not endpoint.monitored:
        return np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)
    stage = endpoint.stages[0]
    return outcomes.stopped_early[:, stage], outcomes.stopped_for_efficacy[:, stage]


def _estimate_and_coverage(
    responders: np.ndarray, denominator: np.ndarray, true_rate: np.ndarray, patients: int
) -> tuple[np.ndarray, np.ndarray]:
    """Observed proportion and whether its 95% Clopper-Pearson interval holds the true rate.

    Both NaN where the denominator is 0.
    """
    defined = denominator > 0
    estimate = np.full(len(denominator), np.nan)
    covered = np.full(len(denominator), np.nan)
    estimate[defined] = responders[defined] / denominator[defined]
    x, n = responders[defined].astype(int), denominator[defined].astype(int)
    rate = true_rate[defined]
    if patients <= COVERAGE_TABLE_TRIALS and len(rate) and np.all(rate == rate[0]):
        covered[defined] = clopper_pearson_table(patients, float(rate[0]))[n, x]
    else:
        covered[defined] = clopper_pearson_covers(x, n, rate)
    return estimate, covered


def _group_counts(
    stages: tuple[int, ...],
    population_entered: bool,
    in_data: np.ndarray,
    evaluable: np.ndarray,
    responders: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Denominator (from the first stage) and successes (a response in any stage) per replicate."""
    first = stages[0]
    counted = in_data[:, first] if population_entered else evaluable[:, first]
    successes = counted & responders[:, list(stages)].any(axis=1)
    return counted.sum(axis=1), successes.sum(axis=1)


def endpoint_estimand(
    plan: TrialPlan, endpoint: EndpointPlan, response_rate: np.ndarray
) -> np.ndarray:
    """The rate an endpoint estimates: P(success | in the denominator).

    For a two-group comparison, the experimental minus the control rate.

    Parameters
    ----------
    plan : TrialPlan
    endpoint : EndpointPlan
    response_rate : ndarray, shape (..., stages, subgroups)

    Returns
    -------
    ndarray, shape (...)
    """
    rate = patient_probabilities_of(plan, endpoint, response_rate)[1]
    if not endpoint.compares_arms:
        return rate
    control = replace(endpoint, stages=endpoint.control_stages, control_stages=())
    return rate - patient_probabilities_of(plan, control, response_rate)[1]
