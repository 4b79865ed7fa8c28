"""The BOP2 design search (Zhou, Lee & Yuan 2017): the (lambda, gamma) with the highest power.

Owns :func:`find_bop2_design` and :func:`bop2_design` (one given lambda and
gamma) and their result :class:`Bop2Design`. For every (lambda, gamma) of the
grid the boundary table is computed at once (vectorised, from the posterior
probabilities of :mod:`trialsim.rules.bop2`); many pairs share a table, and
each distinct table's exact characteristics (its enumeration,
:meth:`~trialsim.rules.table.BoundaryTable.characteristics`) are computed once.
The design kept has type I error <= alpha at p0 and the highest power at p1,
ties going to the smaller lambda, then the smaller gamma.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trialsim.exact.designs import DesignError
from trialsim.rules.bop2_boundaries import bop2_table, final_minima, futility_maxima
from trialsim.rules.table import BoundaryTable, Look, TableCharacteristics

DEFAULT_LAMBDAS = tuple(np.round(np.arange(50, 100) / 100, 2).tolist())
"""lambda = 0.50, 0.51, ..., 0.99."""
DEFAULT_GAMMAS = tuple(np.round(np.arange(0, 101) / 100, 2).tolist())
"""gamma = 0, 0.01, ..., 1."""
ALPHA_TOLERANCE = 1e-12  # a type I error equal to alpha up to rounding meets it


@dataclass(frozen=True)
class Bop2Design:
    """A BOP2 design and its exact characteristics.

    Attributes
    ----------
    lam, gamma : float
        BOP2's lambda and gamma.
    table : BoundaryTable
        Stop at look k with at most ``table.looks[k].futility_max`` responders;
        reject H0 with at least ``table.final_min`` of ``table.n``.
    null, alternative : TableCharacteristics
        Exact characteristics at p0 and p1: ``rejection`` is the type I error
        and the power, ``early_termination`` the early-stop probability,
        ``expected_n`` the expected number of evaluable patients.
    distinct_tables : int
        Distinct boundary tables evaluated by the search (1 for a given design).
    """

    lam: float
    gamma: float
    table: BoundaryTable
    null: TableCharacteristics
    alternative: TableCharacteristics
    distinct_tables: int = 1

    @property
    def alpha(self) -> float:
        """Type I error: P(reject H0) at p0."""
        return self.null.rejection

    @property
    def power(self) -> float:
        """P(reject H0) at p1."""
        return self.alternative.rejection

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (futility maxima: -1 where a look never stops)."""
        return {
            "lambda": self.lam,
            "gamma": self.gamma,
            "looks": [look.n for look in self.table.looks],
            "futility_max": [
                -1 if look.futility_max is None else look.futility_max for look in self.table.looks
            ],
            "n": self.table.n,
            "final_min": self.table.final_min,
            "alpha": self.alpha,
            "power": self.power,
            "early_stop_null": self.null.early_termination,
            "early_stop_alternative": self.alternative.early_termination,
            "expected_n_null": self.null.expected_n,
            "expected_n_alternative": self.alternative.expected_n,
            "distinct_tables": self.distinct_tables,
        }


def bop2_design(
    p0: float,
    p1: float,
    n: int,
    looks: Sequence[int],
    lam: float,
    gamma: float,
    prior: tuple[float, float] | None = None,
) -> Bop2Design:
    """The boundaries and exact characteristics of one BOP2 design.

    Parameters
    ----------
    p0, p1 : float
        Response rate (proportion) under H0 and under the alternative.
    n : int
        Evaluable patients at the final analysis.
    looks : sequence of int
        Evaluable patients at the interim looks, increasing, below ``n``.
    lam, gamma : float
        BOP2's lambda in (0, 1) and gamma in [0, 1].
    prior : (float, float), optional
        Beta prior (a, b); default Beta(p0, 1 - p0).

    Returns
    -------
    Bop2Design

    Raises
    ------
    DesignError
        If the rates, looks, lambda or gamma are out of range.

    Examples
    --------
    >>> design = bop2_design(0.2, 0.4, 40, [10, 20, 30], 0.95, 1.0)
    >>> design.table.final_min, round(design.alpha, 4), round(design.power, 4)
    (13, 0.038, 0.832)
    """
    _check_design(p0, p1, n, looks, [lam], [gamma])
    table = bop2_table(p0, n, looks, lam, gamma, prior)
    return Bop2Design(lam, gamma, table, table.characteristics(p0), table.characteristics(p1))


