"""Seeding many replicates' PCG64 generators at once, as numpy's SeedSequence does one by one.

Owns :func:`pcg64_states`: the 128-bit state and increment that
``numpy.random.PCG64(numpy.random.SeedSequence(seed, spawn_key=(r,)))``
starts from, for a whole range of replicates ``r``. numpy's SeedSequence
hashes its entropy into a pool with 32-bit multiply-xorshift steps whose
constants follow the number of steps only, so the same steps run on an array
of replicates at once; PCG64 then seeds its linear congruential generator
from four 64-bit words of the pool. Building one SeedSequence and one PCG64
per replicate costs about 25 µs in Python objects; this costs well under
one (``tests/test_model.py`` checks bit-identity against numpy).
The algorithm is that of numpy's ``bit_generator.pyx`` (O'Neill's
``seed_seq_fe``) and ``pcg64.c``.
"""

from __future__ import annotations

import numpy as np

POOL_SIZE = 4
INIT_A = 0x43B0D7E5
MULT_A = 0x931E8875
INIT_B = 0x8B51F9DD
MULT_B = 0x58F38DED
MIX_MULT_L = 0xCA01F9DD
MIX_MULT_R = 0x4973F715
XSHIFT = 16
MASK32 = 0xFFFFFFFF
PCG64_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645
MASK128 = (1 << 128) - 1


def _words32(value: int) -> list[int]:
    """A non-negative integer as little-endian 32-bit words (0 is one word)."""
    words = [value & MASK32]
    value >>= 32
    while value:
        words.append(value & MASK32)
        value >>= 32
    return words


class _Hash:
    """The multiply-xorshift hash whose constant advances with each use."""

    def __init__(self, initial: int, multiplier: int):
        self.constant = initial
        self.multiplier = multiplier

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = value ^ np.uint32(self.constant)
        self.constant = (self.constant * self.multiplier) & MASK32
        value = value * np.uint32(self.constant)
        return value ^ (value >> np.uint32(XSHIFT))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = np.uint32(MIX_MULT_L) * x - np.uint32(MIX_MULT_R) * y
    return result ^ (result >> np.uint32(XSHIFT))


def _pools(seed: int, replicates: np.ndarray, spawn_words: int) -> list[np.ndarray]:
    """SeedSequence(seed, spawn_key=(r,)).pool for replicates of ``spawn_words`` 32-bit words:
    4 arrays of uint32."""
    run_words = _words32(seed)
    run_words += [0] * (POOL_SIZE - len(run_words))
    entropy = [np.full(len(replicates), word, np.uint32) for word in run_words]
    entropy += [
        ((replicates >> np.uint64(32 * k)) & np.uint64(MASK32)).astype(np.uint32)
        for k in range(spawn_words)
    ]
    hash_a = _Hash(INIT_A, MULT_A)
    pool = [hash_a(entropy[i]) for i in range(POOL_SIZE)]
    for source in range(POOL_SIZE):
        for target in range(POOL_SIZE):
            if source != target:
                pool[target] = _mix(pool[target], hash_a(pool[source]))
    for source in range(POOL_SIZE, len(entropy)):
        for target in range(POOL_SIZE):
            pool[target] = _mix(pool[target], hash_a(entropy[source]))
    return pool


def pcg64_states(seed: int, replicates: np.ndarray) -> list[tuple[int, int]]:
    """The (state, increment) of each replicate's PCG64 generator.

    Parameters
    ----------
    seed : int
        Base seed of the run (non-negative).
    replicates : ndarray of int
        Replicate indices (non-negative).

    Returns
    -------
    list of (int, int)
        What ``numpy.random.PCG64(numpy.random.SeedSequence(seed,
        spawn_key=(r,))).state["state"]`` holds, as ``state`` and ``inc``.
    """
    replicates = np.asarray(replicates, dtype=np.uint64)
    # A spawn key's 32-bit words: 1 below 2**32, 2 below 2**64.
    spawn_words = np.where(replicates >> np.uint64(32), 2, 1)
    states: list[tuple[int, int]] = [(0, 0)] * len(replicates)
    for words in np.unique(spawn_words).tolist():
        where = np.flatnonzero(spawn_words == words)
        for index, state in zip(
            where.tolist(), _states(seed, replicates[where], words), strict=True
        ):
            states[index] = state
    return states


def _states(seed: int, replicates: np.ndarray, spawn_words: int) -> list[tuple[int, int]]:
    with np.errstate(over="ignore"):
        pool = _pools(seed, replicates, spawn_words)
        hash_b = _Hash(INIT_B, MULT_B)
        # Eight 32-bit words, cycling over the pool, make four 64-bit words (little-endian).
        words32 = [hash_b(pool[i % POOL_SIZE]).astype(np.uint64) for i in range(8)]
    words64 = [(words32[2 * k] | (words32[2 * k + 1] << np.uint64(32))).tolist() for k in range(4)]
    states = []
    # pcg64_set_seed: 128-bit seed and sequence from two words each; srandom: two LCG steps.
    for seed_high, seed_low, inc_high, inc_low in zip(*words64, strict=True):
        increment = (((inc_high << 64) | inc_low) << 1 | 1) & MASK128
        state = (increment + ((seed_high << 64) | seed_low)) & MASK128
        states.append(((state * PCG64_MULTIPLIER + increment) & MASK128, increment))
    return states
