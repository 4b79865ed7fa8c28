"""A minimal numpy model of the 2005 trial's design: the vectorised limit, for comparison.

Owns the benchmark's lower bound: every random quantity of the 2005 design
(``scenarios/vk2_d3_2005.yaml``, after the abstract in the shared seed folder)
drawn for all replicates and patients at once as numpy arrays, and the three
endpoints decided by the exact binomial test, with no event queue, no schema,
no records and no summary. It is what a simulation of this design costs when
nothing but arrays is computed.

The design, as the scenario file writes it:

* 43 patients registered by a Poisson process of 1.8 a month, ramping up
  linearly over 6 months; registration closes at 60 months regardless;
* everyone takes VK2 for 16 weeks: drops out before the assessment with
  probability 0.20 (exponential time to dropout), is not evaluable at it with
  probability 0.15, else responds with probability 0.172 (0.05 in the null
  world);
* evaluable VK2 non-responders are re-registered to VK2 + D3 with probability
  0.83, for 16 weeks: dropout 0.30, not evaluable 0.20, response 0.364 (0.10 in
  the null world); responders continue to week 52;
* endpoints, each one-sided exact binomial at alpha 0.05: ``vk2_response``
  (responders among VK2-evaluable, p0 0.05), ``d3_rescue`` (responders among
  VK2 + D3-evaluable, p0 0.10) and ``overall`` (response to either, among
  VK2-evaluable, p0 0.10).

Left out because none changes a decision: screen failures, the RA/RCMD
subgroups (same rates in both), and the grade 1 skin rash (below the
discontinuation grade 3). Both worlds use the same random numbers, as
trialsim's do. The analysis week (last assessment, complete cutoff) is
computed too, so that the model returns a duration as well as decisions.

Usage: python benchmarks/minimal_numpy.py [REPLICATES] [SEED]
"""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

WEEKS_PER_MONTH = 365.25 / 12 / 7
PATIENTS = 43
RATE_PER_WEEK = 1.8 / WEEKS_PER_MONTH
RAMP_WEEKS = 6 * WEEKS_PER_MONTH
MAX_WEEKS = 60 * WEEKS_PER_MONTH
STAGE_WEEKS = 16.0
WORLDS = ("alternative", "null")
CHUNK_REPLICATES = 10_000


@dataclass(frozen=True)
class Stage:
    """One treatment stage of the 2005 design (probabilities per patient entering it)."""

    dropout: float
    not_evaluable: float
    response: float
    null_response: float
    entry: float


@dataclass(frozen=True)
class Endpoint:
    """One endpoint's exact binomial rule: reject H0 if P(X >= x | n, p0) <= alpha."""

    p0: float
    alpha: float


VK2 = Stage(dropout=0.20, not_evaluable=0.15, response=0.172, null_response=0.05, entry=1.0)
VK2_D3 = Stage(dropout=0.30, not_evaluable=0.20, response=0.364, null_response=0.10, entry=0.83)
ENDPOINTS = {
    "vk2_response": Endpoint(p0=0.05, alpha=0.05),
    "d3_rescue": Endpoint(p0=0.10, alpha=0.05),
    "overall": Endpoint(p0=0.10, alpha=0.05),
}


@dataclass(frozen=True)
class MinimalResult:
    """Rejection rates and mean analysis week of a run of the minimal numpy model.

    Attributes
    ----------
    replicates : int
        Simulated trials per world.
    rejections : dict of str to tuple of float
        Per endpoint id, the fraction of replicates rejecting H0 in the
        alternative and the null world.
    analysis_week_mean : tuple of float
        Mean week of the last assessment, alternative and null world.
    """

    replicates: int
    rejections: dict[str, tuple[float, float]]
    analysis_week_mean: tuple[float, float]


@functools.cache
def critical_values(p0: float, alpha: float, largest_n: int = PATIENTS) -> np.ndarray:
    """Smallest number of responders that rejects H0, for every denominator 0..largest_n.

    Parameters
    ----------
    p0 : float
        Response rate under H0.
    alpha : float
        One-sided level: reject if P(X >= x | n, p0) <= alpha.
    largest_n : int
        Largest denominator tabulated.

    Returns
    -------
    numpy.ndarray
        ``critical[n]`` is the smallest x with P(X >= x | n, p0) <= alpha, or
        n + 1 if no x qualifies. Exact rational arithmetic on the decimal values
        of p0 and alpha, so that ties are decided as the rule says.
    """
    p, level = Fraction(str(p0)), Fraction(str(alpha))
    critical = np.empty(largest_n + 1, dtype=np.int64)
    for n in range(largest_n + 1):
        tail, smallest = Fraction(0), n + 1
        for x in range(n, -1, -1):
            tail += math.comb(n, x) * p**x * (1 - p) ** (n - x)
            if tail > level:
                break
            smallest = x
        critical[n] = smallest
    return critical


def registration_weeks(epochs: np.ndarray) -> np.ndarray:
    """Registration weeks from the unit-rate Poisson epochs (inverse cumulative intensity).

    Parameters
    ----------
    epochs : numpy.ndarray
        Cumulative sums of standard exponential draws.

    Returns
    -------
    numpy.ndarray
        The weeks at which an accrual of ``RATE_PER_WEEK``, ramping linearly from 0
        over ``RAMP_WEEKS``, reaches each epoch.
    """
    ramp_mass = RATE_PER_WEEK * RAMP_WEEKS / 2
    on_ramp = np.sqrt(2 * RAMP_WEEKS * epochs / RATE_PER_WEEK)
    after_ramp = RAMP_WEEKS + (epochs - ramp_mass) / RATE_PER_WEEK
    return np.where(epochs <= ramp_mass, on_ramp, after_ramp)


