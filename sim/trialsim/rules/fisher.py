"""One-sided Fisher exact test of two independent groups, and its exact power.

The test conditions on the total number of responders ``t``: under H0 (equal
response rates) the experimental group's responders are hypergeometric, and
H0 is rejected when ``P(X >= x | t) <= alpha``. Probabilities come from
log-factorials, so the run's start-up stays free of scipy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from trialsim.rules.binomial import RELATIVE_TOLERANCE, binomial_pmf, log_factorials


@lru_cache(maxsize=65_536)
def critical_responders(experimental: int, control: int, alpha: float) -> np.ndarray:
    """Smallest experimental responder count that rejects H0, for each total.

    Parameters
    ----------
    experimental, control : int
        Patients in each group's denominator.
    alpha : float
        One-sided significance level.

    Returns
    -------
    ndarray of int, shape (experimental + control + 1,)
        Entry ``t``: reject when the experimental group has at least this many of
        the ``t`` responders; ``experimental + 1`` where no count rejects.
        Read-only.
    """
    total = experimental + control
    table = log_factorials(total)
    responders = np.arange(total + 1)[:, None]
    x = np.arange(experimental + 1)[None, :]
    y = responders - x
    possible = (y >= 0) & (y <= control)
    y = np.clip(y, 0, control)
    log_pmf = (
        table[experimental]
        - table[x]
        - table[experimental - x]
        + table[control]
        - table[y]
        - table[control - y]
        - (table[total] - table[responders] - table[total - responders])
    )
    pmf = np.where(possible, np.exp(log_pmf), 0.0)
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
    rejects = possible & (tail <= alpha * (1 + RELATIVE_TOLERANCE))
    critical = np.where(rejects.any(axis=1), rejects.argmax(axis=1), experimental + 1)
    critical.setflags(write=False)
    return critical


def fisher_rejects(
    experimental_responders: np.ndarray,
    experimental: np.ndarray,
    control_responders: np.ndarray,
    control: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Whether the one-sided Fisher test rejects H0, elementwise (e.g. per replicate).

    Parameters
    ----------
    experimental_responders, experimental : array_like of int
        Responders and denominator of the experimental group.
    control_responders, control : array_like of int
        The same for the control group.
    alpha : float

    Returns
    -------
    ndarray of bool
    """
    x, a, y, b = (
        np.asarray(v, dtype=np.int64)
        for v in (experimental_responders, experimental, control_responders, control)
    )
    rejects = np.zeros(x.shape, dtype=bool)
    pairs, which = np.unique(np.stack([a.ravel(), b.ravel()], axis=1), axis=0, return_inverse=True)
    which = which.reshape(x.shape)
    for k, (size_a, size_b) in enumerate(pairs.tolist()):
        member = which == k
        critical = critical_responders(size_a, size_b, alpha)
        rejects[member] = x[member] >= critical[x[member] + y[member]]
    return rejects


def fisher_rejection_probability(
    experimental: int, control: int, experimental_rate: float, control_rate: float, alpha: float
) -> float:
    """Exact probability that the test rejects, for fixed group sizes.

    Parameters
    ----------
    experimental, control : int
        Patients in each group's denominator.
    experimental_rate, control_rate : float
        True response probabilities (equal: type I error; else power).
    alpha : float
    """
    return rejection_given_counts(
        critical_responders(experimental, control, alpha),
        binomial_pmf(np.arange(experimental + 1), experimental, experimental_rate),
        binomial_pmf(np.arange(control + 1), control, control_rate),
    )


def rejection_given_counts(
    critical: np.ndarray, experimental_pmf: np.ndarray, control_pmf: np.ndarray
) -> float:
    """P(reject) given each group's responder distribution and the test's critical counts.

    Parameters
    ----------
    critical : ndarray of int
        From :func:`critical_responders` for the two group sizes.
    experimental_pmf, control_pmf : ndarray
        P(responders = x), x = 0..group size, for each group.
    """
    x = np.arange(len(experimental_pmf))[:, None]
    y = np.arange(len(control_pmf))[None, :]
    rejects = x >= critical[x + y]
    return float((np.outer(experimental_pmf, control_pmf) * rejects).sum())
