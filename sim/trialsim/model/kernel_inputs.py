"""The compiled event loop's inputs: plan, draws and outcome as named tuples of arrays.

Owns :class:`KernelPlan` (built from a :class:`~trialsim.model.plan.TrialPlan`
by :func:`kernel_plan`, with each monitored stage's boundary table as arrays
of looks), :class:`KernelDraws` and :class:`KernelOutcome`, which
:mod:`trialsim.model.kernel` reads and fills. Named tuples of arrays are what
numba compiles to plain structures; this module itself does not import numba.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trialsim.model.plan import TrialPlan

NO_LIMIT = -1  # a look without that bound


class KernelPlan(NamedTuple):
    """The plan as arrays: per stage, per arm, and each monitored stage's looks.

    ``max_entries`` is the stage's cap (``NO_CAP`` when none); monitored
    stages have ``table_n`` planned evaluable patients, ``pause``, and
    ``n_looks`` looks at ``look_n`` evaluable patients with bounds
    ``look_futility`` / ``look_efficacy`` (``NO_LIMIT`` where absent).
    """

    next_stage: np.ndarray
    observed: np.ndarray
    max_entries: np.ndarray
    arm_first: np.ndarray
    arm_shares: np.ndarray
    monitored: np.ndarray
    table_n: np.ndarray
    pause: np.ndarray
    look_n: np.ndarray
    look_futility: np.ndarray
    look_efficacy: np.ndarray
    n_looks: np.ndarray
    continue_to: float


class KernelDraws(NamedTuple):
    """One replicate's draws in one world, arrays ``[stage, patient]``."""

    stay: np.ndarray
    evaluable: np.ndarray
    responds: np.ndarray
    accepts: np.ndarray


class KernelOutcome(NamedTuple):
    """One replicate's outcome arrays (the fields of :class:`~trialsim.model.outcome.TrialOutcome`
    but ``responded``), written in place."""

    entry_week: np.ndarray
    exit_week: np.ndarray
    off_week: np.ndarray
    arm: np.ndarray
    registration_week: np.ndarray
    stopped_early: np.ndarray
    stopped_for_efficacy: np.ndarray
    turned_away: np.ndarray
    overrun: np.ndarray


def kernel_plan(plan: TrialPlan) -> KernelPlan:
    """The plan as the arrays the compiled event loop reads."""
    tables = [None if stage.interim is None else stage.interim.table for stage in plan.stages]
    width = max([len(table.looks) for table in tables if table is not None] + [1])
    look_n = np.zeros((len(tables), width), np.int64)
    look_futility = np.full((len(tables), width), NO_LIMIT, np.int64)
    look_efficacy = np.full((len(tables), width), NO_LIMIT, np.int64)
    for s, table in enumerate(tables):
        for k, look in enumerate(table.looks if table is not None else ()):
            look_n[s, k] = look.n
            if look.futility_max is not None:
                look_futility[s, k] = look.futility_max
            if look.efficacy_min is not None:
                look_efficacy[s, k] = look.efficacy_min
    return KernelPlan(
        next_stage=np.array([stage.next_stage for stage in plan.stages], np.int64),
        observed=np.array([stage.observed for stage in plan.stages]),
        max_entries=np.array([stage.max_entries for stage in plan.stages], np.int64),
        arm_first=np.array([arm.first_stage for arm in plan.arms], np.int64),
        arm_shares=np.array([arm.share for arm in plan.arms]),
        monitored=np.array([table is not None for table in tables]),
        table_n=np.array([0 if table is None else table.n for table in tables], np.int64),
        pause=np.array(
            [stage.interim is not None and stage.interim.pause for stage in plan.stages]
        ),
        look_n=look_n,
        look_futility=look_futility,
        look_efficacy=look_efficacy,
        n_looks=np.array([0 if table is None else len(table.looks) for table in tables], np.int64),
        continue_to=float(plan.continue_to_weeks),
    )