def stage_outcomes(
    entered: np.ndarray, uniforms: np.ndarray, stage: Stage
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who is assessed, who is evaluable and who responds in one stage, in both worlds.

    Parameters
    ----------
    entered : numpy.ndarray of bool, shape (worlds, replicates, patients)
        Patients entering the stage.
    uniforms : numpy.ndarray, shape (3, replicates, patients)
        Uniform draws for the dropout time, non-evaluability and response,
        shared by both worlds.
    stage : Stage
        The stage's probabilities.

    Returns
    -------
    tuple of numpy.ndarray of bool
        Assessed (still on the stage at its end), evaluable, responded; each of
        shape (worlds, replicates, patients).
    """
    dropout_draw, not_evaluable_draw, response_draw = uniforms
    # Exponential time to dropout with P(D < weeks) = dropout: D < weeks iff the uniform
    # lies below the dropout probability, so the time itself is never needed.
    stays = dropout_draw >= stage.dropout
    assessed = entered & stays
    evaluable = assessed & (not_evaluable_draw >= stage.not_evaluable)
    rates = np.array([stage.response, stage.null_response])[:, None, None]
    responded = evaluable & (response_draw < rates)
    return assessed, evaluable, responded


def simulate_chunk(rng: np.random.Generator, replicates: int) -> dict[str, np.ndarray]:
    """Simulate ``replicates`` trials in both worlds: rejections and analysis weeks.

    Parameters
    ----------
    rng : numpy.random.Generator
        The random stream.
    replicates : int
        Trials in this chunk.

    Returns
    -------
    dict of str to numpy.ndarray
        Per endpoint id, a (worlds, replicates) boolean array of rejections; under
        ``"analysis_week"``, the (worlds, replicates) week of the last assessment.
    """
    shape = (replicates, PATIENTS)
    weeks = registration_weeks(np.cumsum(rng.standard_exponential(shape), axis=1))
    registered = np.broadcast_to(weeks <= MAX_WEEKS, (len(WORLDS), *shape))
    first_uniforms, entry_draw, second_uniforms = (
        rng.random((3, *shape)),
        rng.random(shape),
        rng.random((3, *shape)),
    )
    assessed_1, evaluable_1, responded_1 = stage_outcomes(registered, first_uniforms, VK2)
    entered_2 = evaluable_1 & ~responded_1 & (entry_draw < VK2_D3.entry)
    assessed_2, evaluable_2, responded_2 = stage_outcomes(entered_2, second_uniforms, VK2_D3)

    counts = {
        "vk2_response": (evaluable_1.sum(axis=2), responded_1.sum(axis=2)),
        "d3_rescue": (evaluable_2.sum(axis=2), responded_2.sum(axis=2)),
        "overall": (evaluable_1.sum(axis=2), (responded_1 | responded_2).sum(axis=2)),
    }
    decided: dict[str, np.ndarray] = {}
    for endpoint_id, (denominator, responders) in counts.items():
        rule = ENDPOINTS[endpoint_id]
        decided[endpoint_id] = responders >= critical_values(rule.p0, rule.alpha)[denominator]
    last_assessment = np.maximum(
        np.where(assessed_1, weeks + STAGE_WEEKS, 0.0),
        np.where(assessed_2, weeks + 2 * STAGE_WEEKS, 0.0),
    )
    decided["analysis_week"] = last_assessment.max(axis=2)
    return decided


def simulate(replicates: int, seed: int = 20051210) -> MinimalResult:
    """Simulate the 2005 design ``replicates`` times per world with numpy arrays only.

    Parameters
    ----------
    replicates : int
        Simulated trials per world.
    seed : int
        Seed of the random stream.

    Returns
    -------
    MinimalResult
        Rejection rates per endpoint and world, and the mean analysis week.

    Examples
    --------
    >>> result = simulate(2000, seed=1)
    >>> sorted(result.rejections)
    ['d3_rescue', 'overall', 'vk2_response']
    """
    rng = np.random.default_rng(seed)
    rejected = {endpoint_id: np.zeros(len(WORLDS)) for endpoint_id in ENDPOINTS}
    week_total = np.zeros(len(WORLDS))
    for start in range(0, replicates, CHUNK_REPLICATES):
        chunk = simulate_chunk(rng, min(CHUNK_REPLICATES, replicates - start))
        for endpoint_id in ENDPOINTS:
            rejected[endpoint_id] += chunk[endpoint_id].sum(axis=1)
        week_total += chunk["analysis_week"].sum(axis=1)
    return MinimalResult(
        replicates=replicates,
        rejections={
            endpoint_id: (float(count[0] / replicates), float(count[1] / replicates))
            for endpoint_id, count in rejected.items()
        },
        analysis_week_mean=(
            float(week_total[0] / replicates),
            float(week_total[1] / replicates),
        ),
    )


def main() -> None:
    """Run the model from the command line and print its time and rejection rates."""
    replicates = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20051210
    started = time.perf_counter()
    result = simulate(replicates, seed)
    elapsed = time.perf_counter() - started
    print(f"minimal numpy model: {replicates} replicates in {elapsed:.3f} s")
    for endpoint_id, (alternative, null) in result.rejections.items():
        print(f"  {endpoint_id:<13} power {alternative:.4f}  type I error {null:.4f}")
    print(f"  mean analysis week {result.analysis_week_mean[0]:.1f}")


if __name__ == "__main__":
    main()
