"""Exact binomial building blocks: critical values and Clopper-Pearson limits."""

from __future__ import annotations

import numpy as np
from scipy import special


def upper_tail(successes: np.ndarray, trials: np.ndarray, rate: float | np.ndarray) -> np.ndarray:
    """P(X >= successes) for X ~ Binomial(trials, rate), elementwise.

    Parameters
    ----------
    successes, trials : array_like of int
    rate : float or array_like
        Success probability in [0, 1].
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    rate = np.asarray(rate, dtype=float)
    with np.errstate(invalid="ignore"):
        tail = special.betainc(np.maximum(x, 1e-300), np.maximum(n - x + 1, 1e-300), rate)
    tail = np.where(x <= 0, 1.0, tail)
    return np.where(x > n, 0.0, tail)


def binomial_pmf(successes: np.ndarray, trials: int, rate: float) -> np.ndarray:
    """P(X = successes) for X ~ Binomial(trials, rate), elementwise."""
    x = np.asarray(successes, dtype=float)
    if rate <= 0.0 or rate >= 1.0:
        return (x == (trials if rate >= 1.0 else 0)).astype(float)
    log_pmf = (
        special.gammaln(trials + 1)
        - special.gammaln(x + 1)
        - special.gammaln(trials - x + 1)
        + x * np.log(rate)
        + (trials - x) * np.log1p(-rate)
    )
    return np.exp(log_pmf)


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
    n = np.arange(max_trials + 1)
    table = np.empty(max_trials + 1, dtype=np.int64)
    for trials in n:
        x = np.arange(trials + 2)
        rejects = upper_tail(x, np.full_like(x, trials), p0) <= alpha
        table[trials] = int(np.argmax(rejects))
    return table


def clopper_pearson(
    successes: np.ndarray, trials: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) two-sided confidence limits for a binomial rate.

    Parameters
    ----------
    successes, trials : array_like of int
        ``trials`` must be positive.
    level : float
        Confidence level.

    Returns
    -------
    lower, upper : ndarray
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(x > 0, special.betaincinv(np.maximum(x, 1), n - x + 1, tail), 0.0)
        upper = np.where(x < n, special.betaincinv(x + 1, np.maximum(n - x, 1), 1 - tail), 1.0)
    return lower, upper
