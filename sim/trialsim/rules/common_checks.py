"""Checks that several rule kinds share: one group without a control, one monitored stage."""

from __future__ import annotations

from trialsim.scenario.checks import Locator, unknown_stages
from trialsim.scenario.problems import Problem
from trialsim.scenario.schema import Scenario


def no_control_group(spec: Scenario, index: int, at: Locator) -> list[Problem]:
    """A one-group rule refuses `versus` (a control group only a fisher rule compares)."""
    endpoint = spec.endpoints[index]
    if endpoint.versus is None or unknown_stages(spec, endpoint.stage_ids):
        return []
    path = ("endpoints", index, "versus")
    message = "`versus` names a control group, which only a fisher rule compares"
    return [at.problem(path, "versus_without_fisher", message, endpoint.versus)]


def monitored_stage_problems(spec: Scenario, index: int, at: Locator, test: str) -> list[Problem]:
    """A rule that monitors a stage counts the evaluable patients of one stage.

    Parameters
    ----------
    spec : Scenario
    index : int
        The endpoint's index.
    at : Locator
    test : str
        The rule's name, which the problems' rules and messages quote.
    """
    endpoint = spec.endpoints[index]
    found = []
    if endpoint.stage is None:
        found.append(
            at.problem(
                ("endpoints", index, "stages"),
                f"{test}_one_stage",
                f"a {test} rule applies to one stage: use `stage`",
                endpoint.stages,
            )
        )
    if endpoint.population != "evaluable":
        found.append(
            at.problem(
                ("endpoints", index, "population"),
                f"{test}_evaluable",
                f"a {test} rule counts evaluable patients",
                endpoint.population,
            )
        )
    return found
