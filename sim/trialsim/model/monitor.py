"""Interim monitoring of one stage by its boundary table, as patients come and go.

Owns the whole monitoring logic of the model and nothing else: counting the
patients admitted and pending, reading each look of the stage's
:class:`~trialsim.rules.table.BoundaryTable` when its number of assessed
evaluable patients is reached, stopping the stage for futility or efficacy,
closing it when the planned number is evaluable, pausing entries while a
look's assessments are pending (``pause``) or counting the patients admitted
meanwhile (overrun). The SimPy trial (:mod:`trialsim.model.simulation`) calls
it at each admission and exit of a monitored stage, in calendar order.
"""

from __future__ import annotations

from dataclasses import dataclass

from trialsim.model.plan import InterimPlan
from trialsim.rules.table import LookDecision


@dataclass(frozen=True)
class LookRead:
    """A look just read: ``responders`` of ``count`` assessed evaluable patients."""

    responders: int
    count: int
    decision: LookDecision


class StageMonitor:
    """The monitoring state of one stage with an interim plan.

    Parameters
    ----------
    interim : InterimPlan

    Attributes
    ----------
    closed : bool
        The stage admits no one any more (stopped, or planned number evaluable).
    stopped : bool
        A look stopped the stage.
    stopped_for_efficacy : bool
        The look that stopped the stage rejected H0.
    overrun : int
        Patients admitted while a look's assessments were pending.
    """

    def __init__(self, interim: InterimPlan):
        self.interim = interim
        self.pending = 0
        self.evaluable = 0
        self.responders = 0
        self.looks_read = 0
        self.closed = False
        self.stopped = False
        self.stopped_for_efficacy = False
        self.overrun = 0

    def closed_reason(self) -> str:
        """Why the closed stage admits no one, or "" while it is open."""
        if not self.closed:
            return ""
        return "stage stopped at the interim" if self.stopped else "stage complete"

    def waiting_reason(self) -> str:
        """Why the open stage admits no one now (planned number, pause), or "" if it admits."""
        if self._filled >= self.interim.table.n:
            return "planned evaluable patients reached or pending"
        if self.interim.pause and self._look_awaited:
            return "paused for the interim analysis"
        return ""

    def admit(self) -> None:
        """Count a patient entering the stage (an overrun while a look is awaited)."""
        if self._look_awaited:
            self.overrun += 1
        self.pending += 1

    def leave(self, evaluable: bool, responded: bool) -> LookRead | None:
        """Count a patient leaving the stage; read the next look if it is now due.

        Returns
        -------
        LookRead or None
            The look read at this exit, if any.
        """
        self.pending -= 1
        if not evaluable:
            return None
        self.evaluable += 1
        self.responders += bool(responded)
        table, read = self.interim.table, None
        # A stopped stage's decision is final: its overrun patients read no further look.
        due = (
            self.looks_read < len(table.looks) and self.evaluable == table.looks[self.looks_read].n
        )
        if due and not self.stopped:
            decision = table.looks[self.looks_read].decision(self.responders)
            self.looks_read += 1
            if decision != "continue":
                self.stopped = self.closed = True
                self.stopped_for_efficacy = decision == "efficacy"
            read = LookRead(self.responders, self.evaluable, decision)
        if self.evaluable >= table.n:
            self.closed = True
        return read

    @property
    def _filled(self) -> int:
        """Evaluable patients assessed or pending."""
        return self.evaluable + self.pending

    @property
    def _look_awaited(self) -> bool:
        """Whether enough patients are in (assessed or pending) for the next unread look."""
        looks = self.interim.table.looks
        return self.looks_read < len(looks) and self._filled >= looks[self.looks_read].n
