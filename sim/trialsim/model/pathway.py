"""A patient's pathway: randomisation to an arm and the passage through each stage.

Owns what happens to patients in a stage once they enter it, written once for
every driver of the model: when they leave (pre-drawn stay: assessment,
dropout or a discontinuing adverse event), whether they respond, when they
would be off study (responders continue treatment to ``continue_to_weeks``
after registration), and who moves on to the stage's ``next_stage`` (evaluable
non-responders who accept entry, at the week they leave).

Everything here is elementwise NumPy over the draws' trailing patient axis,
so one replicate's draws (arrays ``[stage, patient]``) and a chunk's stacked
draws (``[replicate, stage, patient]``) go through the same code. Nothing
here decides *whether* a patient is admitted (caps and interim monitoring
are events of :mod:`trialsim.model.simulation`): a :class:`Passage` says what
happens to each patient *if* they enter the stage at the given week. Along an
arm's chain of stages a patient's entry week is fixed (registration, then the
week they leave the previous stage), so :meth:`Pathway.chain` computes every
passage up front and the drivers only select who entered. When a held
registration turns candidates away, the event-driven driver registers a
patient later than their pre-drawn week: :meth:`Pathway.register_at` moves
that patient's passages. Times are weeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trialsim.model.draws import PatientDraws
from trialsim.model.plan import NO_STAGE, TrialPlan

ALL_PATIENTS = slice(None)


def allocate(uniform: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Arm index of each patient: ``uniform`` against the cumulative allocation ``shares``.

    Parameters
    ----------
    uniform : ndarray
        The patients' arm uniforms.
    shares : ndarray, shape (arms,)
        Allocation ratios of the arms patients may be randomised to.

    Returns
    -------
    ndarray of int
        Index into ``shares``, same shape as ``uniform``.
    """
    cumulative = np.cumsum(shares) / shares.sum()
    return np.searchsorted(cumulative[:-1], uniform, side="right")


def responses(draws: PatientDraws, response_rate: np.ndarray) -> np.ndarray:
    """Whether each patient would respond in each stage: evaluable and below the rate.

    Parameters
    ----------
    draws : PatientDraws
        One replicate's draws, or a chunk's stacked draws (leading replicate axis).
    response_rate : ndarray, shape (..., stages, subgroups)
        The world's response rates, with the draws' leading axes.

    Returns
    -------
    ndarray of bool, shape (..., stages, patients)
    """
    subgroup: np.ndarray = draws.subgroup
    replicates: tuple[np.ndarray, ...] = np.indices(subgroup.shape[:-1], sparse=True)
    stage = np.arange(response_rate.shape[-2])[:, None]
    index = (*(axis[..., None, None] for axis in replicates), stage, subgroup[..., None, :])
    rate = response_rate[index]
    return draws.evaluable & (draws.response_uniform < rate)


@dataclass(frozen=True)
class Passage:
    """What happens to every patient who enters one stage at ``entry``, elementwise.

    Arrays have the shape of the draws' patient arrays: ``(patients,)`` for one
    replicate, ``(replicates, patients)`` for a chunk. Weeks are calendar weeks.

    Attributes
    ----------
    stage : int
    next_stage : int
        Where evaluable non-responders are offered entry (``NO_STAGE`` if nowhere).
    entry : ndarray
        Week of entering the stage.
    leave : ndarray
        Week of leaving it: ``entry`` plus the pre-drawn stay.
    evaluable : ndarray of bool
        Assessed and evaluable (counts towards interim looks).
    responded : ndarray of bool
    off : ndarray
        Week off study if going nowhere next: ``leave``, or for responders the
        later of ``leave`` and registration plus ``continue_to_weeks``.
    moves_on : ndarray of bool
        Evaluable non-responders who accept entry to ``next_stage``, which they
        reach at ``leave``.
    """

    stage: int
    next_stage: int
    entry: np.ndarray
    leave: np.ndarray
    evaluable: np.ndarray
    responded: np.ndarray
    off: np.ndarray
    moves_on: np.ndarray


class Pathway:
    """Passages of one world's patients through the stages of ``plan``.

    Parameters
    ----------
    plan : TrialPlan
    draws : PatientDraws
        One replicate's draws, or a chunk's stacked draws.
    response_rate : ndarray, shape (..., stages, subgroups)
        The world's response rates, with the draws' leading axes.
    """

    def __init__(self, plan: TrialPlan, draws: PatientDraws, response_rate: np.ndarray):
        self.plan = plan
        self.draws = draws
        self.responds = responses(draws, response_rate)
        self.continued_until = draws.registration_week + plan.continue_to_weeks

    def passage(
        self, stage: int, entry: np.ndarray, patients: slice | np.ndarray = ALL_PATIENTS
    ) -> Passage:
        """The passage through ``stage`` of ``patients`` (default all) entering at ``entry``."""
        draws = self.draws
        leave = entry + draws.stay_weeks[..., stage, patients]
        evaluable = draws.evaluable[..., stage, patients]
        responded = self.responds[..., stage, patients]
        off = np.where(responded, np.maximum(leave, self.continued_until[..., patients]), leave)
        following = self.plan.stages[stage].next_stage
        if following == NO_STAGE:
            moves_on = np.zeros_like(responded)
        else:
            moves_on = evaluable & ~responded & draws.accepts_entry[..., following, patients]
        return Passage(stage, following, entry, leave, evaluable, responded, off, moves_on)

    def chain(
        self,
        first_stage: int,
        patients: slice | np.ndarray = ALL_PATIENTS,
        registration_week: np.ndarray | None = None,
    ) -> list[Passage]:
        """Passages along the chain of stages from ``first_stage``, entered at registration.

        Each stage is entered at the week of leaving the one before; the
        passages hold for every patient, whether or not they get there (the
        drivers follow ``moves_on`` and the stages' admissions). By default
        for all patients at their pre-drawn registration weeks.
        """
        if registration_week is None:
            # A copy: a held registration rewrites a world's weeks (register_at).
            registration_week = self.draws.registration_week[..., patients].copy()
        passages = [self.passage(first_stage, registration_week, patients)]
        while passages[-1].next_stage != NO_STAGE:
            passages.append(self.passage(passages[-1].next_stage, passages[-1].leave, patients))
        return passages

    def register_at(self, patient: int, week: float, routes: list[dict[int, Passage]]) -> None:
        """Register ``patient`` (of one replicate) at ``week`` instead of the pre-drawn week.

        Rewrites the patient's weeks in every arm's ``routes`` (passages by
        stage, from :meth:`chain`) as if the chain had been computed with this
        registration week: the same arithmetic, so the same numbers.
        """
        self.continued_until[patient] = week + self.plan.continue_to_weeks
        index = np.array([patient])
        for route in routes:
            first = next(iter(route))
            for moved in self.chain(first, index, np.array([week])):
                passage = route[moved.stage]
                passage.entry[patient] = moved.entry[0]
                passage.leave[patient] = moved.leave[0]
                passage.off[patient] = moved.off[0]
