"""A scenario checked completely: the schema, its structure and each endpoint's rule.

:func:`load_scenario` is the public way in. The checks that depend on an
endpoint's rule are asked of the rule (:meth:`~trialsim.rules.base.Rule.check`),
found through :func:`~trialsim.rules.registry.rule_for`; so is the response
rate a stage has under H0 (:func:`null_response_of`).
"""

from __future__ import annotations

from pathlib import Path

from trialsim.rules.base import Rule
from trialsim.rules.registry import rule_for
from trialsim.scenario.checks import Locator, names_its_stages
from trialsim.scenario.load import LoadedScenario, read_document, validate_data
from trialsim.scenario.problems import Problem
from trialsim.scenario.schema import Scenario
from trialsim.scenario.yaml_source import YamlDocument


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read, parse and validate a scenario YAML file.

    Parameters
    ----------
    path : str or Path
        The scenario file.

    Returns
    -------
    LoadedScenario

    Raises
    ------
    ScenarioError
        With one :class:`~trialsim.scenario.problems.Problem` per thing wrong.

    Examples
    --------
    >>> loaded = load_scenario("scenarios/vk2_d3_2005.yaml")
    >>> loaded.spec.enrollment.patients
    43
    """
    document, sha256 = read_document(path)
    return LoadedScenario(validate_scenario(document, str(path)), str(path), sha256)


def validate_scenario(document: YamlDocument, file: str) -> Scenario:
    """Validate parsed YAML against the schema, the structure and the rules' checks.

    Raises
    ------
    ScenarioError
        With every problem found.
    """
    return validate_data(document, file, rule_problems)


def rule_problems(spec: Scenario, at: Locator) -> list[Problem]:
    """What the endpoints' rules find wrong, and stages left without a null response rate.

    Parameters
    ----------
    spec : Scenario
        A scenario that passed the schema.
    at : Locator
        Places each problem in the file.
    """
    found: list[Problem] = []
    rules = [rule_for(endpoint.rule) for endpoint in spec.endpoints]
    for i, (endpoint, rule) in enumerate(zip(spec.endpoints, rules, strict=True)):
        if not names_its_stages(spec, i):
            continue
        problems = rule.check(spec, i, at)
        found += problems or reach_problems(spec, i, rule, at)
        earlier = [
            e.id
            for e, r in zip(spec.endpoints[:i], rules[:i], strict=True)
            if rule.monitors_stage and r.monitors_stage and e.stage == endpoint.stage
        ]
        if earlier:
            found.append(
                at.problem(
                    ("endpoints", i, "stage"),
                    "one_monitor_per_stage",
                    f"stage already monitored by endpoint {earlier[0]}",
                    endpoint.stage,
                )
            )
    for i in range(len(spec.stages)):
        if null_response_of(spec, i) is None:
            found.append(
                at.problem(
                    ("stages", i, "null_response"),
                    "null_response_needed",
                    "give null_response: no single-stage endpoint on this stage supplies p0",
                )
            )
    return found


def most_entries(spec: Scenario, stage_id: str) -> int:
    """The most patients that can ever enter stage ``stage_id``.

    Each registered patient enters a stage at most once (the stage graph has no
    cycle), so ``enrollment.patients`` bounds every stage; a stage cap
    ``max_entries`` bounds its own.
    """
    stage = next(s for s in spec.stages if s.id == stage_id)
    cap = stage.max_entries
    return spec.enrollment.patients if cap is None else min(cap, spec.enrollment.patients)


def reach_problems(spec: Scenario, index: int, rule: Rule, at: Locator) -> list[Problem]:
    """A monitoring rule whose planned number of evaluable patients can never be reached.

    Its boundary table's ``n`` (and so its last looks) must not exceed the most
    patients that can enter its stage (:func:`most_entries`): else the stage
    never completes and the rule cannot decide as designed.
    """
    endpoint = spec.endpoints[index]
    table = rule.compile().table
    if table is None or endpoint.stage is None:
        return []
    bound = most_entries(spec, endpoint.stage)
    beyond = [look.n for look in table.looks if look.n > bound]
    if table.n <= bound and not beyond:
        return []
    looks = f" (and looks at {beyond})" if beyond else ""
    stage = next(s for s in spec.stages if s.id == endpoint.stage)
    limit = (
        f"max_entries {stage.max_entries} of stage {stage.id}"
        if bound < spec.enrollment.patients
        else f"enrollment.patients {spec.enrollment.patients}"
    )
    field = "n" if "n" in type(endpoint.rule).model_fields else None
    path = ("endpoints", index, "rule", *([field] if field else []))
    message = (
        f"planned {table.n} evaluable patients{looks} can never be reached: at most "
        f"{bound} patients can enter stage {endpoint.stage} ({limit})"
    )
    return [at.problem(path, "rule_unreachable", message, table.n)]


def null_response_of(spec: Scenario, stage_index: int) -> float | None:
    """The stage's response rate in the null world.

    ``null_response`` if given; else the null rate (``p0``) of the first rule of
    a single-stage endpoint on the stage that has one; else, for the
    experimental stage of a two-group comparison, the control stage's null
    rate (H0: no difference); else, for a control stage, its own point response
    rate. None if none applies (:func:`rule_problems` reports it).
    """
    return _null_response(spec, spec.stages[stage_index].id, set())


def _null_response(spec: Scenario, stage_id: str, seen: set[str]) -> float | None:
    stage = next(s for s in spec.stages if s.id == stage_id)
    if stage.null_response is not None:
        return stage.null_response
    null_rates = [rule_for(endpoint.rule).null_rate for endpoint in spec.endpoints]
    for endpoint, rate in zip(spec.endpoints, null_rates, strict=True):
        if endpoint.stage == stage_id and rate is not None:
            return rate
    known = {s.id for s in spec.stages}
    for endpoint, rate in zip(spec.endpoints, null_rates, strict=True):
        control = (endpoint.versus or [""])[0]
        if (
            rate is None
            and endpoint.stage_ids[:1] == [stage_id]
            and control in known
            and control not in seen
        ):
            return _null_response(spec, control, seen | {stage_id})
    for endpoint in spec.endpoints:
        if stage_id in (endpoint.versus or []) and isinstance(stage.response, int | float):
            return float(stage.response)
    return None
