"""Vary a loaded scenario: dotted-key overrides, and grids of them.

A key addresses the scenario as written: ``enrollment.patients``,
``enrollment.accrual.rate_per_month``, ``stages.vk2.dropout``,
``stages.vk2.response.RA``, ``endpoints.vk2_response.rule.p0``,
``population.RA.weight``. List items are named by their ``id`` (``name`` for
subgroups and adverse events) or by 0-based index. Only numeric keys can be
varied. A varied scenario is validated exactly like a file; each problem names
the command-line option it came from (``--set``, ``--vary``, ``--range``).
The values a grid takes are parsed by :mod:`trialsim.scenario.grid_values`.
"""

from __future__ import annotations

import itertools
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from trialsim.scenario.grid_values import MAX_GRID_POINTS, Number, Setting
from trialsim.scenario.load import LoadedScenario, validate_data
from trialsim.scenario.problems import Problem, ScenarioError
from trialsim.scenario.schema import Scenario
from trialsim.scenario.yaml_source import YamlDocument

ITEM_LABELS = ("id", "name")


@dataclass(frozen=True)
class ScenarioKey:
    """A dotted key resolved against a scenario.

    Attributes
    ----------
    key : str
        As the user wrote it, e.g. ``stages.vk2.dropout``.
    path : tuple of str and int
        Where the value lives in the scenario's data, list items by index,
        e.g. ``("stages", 0, "dropout")``.
    integer : bool
        Whether the schema field takes whole numbers only.
    """

    key: str
    path: tuple[str | int, ...]
    integer: bool

    def coerce(self, value: Number, source: str) -> Number:
        """``value`` as the field's type: int for an integer field, else float.

        Raises
        ------
        ScenarioError
            If an integer field is given a fraction.
        """
        if not self.integer:
            return float(value)
        if float(value).is_integer():
            return int(value)
        raise ScenarioError(
            [
                Problem(
                    source,
                    None,
                    self.key,
                    "int_type",
                    "this key takes whole numbers: give LO, HI and STEP as integers",
                    value,
                )
            ]
        )


@dataclass(frozen=True)
class GridPoint:
    """One varied scenario of a grid.

    Attributes
    ----------
    overrides : dict of str to number
        The value of each varied key at this point.
    scenario : LoadedScenario
        The varied, validated scenario; path and sha256 are the original file's.
    """

    overrides: dict[str, Number]
    scenario: LoadedScenario


def resolve_key(spec: Scenario, key: str, source: str) -> ScenarioKey:
    """Find a dotted key in a scenario and check that it holds a number.

    Parameters
    ----------
    spec : Scenario
    key : str
        E.g. ``stages.vk2.response`` or ``stages.0.response``.
    source : str
        The command-line option that gave the key, for problem reports.

    Returns
    -------
    ScenarioKey

    Raises
    ------
    ScenarioError
        Unknown key or list item, a key below a plain value, or a key that is
        not numeric.
    """

    def refuse(rule: str, message: str, value: Any = None) -> ScenarioError:
        return ScenarioError([Problem(source, None, key, rule, message, value)])

    parts = key.split(".")
    node: Any = spec
    annotation: Any = Scenario
    path: list[str | int] = []
    used = 0
    while used < len(parts):
        where = ".".join(parts[:used]) or "the scenario"
        if isinstance(node, BaseModel):
            fields = type(node).model_fields
            name = parts[used]
            if name not in fields:
                raise refuse(
                    "unknown_key", f"{where} has no key {name!r}; keys: {', '.join(fields)}"
                )
            annotation, node = fields[name].annotation, getattr(node, name)
            path.append(name)
            used += 1
        elif isinstance(node, list | dict):
            found = _find_item(node, parts[used:])
            if found is None:
                raise refuse("unknown_item", f"{where} has no item {parts[used]!r}; {_items(node)}")
            index, length = found
            annotation, node = _element_annotation(annotation, node), node[index]
            path.append(index)
            used += length
        elif node is None:
            raise refuse("not_set", f"{where} is not set in the scenario, so it has no key below")
        else:
            raise refuse("not_a_mapping", f"{where} is a single value, it has no key below", node)
    if isinstance(node, list):
        raise refuse("needs_item", f"{key} is a list: {_items(node)}")
    leaves = _leaf_types(annotation)
    if int not in leaves and float not in leaves:
        raise refuse("not_numeric", "only numeric keys can be varied")
    return ScenarioKey(key, tuple(path), integer=float not in leaves)


def _find_item(container: list[Any] | dict[str, Any], parts: list[str]) -> tuple[Any, int] | None:
    """(index or dict key, dotted parts consumed); labels may contain dots."""
    labels = _labels(container)
    for length in range(len(parts), 0, -1):
        label = ".".join(parts[:length])
        if label in labels:
            return labels[label], length
    if isinstance(container, list) and parts[0].isdigit() and int(parts[0]) < len(container):
        return int(parts[0]), 1
    return None


def _labels(container: list[Any] | dict[str, Any]) -> dict[str, Any]:
    if isinstance(container, dict):
        return {name: name for name in container}
    return {
        getattr(item, label): index
        for index, item in enumerate(container)
        for label in ITEM_LABELS
        if isinstance(getattr(item, label, None), str)
    }


def _items(container: list[Any] | dict[str, Any]) -> str:
    labels = ", ".join(_labels(container)) or "none"
    if isinstance(container, dict):
        return f"keys: {labels}"
    return f"name an item by id or name ({labels}) or by 0-based index below {len(container)}"


