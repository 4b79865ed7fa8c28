"""A minimal hand-written SimPy model of the 2005 trial's events, for comparison.

Textbook style: a registration process with Poisson arrivals (6-month linear
ramp), and one SimPy process per patient and world that waits out each stage
(dropout, assessment), responds or not, and is re-registered to VK2 + D3. It
counts responders per stage and decides the scenario's three endpoints
(``vk2_response``, ``d3_rescue``, ``overall``) by the exact binomial test at
each replicate's own number of evaluable patients. No schema, no records, no
summary: the least a simulation of these events must do.

``simulate`` runs it in this process (``jobs=1``) or on a process pool;
``benchmarks/bench.py`` times it in-process.

Usage: python benchmarks/minimal_simpy.py REPLICATES JOBS
"""

from __future__ import annotations

import functools
import math
import sys
import time
from fractions import Fraction
from multiprocessing import Pool

import numpy as np
import simpy

WEEKS_PER_MONTH = 365.25 / 12 / 7
PATIENTS, RATE, RAMP = 43, 1.8 / WEEKS_PER_MONTH, 6 * WEEKS_PER_MONTH
WEEKS = 16.0
STAGES = (  # dropout, not evaluable, response (alternative), response (null), entry
    (0.20, 0.15, 0.172, 0.05, 1.0),
    (0.30, 0.20, 0.364, 0.10, 0.83),
)
ENDPOINTS = (  # p0, alpha of vk2_response, d3_rescue, overall (all exact binomial)
    (0.05, 0.05),
    (0.10, 0.05),
    (0.10, 0.05),
)


@functools.cache
def critical_value(n: int, p0: float, alpha: float) -> int:
    """Smallest x with P(X >= x | n, p0) <= alpha (n + 1 if none), in exact arithmetic."""
    p, level, tail = Fraction(str(p0)), Fraction(str(alpha)), Fraction(0)
    for x in range(n, -1, -1):
        tail += math.comb(n, x) * p**x * (1 - p) ** (n - x)
        if tail > level:
            return x + 1
    return 0


def patient(env, rng, world, counts):
    for stage, (dropout, not_evaluable, response, null, entry) in enumerate(STAGES):
        if stage > 0 and rng.random() >= entry:
            return
        stay = rng.exponential(WEEKS / -math.log1p(-dropout))
        yield env.timeout(min(stay, WEEKS))
        if stay < WEEKS or rng.random() < not_evaluable:
            return
        counts[world][stage][0] += 1
        if rng.random() < (response if world == 0 else null):
            counts[world][stage][1] += 1
            yield env.timeout(52.0 - 16.0 * (stage + 1))
            return


def registration(env, rng, counts):
    epoch = 0.0
    for _ in range(PATIENTS):
        epoch += rng.exponential()
        ramp_mass = RATE * RAMP / 2
        week = (
            math.sqrt(2 * RAMP * epoch / RATE)
            if epoch <= ramp_mass
            else RAMP + (epoch - ramp_mass) / RATE
        )
        yield env.timeout(week - env.now)
        for world in (0, 1):
            env.process(patient(env, rng, world, counts))


def replicate(seed: int) -> tuple[int, ...]:
    """One simulated trial: 0/1 rejections of the three endpoints, alternative then null."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    counts = [[[0, 0], [0, 0]], [[0, 0], [0, 0]]]  # [world][stage][evaluable, responders]
    env.process(registration(env, rng, counts))
    env.run()
    decisions = []
    for world in (0, 1):
        (evaluable_1, responders_1), (evaluable_2, responders_2) = counts[world]
        tested = ((evaluable_1, responders_1), (evaluable_2, responders_2))
        tested += ((evaluable_1, responders_1 + responders_2),)
        for (n, x), (p0, alpha) in zip(tested, ENDPOINTS, strict=True):
            decisions.append(int(x >= critical_value(n, p0, alpha)))
    return tuple(decisions)


def simulate(replicates: int, jobs: int = 1) -> np.ndarray:
    """Rejection rates of ``replicates`` trials (replicate i seeded with i).

    Parameters
    ----------
    replicates : int
        Simulated trials per world.
    jobs : int
        1 runs in this process; more runs on a process pool of that size.

    Returns
    -------
    numpy.ndarray
        Six rejection rates: vk2_response, d3_rescue, overall in the alternative
        world, then the same in the null world.
    """
    if jobs == 1:
        results = [replicate(seed) for seed in range(replicates)]
    else:
        with Pool(jobs) as pool:
            results = pool.map(replicate, range(replicates), chunksize=250)
    return np.mean(results, axis=0)


def main() -> None:
    replicates, jobs = int(sys.argv[1]), int(sys.argv[2])
    started = time.perf_counter()
    rejected = simulate(replicates, jobs)
    print(
        f"minimal SimPy model: {replicates} replicates in {time.perf_counter() - started:.2f} s; "
        f"rejection rates {rejected.round(3).tolist()}"
    )


if __name__ == "__main__":
    main()
