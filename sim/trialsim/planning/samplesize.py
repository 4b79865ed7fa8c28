"""The smallest value of a scenario key (by default enrollment) that reaches a power.

Exact binomial power is saw-toothed in N: after first reaching the target it
can fall below it again. So there are two answers: the *minimal* value, the
smallest meeting power >= target and type I error <= alpha, and the
*conservative* value, from which on every larger value in the range meets both.

Where the exact engine applies at every candidate the search is exact and a
simulation confirms the answer. Elsewhere the search simulates: a coarse grid
of the range, refined where the answer lies, every point with the same seed
(common random numbers). Dropout, non-evaluable patients, re-registration and
accrual limits enter through the scenario, as in ``trialsim run``.

Type I error is the exact value wherever the engine has one. A simulated type
I error carries Monte Carlo error: a size of exactly alpha is simulated above
alpha half the time. So a simulated size qualifies when its one-sided 95%
Wilson lower bound is at most alpha (the simulation does not show, at the 5%
level, that the size exceeds alpha); power must reach the target by its point
estimate, as before, with its interval shown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from trialsim.planning.grid import GridRow, PointCallback, evaluate_grid, scenario_record
from trialsim.rules.registry import rule_for
from trialsim.scenario.load import LoadedScenario
from trialsim.scenario.schema import Scenario
from trialsim.scenario.variation import GridPoint, Number

MAX_SEARCH_VALUES = 1000
COARSE_POINTS = 11
REFINE_POINTS = 9
# Exact sizes are sums of rounded terms: a size equal to alpha must meet alpha.
ALPHA_TOLERANCE = 1e-9
Z_95 = 1.959963984540054
Z_ONE_SIDED_95 = 1.6448536269514722
Method = Literal["exact", "simulation"]


@dataclass(frozen=True)
class SampleSizeSearch:
    """The answer of a search and the evidence for it.

    Attributes
    ----------
    scenario : LoadedScenario
        The scenario before variation.
    key : str
        The varied key, e.g. ``enrollment.patients``.
    endpoint : str
    power : float
        Target power.
    alpha : float
        Largest type I error allowed.
    method : {"exact", "simulation"}
        What decided the answer.
    minimal, conservative : int, float or None
        None when no value in the range qualifies.
    rows : list of GridRow
        By increasing value. Exact: every value of the range, simulated as
        well at the minimal and conservative values. Simulation: the values
        simulated.
    seed, replicates : int
        Of the simulations.
    elapsed_seconds : float
        Wall time of the search.
    """

    scenario: LoadedScenario
    key: str
    endpoint: str
    power: float
    alpha: float
    method: Method
    minimal: Number | None
    conservative: Number | None
    rows: list[GridRow]
    seed: int
    replicates: int
    elapsed_seconds: float

    def row_at(self, value: Number) -> GridRow:
        """The row of a value of the key."""
        return next(row for row in self.rows if row.settings[self.key] == value)

    def highest_power(self) -> tuple[Number, float]:
        """The value with the highest power, by the search's method, and that power."""
        field = "power_exact" if self.method == "exact" else "power"
        powers = [
            (getattr(row.endpoints[self.endpoint], field), row.settings[self.key])
            for row in self.rows
        ]
        power, value = max((p, v) for p, v in powers if p is not None)
        return value, power

    def shortfall(self) -> str:
        """Which constraint no value met (power, type I error, or both), with the best seen."""
        exact = self.method == "exact"
        checks = [target_checks(r, self.endpoint, self.power, self.alpha, exact) for r in self.rows]
        value, power = self.highest_power()
        best = f"highest power {power:.3f} at {value:g}"
        if not any(size_ok for _, size_ok in checks):
            sizes = [
                (judged_size(r, self.endpoint, exact), r.settings[self.key]) for r in self.rows
            ]
            size, at = min((s, v) for s, v in sizes if s is not None)
            failed = "both" if not any(ok for ok, _ in checks) else "type I error"
            judged = "exact" if exact else "exact, or simulated one-sided 95% lower bound"
            return f"{failed} failed: {best}; lowest type I error ({judged}) {size:.4f} at {at:g}"
        if not any(ok for ok, _ in checks):
            return f"power failed: {best}; type I error met"
        return f"never both at one value: {best}; type I error met elsewhere"

    def answer(self, value: Number | None) -> dict[str, Any] | None:
        """Exact and simulated characteristics at ``value``, with 95% Monte Carlo intervals."""
        if value is None:
            return None
        row = self.row_at(value)
        outcome = row.endpoints[self.endpoint]
        answer: dict[str, Any] = {"value": value, **vars(outcome)}
        for name in ("power", "type1_error"):
            estimate = getattr(outcome, name)
            answer[f"{name}_interval"] = (
                None if estimate is None else monte_carlo_interval(estimate, row.replicates)
            )
        answer["registered_mean"] = row.registered_mean
        answer["analysis_weeks_mean"] = row.analysis_weeks_mean
        if self.method == "simulation" and outcome.power is not None:
            low, high = answer["power_interval"]
            answer["target_within_mc_interval"] = low <= self.power <= high
        return answer

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: provenance, target, method, both answers, and every row."""
        return {
            **scenario_record(self.scenario),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "endpoint": self.endpoint,
            "key": self.key,
            "range": [self.rows[0].settings[self.key], self.rows[-1].settings[self.key]],
            "target": {"power": self.power, "alpha": self.alpha},
            "method": self.method,
            "seed": self.seed,
            "replicates": self.replicates,
            "minimal": self.answer(self.minimal),
            "conservative": self.answer(self.conservative),
            "rows": [row.as_dict() for row in self.rows],
        }


def rule_alpha(spec: Scenario, endpoint_id: str) -> float | None:
    """The endpoint rule's own alpha (``exact_binomial``, ``fisher``), else None."""
    endpoint = next(e for e in spec.endpoints if e.id == endpoint_id)
    return rule_for(endpoint.rule).alpha


