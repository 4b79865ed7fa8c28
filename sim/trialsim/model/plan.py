"""Compile a validated scenario into the plain numbers the model runs on.

A :class:`TrialPlan` holds no pydantic objects: it is cheap to pickle to
worker processes and fast to read in the inner loop. All times are in weeks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trialsim.rules.base import Decision, Rule
from trialsim.rules.registry import rule_for
from trialsim.rules.table import BoundaryTable
from trialsim.rules.validation import null_response_of
from trialsim.scenario.checks import first_stages
from trialsim.scenario.schema import BetaPrior, Endpoint, Scenario

WEEKS_PER_MONTH = 365.25 / 12 / 7
NO_STAGE = -1
NO_CAP = 2**62


@dataclass(frozen=True)
class AdverseEventPlan:
    """An adverse event of one stage; ``name_index`` indexes ``TrialPlan.adverse_event_names``."""

    name_index: int
    probability: float
    discontinues: bool


@dataclass(frozen=True)
class InterimPlan:
    """Monitoring of a stage's evaluable patients by a sequential rule's boundary table.

    The stage admits until ``table.n`` are evaluable (assessed or pending) and
    reads each look of the table when its count of assessed evaluable
    patients is reached. With ``pause`` no one enters while the assessments a
    look waits for are pending.
    """

    table: BoundaryTable
    pause: bool


@dataclass(frozen=True)
class StagePlan:
    """One stage in model units.

    ``response`` has one rate per subgroup (the alternative world); when
    ``response_prior`` is set the rate is drawn per replicate instead.
    """

    id: str
    treatment: str
    weeks: float
    dropout_per_week: float
    not_evaluable: float
    response: np.ndarray
    response_prior: tuple[float, float] | None
    null_response: float
    next_stage: int
    entry: float
    max_entries: int
    adverse_events: tuple[AdverseEventPlan, ...]
    interim: InterimPlan | None = None

    @property
    def observed(self) -> bool:
        """Whether other patients' timing changes who may enter (a cap or an interim rule).

        Entries into and exits from an observed stage are SimPy events, so they
        happen in calendar order; elsewhere a patient's passage is computed at
        entry because no one else reacts to it.
        """
        return self.max_entries < NO_CAP or self.interim is not None


@dataclass(frozen=True)
class ArmPlan:
    """A randomised arm: ``share`` of registrations start at stage ``first_stage``."""

    id: str
    first_stage: int
    share: float


@dataclass(frozen=True)
class EndpointPlan:
    """An endpoint: responders in any of ``stages`` over the first stage's denominator.

    ``decision`` is its compiled rule, which says from the counts whether H0
    is rejected. An endpoint with ``control_stages`` compares that group with
    the control group counted the same way on them.
    """

    id: str
    stages: tuple[int, ...]
    population_entered: bool
    decision: Decision
    control_stages: tuple[int, ...] = ()

    @property
    def compares_arms(self) -> bool:
        """Whether the endpoint is a two-group comparison (it has a control group)."""
        return bool(self.control_stages)

    @property
    def monitored(self) -> bool:
        """Whether the endpoint's decision has looks that govern its stage.

        Then a look may stop the stage, and the endpoint's ``stopped_early``
        is the stage's.
        """
        return self.decision.table is not None


@dataclass(frozen=True)
class TrialPlan:
    """Everything one replicate needs, in weeks and probabilities."""

    patients: int
    rate_per_week: float
    ramp_weeks: float
    accrual_stop_week: float
    screen_failure: float
    subgroup_names: tuple[str, ...]
    subgroup_cumulative: np.ndarray
    stages: tuple[StagePlan, ...]
    arms: tuple[ArmPlan, ...]
    continue_to_weeks: float
    cutoff_week: float
    endpoints: tuple[EndpointPlan, ...]
    adverse_event_names: tuple[str, ...]

    def chain(self, start: int) -> list[int]:
        """Stages from ``start`` along ``next_on_failure``."""
        chain = [start]
        while self.stages[chain[-1]].next_stage != NO_STAGE:
            chain.append(self.stages[chain[-1]].next_stage)
        return chain

    def routes_to(self, stage: int) -> list[tuple[ArmPlan, list[int]]]:
        """Each arm whose patients can reach ``stage``, with its stages up to ``stage``."""
        routes = []
        for arm in self.arms:
            chain = self.chain(arm.first_stage)
            if stage in chain:
                routes.append((arm, chain[: chain.index(stage) + 1]))
        return routes

    @property
    def cutoff_is_complete(self) -> bool:
        """True when every assessment that can happen is analysed."""
        return math.isinf(self.cutoff_week)

    def registration_week(self, unit_epochs: np.ndarray) -> np.ndarray:
        """Map epochs of a unit-rate Poisson process to registration weeks.

        Inverts the cumulative intensity of a rate that ramps linearly from 0 to
        ``rate_per_week`` over ``ramp_weeks`` and is constant after.
        """
        rate, ramp = self.rate_per_week, self.ramp_weeks
        if ramp <= 0:
            return unit_epochs / rate
        ramp_mass = rate * ramp / 2
        return np.where(
            unit_epochs <= ramp_mass,
            np.sqrt(2 * ramp * unit_epochs / rate),
            ramp + (unit_epochs - ramp_mass) / rate,
        )

    def expected_registrations_by(self, week: float) -> float:
        """Mean number of Poisson registrations by ``week`` (uncapped)."""
        rate, ramp = self.rate_per_week, self.ramp_weeks
        if week >= ramp:
            return rate * (week - ramp / 2)
        return rate * week * week / (2 * ramp)


def compile_plan(spec: Scenario) -> TrialPlan:
    """Turn a validated scenario into a :class:`TrialPlan`."""
    groups = spec.population or []
    names = tuple(g.name for g in groups) or ("all",)
    weights = np.array([g.weight for g in groups] or [1.0])
    index = {stage.id: i for i, stage in enumerate(spec.stages)}
    event_names = tuple(dict.fromkeys(e.name for s in spec.stages for e in s.adverse_events))
    rules = [rule_for(endpoint.rule) for endpoint in spec.endpoints]
    endpoints = tuple(
        _endpoint_plan(endpoint, rule.compile(), index)
        for endpoint, rule in zip(spec.endpoints, rules, strict=True)
    )
    interims = _interims(rules, endpoints)
    stages = tuple(
        _stage_plan(spec, i, names, index, event_names, interims.get(i))
        for i in range(len(spec.stages))
    )
    ratios = [arm.ratio for arm in spec.arms] if spec.arms else [1]
    arm_ids = [arm.id for arm in spec.arms] if spec.arms else [spec.stages[0].id]
    arms = tuple(
        ArmPlan(arm_id, index[start], ratio / sum(ratios))
        for arm_id, start, ratio in zip(arm_ids, first_stages(spec), ratios, strict=True)
    )
    cutoff = spec.analysis.cutoff
    max_months = spec.enrollment.max_months
    return TrialPlan(
        patients=spec.enrollment.patients,
        rate_per_week=spec.enrollment.accrual.rate_per_month / WEEKS_PER_MONTH,
        ramp_weeks=spec.enrollment.accrual.ramp_up_months * WEEKS_PER_MONTH,
        accrual_stop_week=math.inf if max_months is None else max_months * WEEKS_PER_MONTH,
        screen_failure=spec.enrollment.screen_failure,
        subgroup_names=names,
        subgroup_cumulative=np.cumsum(weights / weights.sum()),
        stages=stages,
        arms=arms,
        continue_to_weeks=spec.responders.continue_to_weeks,
        cutoff_week=math.inf if cutoff == "complete" else cutoff.week,
        endpoints=endpoints,
        adverse_event_names=event_names,
    )


def _endpoint_plan(endpoint: Endpoint, decision: Decision, index: dict[str, int]) -> EndpointPlan:
    return EndpointPlan(
        id=endpoint.id,
        stages=tuple(index[s] for s in endpoint.stage_ids),
        population_entered=endpoint.population == "entered",
        decision=decision,
        control_stages=tuple(index[s] for s in endpoint.versus or []),
    )


def _interims(rules: list[Rule], endpoints: tuple[EndpointPlan, ...]) -> dict[int, InterimPlan]:
    """The monitoring of each stage whose looks an endpoint's decision governs."""
    interims: dict[int, InterimPlan] = {}
    for rule, endpoint in zip(rules, endpoints, strict=True):
        table = endpoint.decision.table
        if table is not None:
            interims.setdefault(endpoint.stages[0], InterimPlan(table, rule.pause))
    return interims


