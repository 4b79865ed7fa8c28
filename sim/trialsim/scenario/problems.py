"""Input problems: what is wrong, where, under which rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file.

    Attributes
    ----------
    file : str
        Path of the scenario file as the user gave it.
    line : int or None
        1-based YAML line of the offending key, or None when unknown.
    key : str
        Dotted key, e.g. ``stages.0.dropout``; empty for the whole file.
    rule : str
        Short name of the rule broken, e.g. ``less_than_equal``.
    message : str
        Plain-language statement of the rule.
    value : Any
        The offending value, if any.
    """

    file: str
    line: int | None
    key: str
    rule: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = self.key or "(file)"
        shown = "" if self.value is None else f"; got {_short(self.value)}"
        return f"{where}: {key}: {self.message} [{self.rule}]{shown}"


class ScenarioError(ValueError):
    """Raised when a scenario file is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
