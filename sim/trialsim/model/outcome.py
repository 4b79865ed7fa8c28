"""What a simulated trial returns: per-patient weeks and flags, per-stage counts.

Owns :class:`TrialOutcome` (one replicate in one world) and
:class:`OutcomeBatch` (consecutive replicates of one world, padded to the
plan's patients). Every driver of the model (event-driven, cohort, chunk)
fills these; the record maker reads them. Times are calendar weeks since
study start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrialOutcome:
    """What happened in one simulated trial (one replicate, one world).

    Arrays indexed ``[stage, patient]`` hold NaN / False where the patient
    never entered the stage. Times are calendar weeks since study start.

    Attributes
    ----------
    entry_week, exit_week : ndarray, shape (stages, n)
        ``n`` is the number of candidates who arrived before accrual stopped.
    responded : ndarray of bool, shape (stages, n)
    off_week : ndarray, shape (n,)
        When each registered patient finished the protocol (NaN if never registered).
    arm : ndarray of int, shape (n,)
        Index of the arm each patient was randomised to (-1 if never registered).
    registration_week : ndarray, shape (n,)
        Calendar week of each registration (NaN if never registered); later
        than the patient's pre-drawn week when a held registration turned
        earlier candidates away.
    turned_away : ndarray of int, shape (stages,)
        Entries refused because the stage was not admitting (cap, interim
        pause, planned number reached, or stopped); at a first stage, the
        candidates turned away while registration was held.
    stopped_early : ndarray of bool, shape (stages,)
        A look of the stage's boundary table stopped it.
    stopped_for_efficacy : ndarray of bool, shape (stages,)
        The look that stopped the stage rejected H0 (efficacy); False when it
        stopped for futility or did not stop.
    overrun : ndarray of int, shape (stages,)
        Patients admitted while the stage's interim analysis was pending.
    """

    entry_week: np.ndarray
    exit_week: np.ndarray
    responded: np.ndarray
    off_week: np.ndarray
    arm: np.ndarray
    registration_week: np.ndarray
    turned_away: np.ndarray
    stopped_early: np.ndarray
    stopped_for_efficacy: np.ndarray
    overrun: np.ndarray

    @property
    def registered(self) -> int:
        """Patients registered (and randomised)."""
        return int((self.arm >= 0).sum())


@dataclass(frozen=True)
class OutcomeBatch:
    """Outcomes of consecutive replicates in one world, padded to ``patients``.

    The fields are those of :class:`TrialOutcome` with a leading replicate
    axis. Padding (patients never registered) holds NaN weeks and False flags.
    """

    entry_week: np.ndarray
    exit_week: np.ndarray
    responded: np.ndarray
    off_week: np.ndarray
    arm: np.ndarray
    registration_week: np.ndarray
    turned_away: np.ndarray
    stopped_early: np.ndarray
    stopped_for_efficacy: np.ndarray
    overrun: np.ndarray

    @classmethod
    def empty(cls, count: int, stages: int, patients: int) -> OutcomeBatch:
        """A batch of ``count`` replicates in which nobody has entered any stage yet."""
        return cls(
            entry_week=np.full((count, stages, patients), np.nan),
            exit_week=np.full((count, stages, patients), np.nan),
            responded=np.zeros((count, stages, patients), dtype=bool),
            off_week=np.full((count, patients), np.nan),
            arm=np.full((count, patients), -1, dtype=np.int64),
            registration_week=np.full((count, patients), np.nan),
            turned_away=np.zeros((count, stages), dtype=np.int64),
            stopped_early=np.zeros((count, stages), dtype=bool),
            stopped_for_efficacy=np.zeros((count, stages), dtype=bool),
            overrun=np.zeros((count, stages), dtype=np.int64),
        )

    @classmethod
    def stack(cls, outcomes: Sequence[TrialOutcome], patients: int) -> OutcomeBatch:
        """Stack per-replicate outcomes, padding each to ``patients``."""
        batch = cls.empty(len(outcomes), len(outcomes[0].turned_away), patients)
        for i, outcome in enumerate(outcomes):
            n = outcome.entry_week.shape[1]
            batch.turned_away[i] = outcome.turned_away
            batch.stopped_early[i] = outcome.stopped_early
            batch.stopped_for_efficacy[i] = outcome.stopped_for_efficacy
            batch.overrun[i] = outcome.overrun
            batch.entry_week[i, :, :n] = outcome.entry_week
            batch.exit_week[i, :, :n] = outcome.exit_week
            batch.responded[i, :, :n] = outcome.responded
            batch.off_week[i, :n] = outcome.off_week
            batch.arm[i, :n] = outcome.arm
            batch.registration_week[i, :n] = outcome.registration_week
        return batch
