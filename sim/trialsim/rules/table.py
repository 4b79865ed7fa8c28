"""The boundary table: what every sequential single-arm rule compiles to.

A table lists the looks (after ``n_k`` evaluable patients: stop for futility
if at most ``futility_max`` responded, stop and reject H0 if at least
``efficacy_min`` responded, either optional) and the final analysis (reject H0
if at least ``final_min`` of ``n`` responded). The simulation, the exact
engine, the report and the figures all read this one object; its exact
characteristics come from enumerating the responders look by look, as
gsDesign's ``gsBinomialExact`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from trialsim.rules.binomial import binomial_pmf
from trialsim.rules.counts import GroupCounts

LookDecision = Literal["continue", "futility", "efficacy"]


@dataclass(frozen=True)
class Look:
    """One interim analysis of a boundary table.

    Attributes
    ----------
    n : int
        Evaluable patients (assessed) when the look is read.
    futility_max : int or None
        Stop for futility if at most this many responded (None: never).
    efficacy_min : int or None
        Stop and reject H0 if at least this many responded (None: never).
    """

    n: int
    futility_max: int | None = None
    efficacy_min: int | None = None

    def describe(self) -> str:
        """The look in words, e.g. 'stop the stage if at most 1 of the first 10 ... respond'."""
        first = f"the first {self.n} evaluable patients"
        stops = []
        if self.futility_max is not None:
            stops.append(f"stop the stage if at most {self.futility_max} of {first} respond")
        if self.efficacy_min is not None:
            stops.append(
                f"stop the stage and reject H0 if at least {self.efficacy_min} of {first} respond"
            )
        return "; ".join(stops) or f"look at {first} without stopping"

    def decision(self, responders: int) -> LookDecision:
        """What the look decides with ``responders`` of its ``n`` patients."""
        if self.futility_max is not None and responders <= self.futility_max:
            return "futility"
        if self.efficacy_min is not None and responders >= self.efficacy_min:
            return "efficacy"
        return "continue"


@dataclass(frozen=True)
class TableCharacteristics:
    """Exact operating characteristics of a boundary table at one response rate.

    Attributes
    ----------
    rejection : float
        P(reject H0), at a look for efficacy or at the final analysis.
    early_futility, early_efficacy : float
        P(a look stops for futility), P(a look stops for efficacy).
    expected_n : float
        Expected number of evaluable patients when the stage ends.
    """

    rejection: float
    early_futility: float
    early_efficacy: float
    expected_n: float

    @property
    def early_termination(self) -> float:
        """P(a look stops the stage), for futility or efficacy."""
        return self.early_futility + self.early_efficacy


@dataclass(frozen=True)
class BoundaryTable:
    """Looks and final analysis of a single-arm rule, in counts of responders.

    Attributes
    ----------
    looks : tuple of Look
        Interim analyses, with ``n`` increasing and below the final ``n``.
    n : int
        Evaluable patients at the final analysis.
    final_min : int
        Reject H0 at the final analysis with at least this many responders.

    Examples
    --------
    Simon's optimal design for p0 = 0.10, p1 = 0.30 (r1/n1 = 1/10, r/n = 5/29):

    >>> table = BoundaryTable((Look(10, futility_max=1),), n=29, final_min=6)
    >>> c = table.characteristics(0.10)
    >>> round(c.rejection, 4), round(c.early_termination, 3), round(c.expected_n, 1)
    (0.0471, 0.736, 15.0)
    """

    looks: tuple[Look, ...]
    n: int
    final_min: int

    @property
    def table(self) -> BoundaryTable:
        """The table itself: its looks govern the endpoint's stage."""
        return self

    def rejects(self, counts: GroupCounts) -> np.ndarray:
        """Reject H0 when a look stopped for efficacy, or, not stopped, with ``final_min``."""
        return counts.stopped_for_efficacy | (
            ~counts.stopped & (counts.responders >= self.final_min)
        )

    def rejection_probability(self, sizes: np.ndarray, rates: tuple[float, ...]) -> float:
        """P(reject H0) at ``rates[0]``; the stage runs to ``n`` evaluable, whatever ``sizes``."""
        return self.characteristics(rates[0]).rejection

    def boundary(self, max_denominator: int) -> np.ndarray:
        """``final_min`` at every denominator 0..max_denominator (unless a look stopped)."""
        return np.full(max_denominator + 1, self.final_min)

    def boundary_label(self) -> str:
        """Legend of the final boundary."""
        return f"reject with at least {self.final_min} responders (unless stopped)"

    def describe(self) -> str:
        """The looks and the final analysis in words.

        Examples
        --------
        >>> print(BoundaryTable((Look(10, futility_max=1),), n=29, final_min=6).describe())
        stop the stage if at most 1 of the first 10 evaluable patients respond; \
reject H0 if at least 6 of 29 respond
        """
        words = [look.describe() for look in self.looks]
        words.append(f"reject H0 if at least {self.final_min} of {self.n} respond")
        return "; ".join(words)

    def characteristics(self, rate: float) -> TableCharacteristics:
        """Exact characteristics when each evaluable patient responds with ``rate``."""
        # mass[x]: probability of x responders so far with the stage still running
        mass = np.ones(1)
        seen = 0
        futility = efficacy = expected_n = 0.0
        for look in self.looks:
            mass = np.convolve(
                mass, binomial_pmf(np.arange(look.n - seen + 1), look.n - seen, rate)
            )
            seen = look.n
            if look.futility_max is not None:
                stop = float(mass[: look.futility_max + 1].sum())
                futility += stop
                expected_n += stop * look.n
                mass[: look.futility_max + 1] = 0.0
            if look.efficacy_min is not None:
                stop = float(mass[look.efficacy_min :].sum())
                efficacy += stop
                expected_n += stop * look.n
                mass[look.efficacy_min :] = 0.0
        mass = _add_patients(mass, self.n - seen, rate)
        return TableCharacteristics(
            rejection=efficacy + float(mass[self.final_min :].sum()),
            early_futility=futility,
            early_efficacy=efficacy,
            expected_n=expected_n + float(mass.sum()) * self.n,
        )


def _add_patients(mass: np.ndarray, patients: int, rate: float) -> np.ndarray:
    """Responder distribution after ``patients`` more, each responding with ``rate``."""
    return np.convolve(mass, binomial_pmf(np.arange(patients + 1), patients, rate))
