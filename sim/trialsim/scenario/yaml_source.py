"""Safe YAML reading that remembers the line of every key.

Only plain YAML data is accepted: no Python object tags (``safe_load``
semantics), no aliases (they allow exponential "billion laughs" documents),
and no duplicate keys (PyYAML would silently keep the last one).
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
    """``safe_load`` semantics, but ``1e-3`` and ``2.5E8`` are numbers, as in YAML 1.2.

    PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent
    (``1.0e-3``), so ``1e-3`` would be read as a string.
    """


_ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


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
