"""Exact binomial building blocks: probabilities, tails, critical values, coverage.

Computed from a table of log-factorials by direct summation, which is exact to
rounding for the sample sizes of phase II trials and keeps the run's start-up
free of scipy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BLOCK_CELLS = 2_000_000
# Tails are sums of rounded terms: a tail equal to alpha (e.g. n = 1, p0 = alpha)
# must still reject.
RELATIVE_TOLERANCE = 1e-12
NEGLIGIBLE_MASS = 1e-11  # outcomes less likely than this are left out of exact sums


def log_factorials(n_max: int) -> np.ndarray:
    """``log(k!)`` for k = 0..n_max (read-only array)."""
    return _log_factorial_table(max(1024, 1 << n_max.bit_length()))[: n_max + 1]


@lru_cache(maxsize=8)
def _log_factorial_table(size: int) -> np.ndarray:
    table = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, size)))])
    table.setflags(write=False)
    return table


def _log_pmf(k: np.ndarray, n: np.ndarray, rate: np.ndarray, table: np.ndarray) -> np.ndarray:
    """log P(X = k) for X ~ Binomial(n, rate), for 0 <= k <= n (broadcast)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        success = np.where(k == 0, 0.0, k * np.log(rate))
        failure = np.where(n - k == 0, 0.0, (n - k) * np.log1p(-rate))
    return table[n] - table[k] - table[n - k] + success + failure


def binomial_pmf(successes: np.ndarray, trials: int, rate: float) -> np.ndarray:
    """P(X = successes) for X ~ Binomial(trials, rate), elementwise.

    Parameters
    ----------
    successes : array_like of int
        Counts in 0..trials.
    trials : int
    rate : float
        Success probability in [0, 1].
    """
    k = np.asarray(successes, dtype=np.int64)
    return np.exp(_log_pmf(k, np.int64(trials), np.float64(rate), log_factorials(trials)))


def upper_tail(successes: np.ndarray, trials: np.ndarray, rate: float | np.ndarray) -> np.ndarray:
    """P(X >= successes) for X ~ Binomial(trials, rate), elementwise.

    Parameters
    ----------
    successes, trials : array_like of int
        Broadcast against each other and ``rate``.
    rate : float or array_like
        Success probability in [0, 1].

    Returns
    -------
    ndarray
        1 where ``successes <= 0``, 0 where ``successes > trials``.
    """
    x, n, p = np.broadcast_arrays(
        np.asarray(successes, dtype=np.int64),
        np.asarray(trials, dtype=np.int64),
        np.asarray(rate, dtype=float),
    )
    shape = x.shape
    x, n, p = x.ravel(), n.ravel(), p.ravel()
    tail = np.zeros(x.size)
    width = int(n.max(initial=0)) + 1
    table = log_factorials(width - 1)
    k = np.arange(width)[None, :]
    step = max(1, BLOCK_CELLS // width)
    for start in range(0, x.size, step):
        rows = slice(start, start + step)
        xs, ns, ps = x[rows, None], n[rows, None], p[rows, None]
        inside = (k >= xs) & (k <= ns)
        log_pmf = _log_pmf(np.minimum(k, ns), ns, ps, table)
        tail[rows] = np.where(inside, np.exp(log_pmf), 0.0).sum(axis=1)
    tail = np.where(x <= 0, 1.0, np.minimum(tail, 1.0))
    return tail.reshape(shape)


def critical_values(max_trials: int, p0: float, alpha: float) -> np.ndarray:
    """Smallest responder count that rejects H0: p <= p0, for each n.

    The one-sided exact test rejects when P(X >= x | n, p0) <= alpha.

    Parameters
    ----------
    max_trials : int
        Largest denominator needed.
    p0 : float
        Null response rate.
    alpha : float
        One-sided significance level.

    Returns
    -------
    ndarray of int, shape (max_trials + 1,)
        ``table[n]`` is the critical value for ``n``; ``n + 1`` when no count rejects.

    Examples
    --------
    >>> int(critical_values(29, 0.05, 0.05)[29])
    5
    """
    return _critical_values(int(max_trials), float(p0), float(alpha))


@lru_cache(maxsize=64)
def _critical_values(max_trials: int, p0: float, alpha: float) -> np.ndarray:
    """:func:`critical_values`, computed once per process for each design (read-only)."""
    table = np.empty(max_trials + 1, dtype=np.int64)
    for trials in range(max_trials + 1):
        pmf = binomial_pmf(np.arange(trials + 1), trials, p0)
        tails = np.append(np.cumsum(pmf[::-1])[::-1], 0.0)
        tails[0] = 1.0
        table[trials] = int(np.argmax(tails <= alpha * (1 + RELATIVE_TOLERANCE)))
    table.flags.writeable = False
    return table


def clopper_pearson_covers(
    successes: np.ndarray, trials: np.ndarray, rate: np.ndarray, level: float = 0.95
) -> np.ndarray:
    """Whether the exact (Clopper-Pearson) interval for x of n contains ``rate``.

    Uses the interval's definition as the set of rates not rejected by either
    one-sided exact test at (1 - level) / 2: the rate is inside unless
    P(X >= x | rate) or P(X <= x | rate) falls below that tail.

    Parameters
    ----------
    successes, trials : array_like of int
        ``trials`` must be positive.
    rate : array_like
        The rate to test, e.g. the true response rate of each replicate.
    level : float
        Confidence level.

    Returns
    -------
    ndarray of bool
    """
    x = np.asarray(successes, dtype=np.int64)
    n = np.asarray(trials, dtype=np.int64)
    p = np.asarray(rate, dtype=float)
    tail = (1 - level) / 2 * (1 - RELATIVE_TOLERANCE)
    above_lower = upper_tail(x, n, p) >= tail
    below_upper = upper_tail(n - x, n, 1.0 - p) >= tail
    return above_lower & below_upper


@lru_cache(maxsize=64)
def clopper_pearson_table(max_trials: int, rate: float, level: float = 0.95) -> np.ndarray:
    """:func:`clopper_pearson_covers` for every x of n up to ``max_trials``, at one rate.

    Returns
    -------
    ndarray of bool, shape (max_trials + 1, max_trials + 1), read-only
        ``table[n, x]``; rows are for n >= 1 and columns x <= n (the rest is False).
    """
    n, x = np.meshgrid(np.arange(max_trials + 1), np.arange(max_trials + 1), indexing="ij")
    valid = (n >= 1) & (x <= n)
    table = np.zeros(n.shape, dtype=bool)
    table[valid] = clopper_pearson_covers(x[valid], n[valid], np.full(valid.sum(), rate), level)
    table.flags.writeable = False
    return table