def meets_target(row: GridRow, endpoint: str, power: float, alpha: float, exact: bool) -> bool:
    """Power >= ``power`` and type I error <= ``alpha`` (see :func:`target_checks`)."""
    return all(target_checks(row, endpoint, power, alpha, exact))


def target_checks(
    row: GridRow, endpoint: str, power: float, alpha: float, exact: bool
) -> tuple[bool, bool]:
    """Whether the row reaches the power, and whether its type I error qualifies.

    With ``exact`` both are exact values. Otherwise power is simulated and the
    type I error is the exact one where the engine has it, else simulated and
    qualifying when its one-sided 95% Wilson lower bound is at most ``alpha``.
    A missing value fails.
    """
    outcome = row.endpoints[endpoint]
    achieved = outcome.power_exact if exact else outcome.power
    size = judged_size(row, endpoint, exact)
    return (
        achieved is not None and achieved >= power,
        size is not None and size <= alpha + ALPHA_TOLERANCE,
    )


def judged_size(row: GridRow, endpoint: str, exact: bool) -> float | None:
    """The type I error judged against alpha: exact, else the simulated lower bound."""
    outcome = row.endpoints[endpoint]
    if exact or outcome.type1_error_exact is not None:
        return outcome.type1_error_exact
    if outcome.type1_error is None:
        return None
    return wilson_lower_bound(outcome.type1_error, row.replicates)


def wilson_lower_bound(estimate: float, replicates: int) -> float:
    """One-sided 95% Wilson score lower bound of a simulated proportion."""
    return wilson_interval(estimate, replicates, Z_ONE_SIDED_95)[0]


def monte_carlo_interval(estimate: float, replicates: int) -> tuple[float, float]:
    """95% Wilson score interval of a simulated proportion (sensible at 0 and 1 too)."""
    return wilson_interval(estimate, replicates, Z_95)


