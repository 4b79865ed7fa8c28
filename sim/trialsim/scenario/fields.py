"""The scenario schema's shared parts: the strict base model and the field types.

Owns :class:`StrictModel` (unknown keys refused, values frozen, no coercion)
and the annotated types that :mod:`trialsim.scenario.schema` and
:mod:`trialsim.scenario.rule_schema` both use.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=64)]


class StrictModel(BaseModel):
    """A schema model: unknown keys refused, frozen, no type coercion."""

    # strict: YAML's `yes` or "16" is not silently a number.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


MIN_BETA_PARAMETER = 1e-3
"""A weaker Beta prior carries no information a trial could use, and its log-beta terms overflow."""
BetaParameter = Annotated[float, Field(ge=MIN_BETA_PARAMETER, le=1e6)]