def _stage_plan(
    spec: Scenario,
    i: int,
    names: tuple[str, ...],
    index: dict[str, int],
    event_names: tuple[str, ...],
    interim: InterimPlan | None,
) -> StagePlan:
    stage = spec.stages[i]
    prior: tuple[float, float] | None = None
    if isinstance(stage.response, BetaPrior):
        prior = (stage.response.beta[0], stage.response.beta[1])
        response = np.full(len(names), prior[0] / (prior[0] + prior[1]))
    elif isinstance(stage.response, dict):
        response = np.array([stage.response[name] for name in names])
    else:
        response = np.full(len(names), float(stage.response))
    null = null_response_of(spec, i)
    assert null is not None, "validated scenarios always have a null response"
    return StagePlan(
        id=stage.id,
        treatment=stage.treatment,
        weeks=stage.weeks,
        dropout_per_week=-math.log1p(-stage.dropout) / stage.weeks,
        not_evaluable=stage.not_evaluable,
        response=response,
        response_prior=prior,
        null_response=null,
        next_stage=index[stage.next_on_failure] if stage.next_on_failure else NO_STAGE,
        entry=stage.entry,
        max_entries=stage.max_entries or NO_CAP,
        interim=interim,
        adverse_events=tuple(
            AdverseEventPlan(
                name_index=event_names.index(e.name),
                probability=e.probability,
                discontinues=e.grade >= spec.discontinue_grade,
            )
            for e in stage.adverse_events
        ),
    )
