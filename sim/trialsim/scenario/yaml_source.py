"""Safe YAML reading that remembers the line of every key.

Only plain YAML data is accepted: no Python object tags (``safe_load``
semantics), no aliases (they allow exponential "billion laughs" documents),
no merge keys, and no duplicate keys (PyYAML would silently keep the last
one). Scalars are read as the YAML 1.2 core schema reads them.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml

from trialsim.scenario.problems import Problem, ScenarioError

Path = tuple[str | int, ...]
MAX_DEPTH = 50  # nesting of lists and mappings; a scenario needs about 6


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML data with the 1-based line of every mapping key and item."""

    data: Any
    lines: dict[Path, int]

    def line_of(self, path: Path) -> int | None:
        """Line of ``path``, or of its nearest existing ancestor."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


class _ScenarioLoader(yaml.SafeLoader):
    """``safe_load`` semantics with the scalars of the YAML 1.2 core schema.

    PyYAML follows YAML 1.1, which surprises in scenario files: ``010`` is
    octal (8), ``1:30`` is base 60 (90), ``yes``/``no``/``on``/``off`` are
    booleans, ``2005-01-01`` is a date, and ``1e-3`` (no dot) is a string. Here,
    as in YAML 1.2, ``010`` is 10, ``1e-3`` is 0.001, and the rest are strings
    that the schema then refuses with a located message. Merge keys (``<<``)
    are not resolved: :func:`read_yaml` refuses them.
    """

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _pattern, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
):
    _ScenarioLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)


def _construct_core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """Integers as YAML 1.2 reads them: decimal (leading zeros allowed), ``0o`` and ``0x``."""
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text, 0)
    return int(text, 10)


_ScenarioLoader.add_constructor("tag:yaml.org,2002:int", _construct_core_int)


class _StrictLoader(_ScenarioLoader):
    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if self.check_event(yaml.AliasEvent):
            raise yaml.MarkedYAMLError(
                None, None, "aliases (*name) are not allowed in scenario files", event.start_mark
            )
        if self.depth >= MAX_DEPTH:
            raise yaml.MarkedYAMLError(
                None, None, f"lists and mappings nest more than {MAX_DEPTH} deep", event.start_mark
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_yaml(text: str, file: str) -> YamlDocument:
    """Parse ``text`` as one YAML document.

    Parameters
    ----------
    text : str
        The file's contents.
    file : str
        Name used in error messages.

    Raises
    ------
    ScenarioError
        On syntax errors, aliases, Python tags, duplicate keys or an empty file.
    """
    try:
        node = yaml.compose(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        message = (err.problem or err.context or "invalid YAML").strip()
        raise ScenarioError([Problem(file, line, "", "yaml_syntax", message)]) from None
    except yaml.YAMLError as err:
        raise ScenarioError([Problem(file, None, "", "yaml_syntax", str(err))]) from None
    if node is None:
        raise ScenarioError([Problem(file, None, "", "empty_file", "the file holds no scenario")])
    lines: dict[Path, int] = {}
    problems: list[Problem] = []
    _index_lines(node, (), lines, problems, file)
    if problems:
        raise ScenarioError(problems)
    try:
        data = _ScenarioLoader(text).get_single_data()
    except yaml.constructor.ConstructorError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(
            [Problem(file, line, "", "yaml_tag", "only plain YAML data is allowed (no tags)")]
        ) from None
    return YamlDocument(data, lines)


def _index_lines(
    node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[Problem], file: str
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Hashable] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        ".".join(map(str, path)),
                        "complex_key",
                        "keys must be plain words, not lists or mappings",
                    )
                )
                continue
            key = key_node.value
            if key == "<<" and key_node.style is None:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        ".".join(map(str, (*path, key))),
                        "merge_key",
                        "merge keys (<<) are not allowed; write each key out",
                    )
                )
                continue
            if key in seen:
                problems.append(
                    Problem(
                        file,
                        key_node.start_mark.line + 1,
                        ".".join(map(str, (*path, key))),
                        "duplicate_key",
                        "a key may appear only once",
                        key,
                    )
                )
            seen.add(key)
            key_path = (*path, key)
            lines[key_path] = key_node.start_mark.line + 1
            _index_lines(value_node, key_path, lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), lines, problems, file)
