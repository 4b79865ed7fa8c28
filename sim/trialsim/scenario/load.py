"""Read a scenario file and check it against the schema and the scenario's structure.

:func:`read_document` reads the file's bytes and parses the YAML;
:func:`validate_data` checks the schema and the keys that link stages, arms
and endpoints (:mod:`trialsim.scenario.checks`), plus any further checks the
caller passes. The checks that depend on an endpoint's rule come later in the
pipeline: :func:`trialsim.rules.validation.load_scenario` runs everything.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from trialsim.scenario.checks import Locator, cross_key_problems, dotted
from trialsim.scenario.problems import Problem, ScenarioError
from trialsim.scenario.schema import Scenario
from trialsim.scenario.yaml_source import YamlDocument, read_yaml

MAX_FILE_BYTES = 1_000_000
TOO_LARGE = f"scenario files are limited to {MAX_FILE_BYTES} bytes"
FurtherChecks = Callable[[Scenario, Locator], list[Problem]]


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


def read_document(path: str | Path) -> tuple[YamlDocument, str]:
    """Read and parse a scenario file, without validating it.

    Parameters
    ----------
    path : str or Path
        The scenario file, or ``-`` for standard input.

    Returns
    -------
    document : YamlDocument
        The parsed YAML, with the line of each key.
    sha256 : str
        Hex digest of the file's bytes.

    Raises
    ------
    ScenarioError
        When the file cannot be read, is not a regular file, is too large, is
        not UTF-8 or not YAML.
    """
    file = str(path)
    raw = read_limited(file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(
            [Problem(file, None, "", "encoding", "the file is not UTF-8 text")]
        ) from None
    return read_yaml(text, file), hashlib.sha256(raw).hexdigest()


def read_limited(file: str) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`, or of ``-`` (stdin).

    The file's type and size are checked before reading, and never more than
    one byte over the limit is read (a device, a FIFO or a growing file
    cannot exhaust memory or hang the reader).

    Raises
    ------
    ScenarioError
        When the file cannot be read, is not a regular file or is too large.
    """

    def refuse(rule: str, message: str) -> NoReturn:
        raise ScenarioError([Problem(file, None, "", rule, message)])

    try:
        if file == "-":
            raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            # Non-blocking, so that opening a FIFO without a writer returns at once.
            descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(descriptor, "rb") as stream:
                status = os.fstat(descriptor)
                if not stat.S_ISREG(status.st_mode):
                    refuse("not_a_file", "not a regular file (- reads standard input)")
                if status.st_size > MAX_FILE_BYTES:
                    refuse("too_large", TOO_LARGE)
                raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        refuse("unreadable", err.strerror or str(err))
    if len(raw) > MAX_FILE_BYTES:
        refuse("too_large", TOO_LARGE)
    return raw


def validate_data(
    document: YamlDocument, file: str, further_checks: FurtherChecks | None = None
) -> Scenario:
    """Validate parsed YAML against the schema and the scenario's structure.

    Parameters
    ----------
    document : YamlDocument
    file : str
        Where the data came from, for problem reports.
    further_checks : callable, optional
        Run on a scenario that passed the schema, after the structural checks
        (e.g. the rules' checks, :func:`trialsim.rules.validation.rule_problems`).

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
    at = Locator(document, file)
    problems = [at.problem(*finding) for finding in cross_key_problems(spec)]
    if further_checks is not None:
        problems += further_checks(spec, at)
    if problems:
        raise ScenarioError(problems)
    return spec


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
            return Problem(file, document.line_of(path), dotted(path), error["type"], message, tag)
    if error["type"] == "union_tag_not_found":
        message = "a rule needs `test:` naming its test (exact_binomial or simon)"
    value = error.get("input")
    if error["type"] == "missing":
        value = None
    elif isinstance(value, dict | list):
        value = None if error["type"] != "extra_forbidden" else value
    return Problem(file, document.line_of(path), dotted(path), error["type"], message, value)


def _is_union_branch(part: Any) -> bool:
    """Union branch tags (see :mod:`trialsim.scenario.schema`) are not keys of the file."""
    return isinstance(part, str) and part.startswith("<")
