"""Values a grid varies: ranges ``LO:HI:STEP`` and settings ``KEY=LO:HI:STEP``.

A range is parsed into the numbers it holds, HI included (ints when LO, HI and
STEP are all integers, else floats rounded so that steps add up exactly); a
setting pairs a dotted scenario key with such values. Problems name the
command-line option that gave the text (``--set``, ``--range``). Resolving a
key against a scenario and building the grid is :mod:`trialsim.scenario.variation`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from trialsim.scenario.problems import Problem, ScenarioError

Number = int | float
MAX_GRID_POINTS = 200
# Float grid values are rounded so that 0.05 + 6 * 0.05 is 0.35, not 0.35000000000000003.
GRID_DECIMALS = 12
INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Setting:
    """A key and the values it takes in a grid, as given on the command line."""

    key: str
    values: tuple[Number, ...]


def parse_values(
    text: str, source: str, key: str = "", limit: int = MAX_GRID_POINTS
) -> tuple[Number, ...]:
    """The values of a range ``LO:HI:STEP`` (or ``LO:HI``, integers, step 1), HI included.

    Values are ints when LO, HI and STEP are all written as integers, else floats.

    Parameters
    ----------
    text : str
    source : str
        The command-line option, for problem reports.
    key : str
        The key the range is for, for problem reports.
    limit : int
        Most values allowed.

    Raises
    ------
    ScenarioError
        Not numbers, an empty range, a step that is not positive, or more
        than ``limit`` values.

    Examples
    --------
    >>> parse_values("20:30:5", "--set")
    (20, 25, 30)
    >>> parse_values("0.1:0.3:0.1", "--set")
    (0.1, 0.2, 0.3)
    """

    def refuse(rule: str, message: str) -> ScenarioError:
        return ScenarioError([Problem(source, None, key, rule, message, text)])

    words = text.split(":")
    if len(words) not in (2, 3):
        raise refuse("range_syntax", "write a range as LO:HI:STEP (or LO:HI for integers)")
    numbers: list[Number] = []
    for word in words:
        try:
            number: Number = int(word) if INTEGER.match(word.strip()) else float(word)
        except ValueError:
            raise refuse("not_a_number", f"{word!r} is not a number") from None
        if not math.isfinite(number):
            raise refuse("not_a_number", f"{word!r} is not a finite number")
        numbers.append(number)
    low, high = numbers[0], numbers[1]
    step = numbers[2] if len(numbers) == 3 else 1
    integers = all(isinstance(n, int) for n in (low, high, step))
    if len(numbers) == 2 and not integers:
        raise refuse("step_needed", "a range of fractions needs a step: LO:HI:STEP")
    if step <= 0:
        raise refuse("step_positive", "STEP must be greater than 0")
    if high < low:
        raise refuse("empty_range", "the range is empty: HI must not be below LO")
    count = math.floor((high - low) / step + 1e-9) + 1
    if count > limit:
        raise refuse(
            "too_many_values", f"the range has {count} values, at most {limit}: use a larger step"
        )
    if integers:
        return tuple(range(int(low), int(high) + 1, int(step)))
    return tuple(round(low + i * step, GRID_DECIMALS) for i in range(count))


def parse_setting(text: str, source: str = "--set", limit: int = MAX_GRID_POINTS) -> Setting:
    """Parse ``KEY=LO:HI:STEP`` (see :func:`parse_values`).

    Examples
    --------
    >>> parse_setting("enrollment.patients=30:60:15")
    Setting(key='enrollment.patients', values=(30, 45, 60))
    """
    key, equals, values = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise ScenarioError(
            [Problem(source, None, key or text, "setting_syntax", "write KEY=LO:HI:STEP", text)]
        )
    return Setting(key, parse_values(values.strip(), source, key, limit))
