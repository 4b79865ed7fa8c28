"""BOP2's boundaries in counts (Zhou, Lee & Yuan 2017), vectorised over responders and designs.

Owns :func:`bop2_table` (one design's :class:`~trialsim.rules.table.BoundaryTable`)
and the arrays it and the design search (:mod:`trialsim.exact.bop2_design`)
share: the posterior P(p <= p0 | data), the futility cutoff
C(n_k) = 1 - lambda (n_k / N)^gamma, the futility maxima per look and the
final minima, for many (lambda, gamma) at once. Free of pydantic, so that
``trialsim design bop2`` starts quickly; the rule class is in
:mod:`trialsim.rules.bop2`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trialsim.rules.table import BoundaryTable, Look


def futility_cutoff(looks: np.ndarray, n: int, lam: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """BOP2's futility cutoff C(n_k) = 1 - lambda (n_k / n)^gamma, broadcast.

    Parameters
    ----------
    looks : array_like of int
        Evaluable patients n_k at the looks.
    n : int
        Evaluable patients N at the final analysis.
    lam, gamma : array_like of float
        lambda in (0, 1) and gamma >= 0 (dimensionless).

    Returns
    -------
    ndarray
        The cutoff (a probability), shape of the broadcast inputs.
    """
    fraction = np.asarray(looks, dtype=float) / n
    return 1.0 - np.asarray(lam, dtype=float) * fraction ** np.asarray(gamma, dtype=float)


def posterior_at_most(
    p0: float, prior: tuple[float, float], responders: np.ndarray, trials: int
) -> np.ndarray:
    """P(p <= p0 | responders of trials) under a Beta(a, b) prior, elementwise.

    Falls as ``responders`` grows, so each stopping region is a prefix 0..f.
    """
    from scipy import special

    a, b = prior
    x = np.asarray(responders, dtype=float)
    return special.betainc(a + x, b + trials - x, p0)


def futility_maxima(
    p0: float,
    prior: tuple[float, float],
    n: int,
    looks: Sequence[int],
    lam: np.ndarray,
    gamma: np.ndarray,
) -> np.ndarray:
    """Largest responder count that stops at each look (-1: none), for many (lambda, gamma).

    Parameters
    ----------
    p0 : float
        Response rate under H0 (proportion).
    prior : (float, float)
        Beta prior (a, b).
    n : int
        Evaluable patients at the final analysis.
    looks : sequence of int
        Evaluable patients at the looks, increasing, below ``n``.
    lam, gamma : ndarray
        Broadcast against each other (shape S).

    Returns
    -------
    ndarray of int, shape S + (len(looks),)
    """
    lam, gamma = np.broadcast_arrays(np.asarray(lam, dtype=float), np.asarray(gamma, dtype=float))
    maxima = np.empty(lam.shape + (len(looks),), dtype=np.int64)
    for k, seen in enumerate(looks):
        below = posterior_at_most(p0, prior, np.arange(seen + 1), seen)
        cutoff = futility_cutoff(np.asarray(seen), n, lam, gamma)
        maxima[..., k] = (below > cutoff[..., None]).sum(axis=-1) - 1
    return maxima


def final_minima(p0: float, prior: tuple[float, float], n: int, lam: np.ndarray) -> np.ndarray:
    """Fewest responders of ``n`` with P(p > p0 | data) >= lambda (n + 1: none), per lambda."""
    above = 1.0 - posterior_at_most(p0, prior, np.arange(n + 1), n)
    return (
        (above[None, :] < np.ravel(np.asarray(lam, dtype=float))[:, None])
        .sum(axis=1)
        .reshape(np.shape(lam))
    )


def bop2_table(
    p0: float,
    n: int,
    looks: Sequence[int],
    lam: float,
    gamma: float,
    prior: tuple[float, float] | None = None,
) -> BoundaryTable:
    """The boundary table of a BOP2 design with one endpoint (binary response).

    Parameters
    ----------
    p0 : float
        Response rate under H0 (proportion).
    n : int
        Evaluable patients at the final analysis.
    looks : sequence of int
        Evaluable patients at the interim looks, increasing, below ``n``.
    lam, gamma : float
        BOP2's lambda in (0, 1) and gamma >= 0.
    prior : (float, float), optional
        Beta prior (a, b); default Beta(p0, 1 - p0).

    Returns
    -------
    BoundaryTable
        At each look stop if at most ``futility_max`` respond (None: never);
        reject H0 at ``n`` with at least ``final_min``.

    Examples
    --------
    >>> table = bop2_table(0.2, 40, [10, 20, 30], 0.95, 1.0)
    >>> [look.futility_max for look in table.looks], table.final_min
    ([1, 4, 7], 13)
    """
    beta_prior = (p0, 1.0 - p0) if prior is None else prior
    maxima = futility_maxima(p0, beta_prior, n, looks, np.asarray(lam), np.asarray(gamma))
    final_min = int(final_minima(p0, beta_prior, n, np.asarray(lam)))
    return BoundaryTable(
        tuple(
            Look(seen, None if most < 0 else int(most))
            for seen, most in zip(looks, maxima, strict=True)
        ),
        n,
        final_min,
    )
