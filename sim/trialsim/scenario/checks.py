"""Checks that link keys of a scenario, whatever its rules: stage graph, arms, endpoint stages.

Each check gives :data:`Finding` tuples (key path, rule, message, value); a
:class:`Locator` turns them into :class:`~trialsim.scenario.problems.Problem`
objects with the line of the key in the file. The checks that depend on an
endpoint's rule live with the rule (:mod:`trialsim.rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trialsim.scenario.problems import Problem
from trialsim.scenario.schema import Scenario
from trialsim.scenario.yaml_source import YamlDocument

Finding = tuple[tuple[Any, ...], str, str, Any]


@dataclass(frozen=True)
class Locator:
    """Makes problems of one scenario document: the key path gives the line.

    Attributes
    ----------
    document : YamlDocument
        The parsed file, which knows the line of each key.
    file : str
        The file's name as the user gave it.
    """

    document: YamlDocument
    file: str

    def problem(self, path: tuple[Any, ...], rule: str, message: str, value: Any = None) -> Problem:
        """A :class:`Problem` at the key ``path`` (e.g. ``("endpoints", 0, "stage")``)."""
        return Problem(self.file, self.document.line_of(path), dotted(path), rule, message, value)


def dotted(path: tuple[Any, ...]) -> str:
    """A key path as the dotted key users write, e.g. ``endpoints.0.stage``."""
    return ".".join(str(part) for part in path)


def cross_key_problems(spec: Scenario) -> list[Finding]:
    """Rules that link keys: the stage graph, subgroup names, endpoint stages.

    Returns
    -------
    list of (path, rule, message, value)
    """
    found: list[Finding] = []
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


def _arm_problems(spec: Scenario, index: dict[str, int]) -> list[Finding]:
    found: list[Finding] = []
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


def _graph_problems(spec: Scenario, index: dict[str, int]) -> list[Finding]:
    found: list[Finding] = []
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


def _endpoint_problems(spec: Scenario, index: dict[str, int]) -> list[Finding]:
    found: list[Finding] = []
    endpoint_ids = [e.id for e in spec.endpoints]
    for i, endpoint in enumerate(spec.endpoints):
        if endpoint_ids.index(endpoint.id) != i:
            found.append(
                (("endpoints", i, "id"), "duplicate_id", "endpoint ids must be unique", endpoint.id)
            )
        if not names_its_stages(spec, i):
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
        unknown = unknown_stages(spec, endpoint.stage_ids)
        if unknown:
            found.append((("endpoints", i, key), "unknown_stage", "no stage has this id", unknown))
            continue
        found.extend(path_problems(spec, ("endpoints", i, "stages"), endpoint.stage_ids))
    return found


def names_its_stages(spec: Scenario, i: int) -> bool:
    """Whether endpoint ``i`` gives exactly one of `stage` or `stages`.

    Only then do its rule's checks run (:mod:`trialsim.rules.validation`).
    """
    endpoint = spec.endpoints[i]
    return (endpoint.stage is None) != (endpoint.stages is None)


def unknown_stages(spec: Scenario, stage_ids: list[str]) -> list[str]:
    """The ids of ``stage_ids`` that no stage has."""
    known = {stage.id for stage in spec.stages}
    return [s for s in stage_ids if s not in known]


def path_problems(spec: Scenario, path: tuple[Any, ...], stage_ids: list[str]) -> list[Finding]:
    """``not_a_path`` unless each stage of ``stage_ids`` is next_on_failure of the one before."""
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
