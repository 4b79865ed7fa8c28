"""The scenario file's schema (pydantic v2). Unknown keys are refused everywhere.

Shape, types and ranges live here; cross-references between keys (stage
graph, subgroup names, endpoint stages) are checked in :mod:`trialsim.scenario.checks`,
and what depends on an endpoint's rule by the rule itself: each rule model's
``test`` names its class in :mod:`trialsim.rules.registry`.
Times are in weeks unless a key says months.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    field_validator,
)

from trialsim.scenario.fields import (
    MIN_BETA_PARAMETER,
    BetaParameter,
    Identifier,
    Probability,
    StrictModel,
)
from trialsim.scenario.limits import MAX_REPLICATES, MAX_SEED
from trialsim.scenario.rule_schema import Rule


class Accrual(StrictModel):
    """Registration as a Poisson process."""

    rate_per_month: float = Field(
        ge=0.001, le=10_000, description="Registrations per month at full rate."
    )
    ramp_up_months: float = Field(
        0.0,
        ge=0,
        le=600,
        description="Months over which the rate rises linearly from 0 (0 = none).",
    )


class Enrollment(StrictModel):
    """How many patients are registered, how fast, and for how long."""

    patients: int = Field(ge=1, le=10_000, description="Registrations after which accrual stops.")
    accrual: Accrual = Field(description="Poisson registration: rate and ramp-up.")
    screen_failure: float = Field(
        0.0, ge=0.0, lt=1.0, description="Probability that a screened candidate is not eligible."
    )
    max_months: float | None = Field(
        None, gt=0, le=1200, description="Accrual stops at this month even if short of `patients`."
    )


class Subgroup(StrictModel):
    """A patient subgroup (e.g. RA with IPSS low) and its share of registrations."""

    name: Identifier = Field(description="Subgroup name, e.g. `RA-low`.")
    weight: float = Field(
        gt=0.0, le=1.0, description="Share of registrations; the weights sum to 1."
    )


class BetaPrior(StrictModel):
    """A response rate drawn once per replicate from Beta(a, b) (assurance)."""

    beta: list[BetaParameter] = Field(
        min_length=2,
        max_length=2,
        description=f"Beta prior parameters [a, b], each from {MIN_BETA_PARAMETER:g} to 1e6.",
    )


def _response_form(value: Any) -> str:
    if isinstance(value, dict):
        return "<prior>" if "beta" in value else "<subgroups>"
    return "<rate>"


# Union branches are chosen by the value's shape, so one mistake gives one
# problem. Tags are in angle brackets, which no user key can contain.
Response = Annotated[
    Annotated[Probability, Tag("<rate>")]
    | Annotated[BetaPrior, Tag("<prior>")]
    | Annotated[dict[str, Probability], Tag("<subgroups>")],
    Discriminator(_response_form),
]


class AdverseEvent(StrictModel):
    """An adverse event that may occur once per patient during a stage (onset uniform)."""

    name: Annotated[str, Field(min_length=1, max_length=80)] = Field(
        description="Event name, e.g. `skin rash`; the same name in two stages is one event."
    )
    grade: int = Field(ge=1, le=5, description="CTCAE grade.")
    probability: Probability = Field(
        description="Probability that a patient has it during the stage (at most once)."
    )


class Stage(StrictModel):
    """One treatment stage: a regimen given for `weeks`, then response is assessed."""

    id: Identifier = Field(description="Unique stage id, used by links and endpoints.")
    treatment: str = Field("", description="Regimen, for reports.")
    weeks: float = Field(gt=0, le=1000, description="Treatment weeks before the assessment.")
    response: Response = Field(
        description="Response probability of an evaluable patient: a number, {beta: [a, b]}, "
        "or {subgroup: number}."
    )
    null_response: Probability | None = Field(
        None, description="Response probability if the regimen is inactive (default: endpoint p0)."
    )
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Probability of dropping out before the assessment."
    )
    not_evaluable: Probability = Field(
        0.0, description="Probability of non-evaluable at assessment."
    )
    adverse_events: list[AdverseEvent] = Field(
        default_factory=list, description="Adverse events that may occur during the stage."
    )
    next_on_failure: Identifier | None = Field(
        None, description="Stage that evaluable non-responders are re-registered to."
    )
    entry: Probability = Field(
        1.0, description="Probability that a non-responder routed here is re-registered."
    )
    max_entries: int | None = Field(
        None, ge=1, le=100_000, description="Stage cap: entries after this many are turned away."
    )


class Responders(StrictModel):
    """Responders continue treatment until this many weeks after registration."""

    continue_to_weeks: float = Field(
        52.0, gt=0, le=5000, description="Weeks from registration at which responders finish."
    )


class Endpoint(StrictModel):
    """A response endpoint: responders over a denominator, judged by a rule."""

    id: Identifier = Field(description="Unique endpoint id, the key in the summary.")
    stage: Identifier | None = Field(None, description="Single stage: responders / denominator.")
    stages: list[Identifier] | None = Field(
        None, min_length=1, description="Responded in any of these; denominator from the first."
    )
    versus: list[Identifier] | None = Field(
        None,
        min_length=1,
        description="Control group of a `fisher` rule: responded in any of these stages, "
        "denominator from the first; patients of other arms than `stage`/`stages`.",
    )
    population: Literal["evaluable", "entered"] = Field(
        "evaluable",
        description="Denominator: evaluable patients, or all who entered (intention to treat).",
    )
    rule: Rule = Field(
        description="The test: exact_binomial, simon, bayes, boundaries, bop2 or fisher."
    )

    @property
    def stage_ids(self) -> list[str]:
        """The stages the endpoint counts responders in, first one giving the denominator."""
        return list(self.stages) if self.stages else [self.stage] if self.stage else []


class Arm(StrictModel):
    """A randomised arm: patients allocated to it at registration start at `first_stage`."""

    id: Identifier = Field(description="Arm name.")
    first_stage: Identifier = Field(description="The stage the arm's patients start at.")
    ratio: int = Field(1, ge=1, le=100, description="Allocation ratio, e.g. 2 and 1 for 2:1.")


class CutoffWeek(StrictModel):
    """Data cut at a calendar week: patients not yet assessed are not evaluable."""

    week: float = Field(gt=0, le=10_000, description="Calendar week of the data cut.")


def _cutoff_form(value: Any) -> str:
    return "<week>" if isinstance(value, dict) else "<named>"


class Analysis(StrictModel):
    """When the data are analysed."""

    cutoff: Annotated[
        Annotated[Literal["complete"], Tag("<named>")] | Annotated[CutoffWeek, Tag("<week>")],
        Discriminator(_cutoff_form),
    ] = Field("complete", description="`complete` (every assessment) or {week: T}.")


class Simulation(StrictModel):
    """Monte Carlo settings."""

    replicates: int = Field(
        10_000, ge=1, le=MAX_REPLICATES, description="Simulated trials per world."
    )
    seed: int = Field(1, ge=0, le=MAX_SEED, description="Base seed of the random streams.")


class Scenario(StrictModel):
    """A whole trial scenario, as written in a YAML file."""

    name: Identifier = Field(description="Scenario id; names the default output folder.")
    title: str = Field("", description="Shown in reports.")
    description: str = Field("", description="Shown in reports.")
    enrollment: Enrollment = Field(description="Registration of patients.")
    population: list[Subgroup] | None = Field(
        None, min_length=1, description="Subgroups (default: one group)."
    )
    stages: list[Stage] = Field(
        min_length=1, max_length=50, description="Treatment stages, linked by next_on_failure."
    )
    arms: list[Arm] | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="Randomisation at registration (default: one arm starting at the first stage).",
    )
    responders: Responders = Field(
        default_factory=Responders, description="How long responders stay on treatment."
    )
    discontinue_grade: int = Field(
        3, ge=1, le=5, description="Adverse events of this CTCAE grade or higher end the stage."
    )
    endpoints: list[Endpoint] = Field(
        min_length=1, max_length=50, description="What is tested, each with its rule."
    )
    analysis: Analysis = Field(default_factory=Analysis, description="When data are analysed.")
    simulation: Simulation = Field(
        default_factory=Simulation, description="Monte Carlo settings: replicates and seed."
    )

    @field_validator("population")
    @classmethod
    def _weights_sum_to_one(cls, groups: list[Subgroup] | None) -> list[Subgroup] | None:
        if groups is not None and abs(sum(g.weight for g in groups) - 1.0) > 1e-6:
            total = sum(g.weight for g in groups)
            raise ValueError(f"subgroup weights must sum to 1, they sum to {total:g}")
        return groups
