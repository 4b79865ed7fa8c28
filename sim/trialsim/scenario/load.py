"""Load a scenario file into a validated :class:`~trialsim.scenario.schema.Scenario`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trialsim.scenario.problems import Problem, ScenarioError
from trialsim.scenario.schema import FisherRule, Scenario
from trialsim.scenario.yaml_source import YamlDocument, read_yaml

MAX_FILE_BYTES = 1_000_000
MONITORING_TESTS = ("simon", "bayes")


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and where it came from.

    Attributes
    ----------
    spec : Scenario
        The validated scenario.
    path : str
        The file it was read from.
    sha256 : str
        Hex digest of the file's bytes, to tell whether a scenario changed.
    """

    spec: Scenario
    path: str
    sha256: str


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
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise ScenarioError(
            [Problem(file, None, "", "unreadable", err.strerror or str(err))]
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            [
                Problem(
                    file,
                    None,
                    "",
                    "too_large",
                    f"scenario files are limited to {MAX_FILE_BYTES} bytes",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(
            [Problem(file, None, "", "encoding", "the file is not UTF-8 text")]
        ) from None
    document = read_yaml(text, file)
    spec = validate_data(document, file)
    return LoadedScenario(spec, file, hashlib.sha256(raw).hexdigest())


def validate_data(document: YamlDocument, file: str) -> Scenario:
    """Validate parsed YAML against the schema and the cross-key rules.

    Raises
    ------
    ScenarioError
        With every problem found.
    """
    if document.data is None:
        raise ScenarioError([Problem(file, None, "", "empty_file", "the file holds no scenario")])
    if not isinstance(document.data, dict):
        raise ScenarioError(
            [
                Problem(
                    file, 1, "", "not_a_mapping", "a scenario is a mapping of keys", document.data
                )
            ]
        )
    try:
        spec = Scenario.model_validate(document.data)
    except ValidationError as err:
        raise ScenarioError(
            [_problem_from_pydantic(e, document, file) for e in err.errors()]
        ) from None
    problems = [
        Problem(file, document.line_of(path), _dotted(path), rule, message, value)
        for path, rule, message, value in cross_key_problems(spec)
    ]
    if problems:
        raise ScenarioError(problems)
    return spec


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)


def _problem_from_pydantic(error: Any, document: YamlDocument, file: str) -> Problem:
    path = tuple(part for part in error["loc"] if not _is_union_branch(part))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":
        context = error.get("ctx", {})
        expected = context.get("expected_tags", "").replace("<", "").replace(">", "")
        tag = context.get("tag", "").strip("<>")
        message = f"unknown choice {tag!r}; expected one of {expected}"
        if isinstance(error.get("input"), dict) and "test" in error["input"]:
            path = (*path, "test")
            return Problem(file, document.line_of(path), _dotted(path), error["type"], message, tag)
    if error["type"] == "union_tag_not_found":
        message = "a rule needs `test:` naming its test (exact_binomial or simon)"
    value = error.get("input")
    if error["type"] == "missing":
        value = None
    elif isinstance(value, dict | list):
        value = None if error["type"] != "extra_forbidden" else value
    return Problem(file, document.line_of(path), _dotted(path), error["type"], message, value)


def _is_union_branch(part: Any) -> bool:
    """Union branch tags (see :mod:`trialsim.scenario.schema`) are not keys of the file."""
    return isinstance(part, str) and part.startswith("<")


def cross_key_problems(spec: Scenario) -> list[tuple[tuple[Any, ...], str, str, Any]]:
    """Rules that link keys: the stage graph, subgroup names, endpoint stages.

    Returns
    -------
    list of (path, rule, message, value)
    """
    found: list[tuple[tuple[Any, ...], str, str, Any]] = []
    ids = [stage.id for stage in spec.stages]
    index = {stage_id: i for i, stage_id in enumerate(ids)}
    for i, stage_id in enumerate(ids):
        if ids.index(stage_id) != i:
            found.append(
                (("stages", i, "id"), "duplicate_id", "stage ids must be unique", stage_id)
            )
    groups = [g.name for g in spec.population] if spec.population else []
    if len(set(groups)) != len(groups):
        found.append((("population",), "duplicate_name", "subgroup names must be unique", groups))
    found.extend(_arm_problems(spec, index))
    for start in first_stages(spec):
        if start in index and spec.stages[index[start]].max_entries is not None:
            found.append(
                (
                    ("stages", index[start], "max_entries"),
                    "first_stage_cap",
                    "a first stage admits every registration: cap it with enrollment.patients",
                    spec.stages[index[start]].max_entries,
                )
            )
    for i, stage in enumerate(spec.stages):
        target = stage.next_on_failure
        if target is not None and target not in index:
            found.append(
                (
                    ("stages", i, "next_on_failure"),
                    "unknown_stage",
                    f"no stage has this id (stages: {', '.join(ids)})",
                    target,
                )
            )
        if isinstance(stage.response, dict):
            if not groups:
                found.append(
                    (
                        ("stages", i, "response"),
                        "needs_population",
                        "per-subgroup response rates need a `population` list",
                        None,
                    )
                )
            elif set(stage.response) != set(groups):
                found.append(
                    (
                        ("stages", i, "response"),
                        "subgroups_mismatch",
                        f"give a rate for exactly the subgroups {', '.join(groups)}",
                        sorted(stage.response),
                    )
                )
        if null_response_of(spec, i) is None:
            found.append(
                (
                    ("stages", i, "null_response"),
                    "null_response_needed",
                    "give null_response: no single-stage endpoint on this stage supplies p0",
                    None,
                )
            )
    found.extend(_graph_problems(spec, index))
    found.extend(_endpoint_problems(spec, index))
    return found


def first_stages(spec: Scenario) -> list[str]:
    """The stage each arm starts at (the first stage when there are no arms)."""
    return [arm.first_stage for arm in spec.arms] if spec.arms else [spec.stages[0].id]


def stage_chain(spec: Scenario, start: str) -> list[str]:
    """Stages from ``start`` along ``next_on_failure``, stopping before a repeat or unknown id."""
    index = {stage.id: stage for stage in spec.stages}
    chain: list[str] = []
    current: str | None = start
    while current is not None and current in index and current not in chain:
        chain.append(current)
        current = index[current].next_on_failure
    return chain


def _arm_problems(
    spec: Scenario, index: dict[str, int]
) -> list[tuple[tuple[Any, ...], str, str, Any]]:
    found: list[tuple[tuple[Any, ...], str, str, Any]] = []
    arms = spec.arms or []
    arm_ids = [arm.id for arm in arms]
    routed = {s.next_on_failure for s in spec.stages}
    for i, arm in enumerate(arms):
        if arm_ids.index(arm.id) != i:
            found.append((("arms", i, "id"), "duplicate_id", "arm ids must be unique", arm.id))
        if arm.first_stage not in index:
            found.append(
                (
                    ("arms", i, "first_stage"),
                    "unknown_stage",
                    f"no stage has this id (stages: {', '.join(index)})",
                    arm.first_stage,
                )
            )
        elif [a.first_stage for a in arms].index(arm.first_stage) != i:
            found.append(
                (
                    ("arms", i, "first_stage"),
                    "shared_first_stage",
                    "each arm starts at its own stage",
                    arm.first_stage,
                )
            )
        elif arm.first_stage in routed:
            found.append(
                (
                    ("arms", i, "first_stage"),
                    "routed_first_stage",
                    "an arm's first stage cannot also be another stage's next_on_failure",
                    arm.first_stage,
                )
            )
    return found


def _graph_problems(
    spec: Scenario, index: dict[str, int]
) -> list[tuple[tuple[Any, ...], str, str, Any]]:
    found: list[tuple[tuple[Any, ...], str, str, Any]] = []
    targets = {s.next_on_failure for s in spec.stages if s.next_on_failure in index}
    reachable: set[str] = set()
    for start in first_stages(spec):
        chain = stage_chain(spec, start)
        reachable.update(chain)
        following = spec.stages[index[chain[-1]]].next_on_failure if chain else None
        if following in chain:
            found.append(
                (
                    ("stages", index[following], "id"),
                    "cycle",
                    "next_on_failure links form a cycle: " + " -> ".join([*chain, following]),
                    following,
                )
            )
            return found
    starts = " or ".join(f"'{start}'" for start in first_stages(spec))
    for i, stage in enumerate(spec.stages):
        if stage.id not in reachable and index[stage.id] == i:
            found.append(
                (
                    ("stages", i, "id"),
                    "unreachable",
                    f"no patient can reach this stage from the first stage {starts}",
                    stage.id,
                )
            )
        if stage.id not in targets and "entry" in stage.model_fields_set:
            found.append(
                (
                    ("stages", i, "entry"),
                    "entry_without_route",
                    "`entry` applies only to a stage that another stage's next_on_failure names",
                    stage.entry,
                )
            )
    return found


def _endpoint_problems(
    spec: Scenario, index: dict[str, int]
) -> list[tuple[tuple[Any, ...], str, str, Any]]:
    found: list[tuple[tuple[Any, ...], str, str, Any]] = []
    endpoint_ids = [e.id for e in spec.endpoints]
    for i, endpoint in enumerate(spec.endpoints):
        if endpoint_ids.index(endpoint.id) != i:
            found.append(
                (("endpoints", i, "id"), "duplicate_id", "endpoint ids must be unique", endpoint.id)
            )
        if (endpoint.stage is None) == (endpoint.stages is None):
            found.append(
                (
                    ("endpoints", i),
                    "stage_or_stages",
                    "give exactly one of `stage` or `stages`",
                    None,
                )
            )
            continue
        key = "stage" if endpoint.stage is not None else "stages"
        if endpoint.rule.test in MONITORING_TESTS:
            found.extend(_monitoring_problems(spec, i))
        unknown = [s for s in endpoint.stage_ids if s not in index]
        if unknown:
            found.append((("endpoints", i, key), "unknown_stage", "no stage has this id", unknown))
            continue
        found.extend(_path_problems(spec, ("endpoints", i, "stages"), endpoint.stage_ids))
        found.extend(_comparison_problems(spec, i, index))
    return found


def _path_problems(
    spec: Scenario, path: tuple[Any, ...], stage_ids: list[str]
) -> list[tuple[tuple[Any, ...], str, str, Any]]:
    index = {stage.id: stage for stage in spec.stages}
    for earlier, later in zip(stage_ids, stage_ids[1:], strict=False):
        if index[earlier].next_on_failure != later:
            message = f"'{later}' must be the next_on_failure of '{earlier}'"
            return [(path, "not_a_path", message, stage_ids)]
    return []


def arms_reaching(spec: Scenario, stage_id: str) -> list[str]:
    """Ids of the arms whose patients can reach ``stage_id`` (the first stage's id if no arms)."""
    starts = first_stages(spec)
    names = [arm.id for arm in spec.arms] if spec.arms else starts
    return [
        name
        for name, start in zip(names, starts, strict=True)
        if stage_id in stage_chain(spec, start)
    ]


def _comparison_problems(
    spec: Scenario, i: int, index: dict[str, int]
) -> list[tuple[tuple[Any, ...], str, str, Any]]:
    endpoint = spec.endpoints[i]
    path = ("endpoints", i, "versus")
    if endpoint.rule.test != "fisher":
        if endpoint.versus is None:
            return []
        message = "`versus` names a control group, which only a fisher rule compares"
        return [(path, "versus_without_fisher", message, endpoint.versus)]
    if endpoint.versus is None:
        message = "a fisher rule compares two groups: name the control stage(s) in `versus`"
        return [(("endpoints", i), "versus_needed", message, None)]
    unknown = [s for s in endpoint.versus if s not in index]
    if unknown:
        return [(path, "unknown_stage", "no stage has this id", unknown)]
    found = _path_problems(spec, path, endpoint.versus)
    shared = set(arms_reaching(spec, endpoint.stage_ids[0])) & set(
        arms_reaching(spec, endpoint.versus[0])
    )
    if shared:
        found.append(
            (
                path,
                "groups_share_patients",
                "the two groups must hold different patients: compare stages of different "
                f"`arms` (both reachable from {', '.join(sorted(shared))})",
                endpoint.versus,
            )
        )
    return found


def _monitoring_problems(spec: Scenario, i: int) -> list[tuple[tuple[Any, ...], str, str, Any]]:
    endpoint = spec.endpoints[i]
    test = endpoint.rule.test
    found: list[tuple[tuple[Any, ...], str, str, Any]] = []
    if endpoint.stage is None:
        found.append(
            (
                ("endpoints", i, "stages"),
                f"{test}_one_stage",
                f"a {test} rule applies to one stage: use `stage`",
                endpoint.stages,
            )
        )
    if endpoint.population != "evaluable":
        found.append(
            (
                ("endpoints", i, "population"),
                f"{test}_evaluable",
                f"a {test} rule counts evaluable patients",
                endpoint.population,
            )
        )
    earlier = [
        e.id
        for e in spec.endpoints[:i]
        if e.rule.test in MONITORING_TESTS and e.stage == endpoint.stage
    ]
    if earlier:
        found.append(
            (
                ("endpoints", i, "stage"),
                "one_monitor_per_stage",
                f"stage already monitored by endpoint {earlier[0]}",
                endpoint.stage,
            )
        )
    return found


def null_response_of(spec: Scenario, stage_index: int) -> float | None:
    """The stage's response rate in the null world.

    ``null_response`` if given; else ``p0`` of the first one-group endpoint on
    the stage; else, for the experimental stage of a ``fisher`` comparison, the
    control stage's null rate (H0: no difference); else, for a control stage,
    its own point response rate. None if none applies (the caller reports it).
    """
    return _null_response(spec, spec.stages[stage_index].id, set())


def _null_response(spec: Scenario, stage_id: str, seen: set[str]) -> float | None:
    stage = next(s for s in spec.stages if s.id == stage_id)
    if stage.null_response is not None:
        return stage.null_response
    for endpoint in spec.endpoints:
        if endpoint.stage == stage_id and not isinstance(endpoint.rule, FisherRule):
            return endpoint.rule.p0
    known = {s.id for s in spec.stages}
    for endpoint in spec.endpoints:
        control = (endpoint.versus or [""])[0]
        if (
            endpoint.rule.test == "fisher"
            and endpoint.stage_ids[:1] == [stage_id]
            and control in known
            and control not in seen
        ):
            return _null_response(spec, control, seen | {stage_id})
    for endpoint in spec.endpoints:
        if stage_id in (endpoint.versus or []) and isinstance(stage.response, int | float):
            return float(stage.response)
    return None
