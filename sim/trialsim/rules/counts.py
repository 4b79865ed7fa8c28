"""The counts of one endpoint per replicate, as every decision reads them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GroupCounts:
    """What a decision reads of each replicate (arrays of one length).

    Attributes
    ----------
    responders, denominator : ndarray of int
        The endpoint's successes and denominator.
    stopped : ndarray of bool
        A look of the endpoint's own boundary table stopped the stage
        (for futility or efficacy); all False when it has no table.
    stopped_for_efficacy : ndarray of bool
        The look that stopped the stage found efficacy.
    control_responders, control_denominator : ndarray of int, optional
        The control group's counts, for an endpoint that compares two groups.
    """

    responders: np.ndarray
    denominator: np.ndarray
    stopped: np.ndarray
    stopped_for_efficacy: np.ndarray
    control_responders: np.ndarray | None = None
    control_denominator: np.ndarray | None = None
