"""The schema of an endpoint's ``rule``: one pydantic model per rule kind, told apart by ``test``.

Owns the rule models and :data:`Rule`, their union; each model's ``test``
names its class in :mod:`trialsim.rules.registry`. What a rule needs of the
rest of the scenario is checked by the rule itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    model_serializer,
    model_validator,
)

from trialsim.scenario.fields import MIN_BETA_PARAMETER, BetaParameter, StrictModel


class ExactBinomialRule(StrictModel):
    """One-sided exact binomial test: reject H0 if P(X >= x | n, p0) <= alpha."""

    test: Literal["exact_binomial"] = Field(description="Rule name.")
    p0: float = Field(gt=0.0, lt=1.0, description="Response rate under H0 (inactive regimen).")
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="One-sided significance level.")


class SimonRule(StrictModel):
    """Simon two-stage rule on one stage's evaluable patients.

    Interim after ``n1`` evaluable: the stage stops if at most ``r1`` responded.
    The stage admits patients until ``n`` are evaluable; H0 is rejected if more
    than ``r`` of them respond. ``during_interim``: ``pause`` holds entries while
    the first ``n1`` assessments are pending, ``continue`` keeps admitting.
    """

    test: Literal["simon"] = Field(description="Rule name.")
    p0: float = Field(gt=0.0, lt=1.0, description="Response rate under H0 (inactive regimen).")
    r1: int = Field(ge=0, le=10_000, description="Stop at the interim with at most r1 responders.")
    n1: int = Field(ge=1, le=10_000, description="Evaluable patients at the interim.")
    r: int = Field(ge=0, le=10_000, description="Reject H0 with more than r responders of n.")
    n: int = Field(ge=2, le=10_000, description="Evaluable patients in all.")
    during_interim: Literal["pause", "continue"] = Field(
        "pause", description="Hold entries while the interim's assessments are pending, or not."
    )

    @model_validator(mode="after")
    def _a_two_stage_design(self) -> SimonRule:
        if not (self.r1 < self.n1 < self.n and self.r1 <= self.r < self.n):
            raise ValueError(
                f"need r1 < n1 < n and r1 <= r < n, got r1={self.r1}, n1={self.n1}, "
                f"r={self.r}, n={self.n}"
            )
        return self


class BayesRule(StrictModel):
    """Bayesian monitoring of one stage's evaluable patients (Beta-binomial).

    Final success if P(p > p0 | data) >= ``success`` with ``n`` evaluable. At each
    look (after that many evaluable) the stage stops for futility when the
    ``futility`` probability falls below ``futility_below``: the posterior
    P(p > p0 | data), or the predictive probability of final success (Lee & Liu 2008).
    """

    test: Literal["bayes"] = Field(description="Rule name.")
    p0: float = Field(gt=0.0, lt=1.0, description="Response rate under H0 (inactive regimen).")
    prior: list[BetaParameter] = Field(
        [1.0, 1.0],
        min_length=2,
        max_length=2,
        description=f"Beta prior [a, b] of the rate, each from {MIN_BETA_PARAMETER:g} to 1e6.",
    )
    success: float = Field(
        0.95, gt=0.0, lt=1.0, description="Final success if P(p > p0 | data) reaches this."
    )
    n: int = Field(ge=1, le=10_000, description="Evaluable patients at the final analysis.")
    looks: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list,
        max_length=100,
        description="Evaluable counts at which futility is looked at, increasing, below n.",
    )
    futility: Literal["posterior", "predictive"] = Field(
        "predictive", description="Posterior probability, or predictive probability of success."
    )
    futility_below: float = Field(
        0.05, ge=0.0, lt=1.0, description="Stop for futility when that probability is below this."
    )
    efficacy_above: float | None = Field(
        None,
        gt=0.0,
        lt=1.0,
        description="At a look, stop and reject H0 once P(p > p0 | data) reaches this.",
    )
    during_interim: Literal["pause", "continue"] = Field(
        "pause", description="Hold entries while a look's assessments are pending, or not."
    )

    @model_validator(mode="after")
    def _looks_before_the_end(self) -> BayesRule:
        if any(b <= a for a, b in zip(self.looks, self.looks[1:], strict=False)) or any(
            look >= self.n for look in self.looks
        ):
            raise ValueError(f"looks must increase and stay below n = {self.n}, got {self.looks}")
        return self

    @model_serializer(mode="wrap")
    def _without_absent_efficacy(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``efficacy_above`` out when absent: summaries stay as they were without it."""
        data: dict[str, Any] = handler(self)
        if self.efficacy_above is None:
            data.pop("efficacy_above", None)
        return data


class BoundaryLook(StrictModel):
    """One look of a ``boundaries`` rule: after ``n`` evaluable, stop on either bound."""

    n: int = Field(ge=1, le=10_000, description="Evaluable patients when the look is read.")
    futility_max: int | None = Field(
        None, ge=0, le=10_000, description="Stop for futility with at most this many responders."
    )
    efficacy_min: int | None = Field(
        None, ge=0, le=10_000, description="Stop and reject H0 with at least this many responders."
    )


