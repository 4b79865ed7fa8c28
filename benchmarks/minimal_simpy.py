"""A minimal hand-written SimPy model of the 2005 trial's events, for comparison.

Textbook style: a registration process with Poisson arrivals (6-month linear
ramp), and one SimPy process per patient and world that waits out each stage
(dropout, assessment), responds or not, and is re-registered to VK2 + D3. It
counts responders per stage and applies the exact binomial test. No schema,
no records, no summary: the least a simulation of these events must do.

Usage: python benchmarks/minimal_simpy.py REPLICATES JOBS
"""

from __future__ import annotations

import math
import sys
import time
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
CRITICAL_29 = 5


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


def replicate(seed: int) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    counts = [[[0, 0], [0, 0]], [[0, 0], [0, 0]]]
    env.process(registration(env, rng, counts))
    env.run()
    return tuple(int(counts[w][0][1] >= CRITICAL_29) for w in (0, 1))  # type: ignore[return-value]


def main() -> None:
    replicates, jobs = int(sys.argv[1]), int(sys.argv[2])
    started = time.perf_counter()
    with Pool(jobs) as pool:
        results = pool.map(replicate, range(replicates), chunksize=250)
    rejected = np.mean(results, axis=0)
    print(
        f"minimal SimPy model: {replicates} replicates in {time.perf_counter() - started:.2f} s; "
        f"rejection rates {rejected.round(3).tolist()}"
    )


if __name__ == "__main__":
    main()