def find_bop2_design(
    p0: float,
    p1: float,
    n: int,
    looks: Sequence[int],
    alpha: float = 0.10,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    gammas: Sequence[float] = DEFAULT_GAMMAS,
    prior: tuple[float, float] | None = None,
) -> Bop2Design:
    """The BOP2 design of the grid with the highest power and type I error <= ``alpha``.

    Parameters
    ----------
    p0, p1 : float
        Response rate (proportion) under H0 and under the alternative, p0 < p1.
    n : int
        Evaluable patients at the final analysis.
    looks : sequence of int
        Evaluable patients at the interim looks, increasing, below ``n``.
    alpha : float
        Largest type I error allowed.
    lambdas, gammas : sequence of float
        The grid searched (default 0.50..0.99 and 0..1, steps of 0.01).
    prior : (float, float), optional
        Beta prior (a, b); default Beta(p0, 1 - p0).

    Returns
    -------
    Bop2Design
        Ties in power go to the smaller lambda, then the smaller gamma.

    Raises
    ------
    DesignError
        If an input is out of range or no design of the grid has type I error <= alpha.

    Examples
    --------
    >>> design = find_bop2_design(0.2, 0.4, 40, [10, 20, 30], alpha=0.10)
    >>> design.lam, design.gamma, design.table.final_min
    (0.86, 0.92, 12)
    """
    _check_design(p0, p1, n, looks, lambdas, gammas)
    if not 0 < alpha < 1:
        raise DesignError(f"alpha must lie in (0, 1), got {alpha}", "open_unit_interval")
    beta_prior = (p0, 1.0 - p0) if prior is None else prior
    lam_grid, gamma_grid = np.meshgrid(
        np.asarray(lambdas, dtype=float), np.asarray(gammas, dtype=float), indexing="ij"
    )
    # One row per (lambda, gamma), lambda-major: futility maxima per look, then the final minimum.
    rows = np.concatenate(
        [
            futility_maxima(p0, beta_prior, n, looks, lam_grid, gamma_grid).reshape(
                lam_grid.size, len(looks)
            ),
            final_minima(p0, beta_prior, n, lam_grid).reshape(-1, 1),
        ],
        axis=1,
    )
    distinct, which = np.unique(rows, axis=0, return_inverse=True)
    tables = [_table(row, n, looks) for row in distinct]
    size = np.array([table.characteristics(p0).rejection for table in tables])
    power = np.array([table.characteristics(p1).rejection for table in tables])
    feasible = size <= alpha * (1 + ALPHA_TOLERANCE)
    if not feasible.any():
        raise DesignError(
            f"no (lambda, gamma) of the grid keeps the type I error <= {alpha}", "no_design"
        )
    # First pair (lambda-major order) reaching the best power among feasible tables.
    best_power = power[feasible].max()
    best = np.flatnonzero(feasible & (power == best_power))
    pair = int(np.flatnonzero(np.isin(which.ravel(), best))[0])
    table = tables[int(which.ravel()[pair])]
    return Bop2Design(
        float(lam_grid.ravel()[pair]),
        float(gamma_grid.ravel()[pair]),
        table,
        table.characteristics(p0),
        table.characteristics(p1),
        len(tables),
    )


def _table(row: np.ndarray, n: int, looks: Sequence[int]) -> BoundaryTable:
    """The boundary table of one search row (futility maxima, then the final minimum)."""
    return BoundaryTable(
        tuple(
            Look(seen, None if most < 0 else int(most))
            for seen, most in zip(looks, row[:-1], strict=True)
        ),
        n,
        int(row[-1]),
    )


def _check_design(
    p0: float,
    p1: float,
    n: int,
    looks: Sequence[int],
    lambdas: Sequence[float],
    gammas: Sequence[float],
) -> None:
    if not 0 < p0 < p1 < 1:
        raise DesignError(f"need 0 < p0 < p1 < 1, got p0 = {p0}, p1 = {p1}", "rates_order")
    if n < 2 or not looks:
        raise DesignError(f"need n >= 2 and at least one look, got n = {n}", "looks")
    if (
        any(b <= a for a, b in zip(looks, looks[1:], strict=False))
        or looks[0] < 1
        or (looks[-1] >= n)
    ):
        raise DesignError(
            f"looks must increase from 1 and stay below n = {n}, got {list(looks)}", "looks"
        )
    if len(lambdas) == 0 or not all(0 < lam < 1 for lam in lambdas):
        raise DesignError(f"lambda must lie in (0, 1), got {list(lambdas)}", "lambda_range")
    if len(gammas) == 0 or not all(0 <= gamma <= 1 for gamma in gammas):
        raise DesignError(f"gamma must lie in [0, 1], got {list(gammas)}", "gamma_range")