class BoundariesRule(StrictModel):
    """General multi-look single-arm rule in responder counts (Fleming 1982; gsBinomialExact).

    At each look (after ``n`` evaluable) the stage stops for futility with at most
    ``futility_max`` responders, or stops and rejects H0 with at least
    ``efficacy_min``; each bound is optional, at least one is given. Not stopped,
    H0 is rejected with at least ``final_min`` responders of ``n``. How the looks
    and bounds fit together is checked by the rule (located key by key).
    """

    test: Literal["boundaries"] = Field(description="Rule name.")
    p0: float = Field(gt=0.0, lt=1.0, description="Response rate under H0 (inactive regimen).")
    n: int = Field(ge=1, le=10_000, description="Evaluable patients at the final analysis.")
    final_min: int = Field(
        ge=0, le=10_000, description="Reject H0 at the end with at least this many of n."
    )
    looks: list[BoundaryLook] = Field(
        default_factory=list,
        max_length=100,
        description="Interim looks, `n` increasing and below the final n.",
    )
    during_interim: Literal["pause", "continue"] = Field(
        "pause", description="Hold entries while a look's assessments are pending, or not."
    )


class FisherRule(StrictModel):
    """One-sided Fisher exact test of two randomised groups (experimental better than control).

    Reject H0 (equal response rates) if P(X >= x | both groups' totals) <= alpha,
    X hypergeometric: the experimental group's responders given all responders.
    """

    test: Literal["fisher"] = Field(description="Rule name.")
    alpha: float = Field(0.05, gt=0.0, lt=1.0, description="One-sided significance level.")


class Bop2Rule(StrictModel):
    """Bayesian optimal phase II (BOP2) futility monitoring, binary endpoint (Zhou et al. 2017).

    Beta prior (Beta(p0, 1 - p0) unless ``prior`` is given), binomial data. At a
    look after ``n_k`` of ``n`` evaluable patients the stage stops for futility if
    P(p <= p0 | data) > 1 - lambda (n_k / n)^gamma; at ``n`` H0 is rejected if
    P(p > p0 | data) >= lambda. ``trialsim design bop2`` finds lambda and gamma.
    The Python attribute is ``lam`` (``lambda`` is a keyword); dumps say ``lambda``.
    """

    model_config = ConfigDict(serialize_by_alias=True)

    test: Literal["bop2"] = Field(description="Rule name.")
    p0: float = Field(gt=0.0, lt=1.0, description="Response rate under H0 (inactive regimen).")
    n: int = Field(ge=2, le=10_000, description="Evaluable patients at the final analysis.")
    looks: list[Annotated[int, Field(ge=1)]] = Field(
        min_length=1,
        max_length=100,
        description="Evaluable counts at which futility is looked at, increasing, below n.",
    )
    lam: float = Field(
        alias="lambda",
        gt=0.0,
        lt=1.0,
        description="lambda: reject H0 at n if P(p > p0 | data) >= lambda; sets the cutoffs.",
    )
    gamma: float = Field(
        ge=0.0,
        le=1.0,
        description="Exponent of n_k / n in the futility cutoff 1 - lambda (n_k / n)^gamma.",
    )
    prior: list[BetaParameter] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description=f"Beta prior [a, b] of the rate, each from {MIN_BETA_PARAMETER:g} to 1e6 "
        "(default [p0, 1 - p0]).",
    )
    during_interim: Literal["pause", "continue"] = Field(
        "pause", description="Hold entries while a look's assessments are pending, or not."
    )

    @model_validator(mode="after")
    def _looks_before_the_end(self) -> Bop2Rule:
        if any(b <= a for a, b in zip(self.looks, self.looks[1:], strict=False)) or any(
            look >= self.n for look in self.looks
        ):
            raise ValueError(f"looks must increase and stay below n = {self.n}, got {self.looks}")
        return self

    @property
    def prior_parameters(self) -> tuple[float, float]:
        """The Beta prior (a, b): ``prior``, or (p0, 1 - p0)."""
        return (self.p0, 1.0 - self.p0) if self.prior is None else (self.prior[0], self.prior[1])


def _rule_form(value: Any) -> str | None:
    return f"<{value['test']}>" if isinstance(value, dict) and "test" in value else None


Rule = Annotated[
    Annotated[ExactBinomialRule, Tag("<exact_binomial>")]
    | Annotated[SimonRule, Tag("<simon>")]
    | Annotated[BayesRule, Tag("<bayes>")]
    | Annotated[FisherRule, Tag("<fisher>")]
    | Annotated[BoundariesRule, Tag("<boundaries>")]
    | Annotated[Bop2Rule, Tag("<bop2>")],
    Discriminator(_rule_form),
]