def wilson_interval(estimate: float, replicates: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion from ``replicates`` trials, ``z`` wide each side."""
    if replicates == 0:
        return (math.nan, math.nan)
    z2n = z**2 / replicates
    centre = (estimate + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(estimate * (1 - estimate) / replicates + z2n / (4 * replicates))
    half /= 1 + z2n
    return (max(0.0, centre - half), min(1.0, centre + half))


def minimal_and_conservative(
    values: Sequence[Number], passes: Sequence[bool]
) -> tuple[Number | None, Number | None]:
    """Smallest passing value; smallest value from which every larger one passes.

    Examples
    --------
    >>> minimal_and_conservative([10, 11, 12, 13], [False, True, False, True])
    (11, 13)
    """
    minimal = next((v for v, ok in zip(values, passes, strict=True) if ok), None)
    failing = [i for i, ok in enumerate(passes) if not ok]
    if not failing:
        return minimal, minimal
    after = failing[-1] + 1
    return minimal, values[after] if after < len(values) else None


def find_sample_size(
    base: LoadedScenario,
    points: Sequence[GridPoint],
    endpoint: str,
    power: float,
    alpha: float,
    replicates: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    on_point: PointCallback | None = None,
    scheduler: str | None = None,
) -> SampleSizeSearch:
    """Search the values of one varied key for the minimal and conservative answers.

    Parameters
    ----------
    base : LoadedScenario
        The scenario the points vary.
    points : sequence of GridPoint
        One per candidate value of a single key, by increasing value (from
        :func:`trialsim.scenario.variation.scenario_grid`).
    endpoint : str
        Endpoint id.
    power : float
        Target power, in (0, 1).
    alpha : float
        Largest type I error allowed.
    replicates : int, optional
        Simulated trials per world at each simulated point (default: the scenario's).
    seed : int, optional
        Base seed, the same at every point (default: the scenario's).
    jobs : int, optional
        Worker processes per simulation.
    on_point : callable, optional
        Called with the number of points simulated so far.
    scheduler : str, optional
        Address of a Dask distributed scheduler to simulate on instead of local processes.

    Returns
    -------
    SampleSizeSearch
    """
    started = time.perf_counter()
    replicates = base.spec.simulation.replicates if replicates is None else replicates
    seed = base.spec.simulation.seed if seed is None else seed
    key = next(iter(points[0].overrides))
    values = [point.overrides[key] for point in points]
    counted = _counting(on_point)

    def simulate(indices: Sequence[int]) -> list[GridRow]:
        chosen = [points[i] for i in indices]
        return evaluate_grid(chosen, replicates, seed, jobs, True, [endpoint], counted, scheduler)

    def search(
        method: Method, minimal: Number | None, conservative: Number | None, rows: list[GridRow]
    ) -> SampleSizeSearch:
        elapsed = time.perf_counter() - started
        return SampleSizeSearch(
            base,
            key,
            endpoint,
            power,
            alpha,
            method,
            minimal,
            conservative,
            rows,
            seed,
            replicates,
            elapsed,
        )

    screened = _exact_screen(points, endpoint)
    if screened is not None:
        passes = [meets_target(row, endpoint, power, alpha, exact=True) for row in screened]
        minimal, conservative = minimal_and_conservative(values, passes)
        chosen = sorted({values.index(v) for v in (minimal, conservative) if v is not None})
        for index, row in zip(chosen, simulate(chosen), strict=True):
            screened[index] = row
        return search("exact", minimal, conservative, screened)
    simulated: dict[int, GridRow] = {}
    indices = _spread(range(len(points)), COARSE_POINTS)
    while indices:
        simulated.update(zip(indices, simulate(indices), strict=True))
        passing = {
            i: meets_target(row, endpoint, power, alpha, exact=False)
            for i, row in simulated.items()
        }
        indices = sorted(
            {
                i
                for low, high in _gaps(passing)
                for i in _spread(range(low + 1, high), REFINE_POINTS)
            }
        )
    order = sorted(simulated)
    minimal, conservative = minimal_and_conservative(
        [values[i] for i in order], [passing[i] for i in order]
    )
    return search("simulation", minimal, conservative, [simulated[i] for i in order])


def _exact_screen(points: Sequence[GridPoint], endpoint: str) -> list[GridRow] | None:
    """Exact values at every candidate, or None where one has none (the search simulates).

    The exact value of a rule that monitors its stage (``simon``, ``bayes``)
    assumes registration lasts until the stage's ``n`` are evaluable, whatever
    the enrollment: it is not used. Candidates are screened from the largest
    down (the engine's size limits bite there first) until one has no value.
    """
    spec = points[0].scenario.spec
    if rule_for(next(e.rule for e in spec.endpoints if e.id == endpoint)).monitors_stage:
        return None
    screened: list[GridRow] = []
    for point in reversed(points):
        (row,) = evaluate_grid([point], 0, 0, simulate=False, endpoint_ids=[endpoint])
        outcome = row.endpoints[endpoint]
        if outcome.power_exact is None or outcome.type1_error_exact is None:
            return None
        screened.append(row)
    return screened[::-1]


def _spread(indices: range, count: int) -> list[int]:
    """At most ``count`` of ``indices``, evenly spaced, first and last included."""
    if len(indices) <= count:
        return list(indices)
    return sorted({indices[round(j * (len(indices) - 1) / (count - 1))] for j in range(count)})


def _gaps(passing: dict[int, bool]) -> set[tuple[int, int]]:
    """Unsimulated stretches that hide the minimal or the conservative answer.

    Minimal: between the first passing point and the simulated point before it.
    Conservative: between the last failing point and the simulated point after it.
    """
    order = sorted(passing)
    gaps: set[tuple[int, int]] = set()
    first = next((i for i in order if passing[i]), None)
    if first is not None and first != order[0]:
        gaps.add((order[order.index(first) - 1], first))
    last = next((i for i in reversed(order) if not passing[i]), None)
    if last is not None and last != order[-1]:
        gaps.add((last, order[order.index(last) + 1]))
    return {(low, high) for low, high in gaps if high - low > 1}


def _counting(on_point: PointCallback | None) -> PointCallback | None:
    """A callback that counts points across several grid evaluations."""
    if on_point is None:
        return None
    done = 0

    def count(_: int) -> None:
        nonlocal done
        done += 1
        on_point(done)

    return count