def _leaf_types(annotation: Any) -> set[Any]:
    """The types a field annotation admits, with Annotated, unions and None unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _leaf_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_leaf_types(arg) for arg in typing.get_args(annotation)))
    return {annotation}


def _element_annotation(annotation: Any, container: list[Any] | dict[str, Any]) -> Any:
    wanted = list if isinstance(container, list) else dict
    for leaf in _leaf_types(annotation):
        if typing.get_origin(leaf) is wanted:
            return typing.get_args(leaf)[-1]
    return Any


def apply_overrides(
    loaded: LoadedScenario, overrides: Mapping[str, Number], source: str = "--set"
) -> LoadedScenario:
    """The scenario with ``overrides`` (dotted key -> value) applied and re-validated.

    Overriding a subgroup's ``population.<name>.weight`` rescales the weights of
    the subgroups not overridden, in proportion, so that all still sum to 1.

    Parameters
    ----------
    loaded : LoadedScenario
    overrides : mapping of str to int or float
    source : str
        The command-line option that gave them, for problem reports.

    Returns
    -------
    LoadedScenario
        Same path and sha256 as ``loaded`` (the file it came from).

    Raises
    ------
    ScenarioError
        With one problem per thing wrong, each naming ``source`` and the key.

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> base = load_scenario("scenarios/vk2_d3_2005.yaml")
    >>> apply_overrides(base, {"stages.vk2.dropout": 0.1}).spec.stages[0].dropout
    0.1
    """
    keys = [resolve_key(loaded.spec, key, source) for key in overrides]
    return _varied(loaded, {k: k.coerce(overrides[k.key], source) for k in keys}, source)


def _varied(
    loaded: LoadedScenario, overrides: Mapping[ScenarioKey, Number], source: str
) -> LoadedScenario:
    # Only keys written in the file (exclude_unset): a default written out would
    # count as given (e.g. `entry` on a stage no one is routed to).
    data = loaded.spec.model_dump(exclude_unset=True, warnings=False)
    for key, value in overrides.items():
        _set(data, key.path, value)
    _rebalance_weights(data, [key.path for key in overrides])
    try:
        spec = validate_data(YamlDocument(data, {}), source)
    except ScenarioError as err:
        raise ScenarioError([_attributed(p, overrides) for p in err.problems]) from None
    return LoadedScenario(spec, loaded.path, loaded.sha256)


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: Number) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node[path[-1]] = value


def _rebalance_weights(data: dict[str, Any], paths: list[tuple[str | int, ...]]) -> None:
    fixed = {path[1] for path in paths if path[0] == "population" and path[2:] == ("weight",)}
    if not fixed:
        return
    groups = data["population"]
    others = [i for i in range(len(groups)) if i not in fixed]
    others_total = sum(groups[i]["weight"] for i in others)
    if others_total > 0:
        scale = (1.0 - sum(groups[i]["weight"] for i in fixed)) / others_total
        for i in others:
            groups[i]["weight"] *= scale


def _attributed(problem: Problem, overrides: Mapping[ScenarioKey, Number]) -> Problem:
    """Name a validation problem by the override that caused it.

    The scenario was valid before, so an override caused every problem: the one
    whose path contains the problem's or lies inside it, else the only one (the
    message then says where the rule broke).
    """
    for key, value in overrides.items():
        if _nested(".".join(map(str, key.path)), problem.key):
            return replace(problem, key=key.key, value=value)
    if len(overrides) == 1:
        [(key, value)] = overrides.items()
        message = f"then {problem.key or 'the scenario'}: {problem.message}"
        return replace(problem, key=key.key, message=message, value=value)
    return problem


def _nested(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def scenario_grid(
    loaded: LoadedScenario,
    settings: Sequence[Setting],
    source: str = "--set",
    value_source: str | None = None,
    limit: int = MAX_GRID_POINTS,
) -> list[GridPoint]:
    """Every combination of the settings' values (cartesian product), validated.

    Parameters
    ----------
    loaded : LoadedScenario
    settings : sequence of Setting
        The first key varies slowest.
    source : str
        The option that gave the keys, for problem reports.
    value_source : str, optional
        The option that gave the values, if another (default: ``source``).
    limit : int
        Most grid points allowed.

    Returns
    -------
    list of GridPoint

    Raises
    ------
    ScenarioError
        With every problem found: bad keys, a grid larger than ``limit``, and
        each value the scenario's rules refuse (all points are checked before
        anything runs).
    """
    value_source = value_source or source
    keys = [resolve_key(loaded.spec, s.key, source) for s in settings]
    duplicates = sorted({k.key for k in keys if [j.key for j in keys].count(k.key) > 1})
    if duplicates:
        raise ScenarioError(
            [Problem(source, None, k, "duplicate_key", "give each key once") for k in duplicates]
        )
    size = math.prod(len(s.values) for s in settings)
    if size > limit:
        raise ScenarioError(
            [
                Problem(
                    source,
                    None,
                    ", ".join(k.key for k in keys),
                    "too_many_points",
                    f"the grid has {size} points, at most {limit}: use larger steps or fewer keys",
                )
            ]
        )
    axes = [
        [key.coerce(value, value_source) for value in s.values]
        for key, s in zip(keys, settings, strict=True)
    ]
    points: list[GridPoint] = []
    problems: dict[str, Problem] = {}
    for values in itertools.product(*axes):
        overrides = dict(zip(keys, values, strict=True))
        try:
            varied = _varied(loaded, overrides, value_source)
        except ScenarioError as err:
            problems.update((str(p), p) for p in err.problems)
            continue
        points.append(GridPoint({k.key: v for k, v in overrides.items()}, varied))
    if problems:
        raise ScenarioError(list(problems.values()))
    return points
