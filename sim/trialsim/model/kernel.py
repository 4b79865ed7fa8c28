"""The compiled event loop: observed stages of a chunk's replicates without SimPy.

Owns :func:`run_observed_chunk`, a numba-compiled copy of the event-driven
driver (:mod:`trialsim.model.simulation`) for one world: the same events
(a candidate's arrival, a patient's arrival at an observed stage, a patient
leaving it), processed in the same order (calendar time, then scheduling
order, as SimPy's queue does), with SimPy's clock arithmetic (an event
scheduled at ``week`` from ``now`` falls at ``now + (week - now)``), the same
passage arithmetic (:mod:`trialsim.model.pathway`) and the same monitoring
(:mod:`trialsim.model.monitor`), read from the stage's boundary table as
arrays. The SimPy model stays the reference and gives the per-patient trace;
``tests/test_pathway.py`` checks that both give identical outcomes, replicate
by replicate, on generated scenarios.

Inputs are named tuples of arrays (:mod:`trialsim.model.kernel_inputs`); the
caller fills the outcome arrays, which arrive as NaN / -1 / 0. Times are weeks.
"""

from __future__ import annotations

import numba
import numpy as np

from trialsim.model.kernel_inputs import NO_LIMIT, KernelDraws, KernelOutcome, KernelPlan

REGISTRATION = 0
ARRIVAL = 1
LEAVING = 2
NEEDS_MORE_CANDIDATES = 1

# The helpers take few arrays: passing an array to a compiled call costs reference counting.
jit = numba.njit(cache=True, nogil=True)


# Rows of the per-stage counters.
ENTRIES, PENDING, ASSESSED, RESPONDERS, LOOKS_READ, TURNED_AWAY, OVERRUN = range(7)
# Columns of an event's integer fields.
KIND, STAGE, PATIENT = range(3)


@jit
def _earlier(times: np.ndarray, a: int, b: int) -> bool:
    """Whether event ``a`` comes before event ``b``: earlier, or as early and scheduled first."""
    return times[a] < times[b] or (times[a] == times[b] and a < b)


@jit
def _push(heap: np.ndarray, size: int, times: np.ndarray, event: int) -> int:
    """Add ``event`` to the binary heap of ``size`` events; the new size."""
    child = size
    heap[child] = event
    while child > 0:
        parent = (child - 1) // 2
        if _earlier(times, heap[parent], heap[child]):
            break
        heap[parent], heap[child] = heap[child], heap[parent]
        child = parent
    return size + 1


@jit
def _pop(heap: np.ndarray, size: int, times: np.ndarray) -> int:
    """Remove the earliest event from the heap of ``size`` events; that event."""
    first = heap[0]
    size -= 1
    heap[0] = heap[size]
    parent = 0
    while True:
        child = 2 * parent + 1
        if child >= size:
            break
        if child + 1 < size and _earlier(times, heap[child + 1], heap[child]):
            child += 1
        if not _earlier(times, heap[child], heap[parent]):
            break
        heap[parent], heap[child] = heap[child], heap[parent]
        parent = child
    return first


@jit
def _choose_arm(uniform: float, shares: np.ndarray, open_arm: np.ndarray) -> int:
    """Index of the open arm whose slice of the cumulative allocation holds ``uniform``.

    As :func:`trialsim.model.pathway.allocate` over the open arms' shares:
    the first arm whose cumulative share (over the open arms' total) exceeds
    ``uniform``, the last open arm otherwise.
    """
    total = 0.0
    last = -1
    for k in range(len(shares)):
        if open_arm[k]:
            total += shares[k]
            last = k
    cumulative = 0.0
    for k in range(last):
        if open_arm[k]:
            cumulative += shares[k]
            if cumulative / total > uniform:
                return k
    return last


@jit
def _run_replicate(  # noqa: PLR0912, PLR0915
    plan: KernelPlan,
    draws: KernelDraws,
    outcome: KernelOutcome,
    candidates: np.ndarray,
    pre_drawn: int,
    stream_ends: bool,
    arm_uniform: np.ndarray,
) -> int:
    """One replicate in one world: 0, or ``NEEDS_MORE_CANDIDATES`` if the candidates ran out.

    ``candidates`` are the arrival weeks of the candidates for registration
    (the ``pre_drawn`` ones, then later arrivals); ``stream_ends`` says that
    no candidate comes after them. The helpers are inner functions, which
    numba inlines: a call that passes the plan's arrays costs their
    reference counting, several times the work of the event itself.
    """
    next_stage, observed, max_entries = plan.next_stage, plan.observed, plan.max_entries
    arm_first, arm_shares, table_n = plan.arm_first, plan.arm_shares, plan.table_n
    pause, look_n, n_looks = plan.pause, plan.look_n, plan.n_looks
    look_futility, look_efficacy, continue_to = (
        plan.look_futility,
        plan.look_efficacy,
        plan.continue_to,
    )
    stay, evaluable, responds, accepts = draws.stay, draws.evaluable, draws.responds, draws.accepts
    entry_week, exit_week, off_week = outcome.entry_week, outcome.exit_week, outcome.off_week
    arm, registration_week = outcome.arm, outcome.registration_week
    n_stages, n_arms = len(observed), len(arm_shares)

    capacity = len(candidates) + 2 * n_stages * pre_drawn + 1
    heap = np.empty(capacity, np.int64)
    times = np.empty(capacity)
    weeks = np.empty(capacity)
    fields = np.empty((capacity, 3), np.int64)
    counts = np.zeros((7, n_stages), np.int64)
    closed = np.zeros(n_stages, np.bool_)  # stopped by a look, or planned number evaluable
    open_arm = np.ones(n_arms, np.bool_)

    def record(event, now, week, kind, stage, patient):
        # Event ``event`` happens at ``week``, scheduled at ``now`` as SimPy's clock does it.
        times[event] = now + (week - now)
        weeks[event] = week
        fields[event, KIND], fields[event, STAGE], fields[event, PATIENT] = kind, stage, patient

    def stage_closed(stage):
        # Whether ``stage`` will never admit again (stopped, complete or its cap reached).
        return closed[stage] or counts[ENTRIES, stage] >= max_entries[stage]

    def look_awaited(stage):
        # Whether enough patients are in (assessed or pending) for the next unread look.
        look = counts[LOOKS_READ, stage]
        filled = counts[ASSESSED, stage] + counts[PENDING, stage]
        return look < n_looks[stage] and filled >= look_n[stage, look]

    def refuses(stage):
        # Whether ``stage`` admits no one now: closed, capped, filled or paused for a look.
        if stage_closed(stage):
            return True
        if table_n[stage] == 0:  # not monitored
            return False
        if counts[ASSESSED, stage] + counts[PENDING, stage] >= table_n[stage]:
            return True
        return pause[stage] and look_awaited(stage)

    def registering(registrations):
        # Whether the world still registers: patients to go and some arm's first stage open.
        if registrations >= pre_drawn:
            return False
        for first in arm_first:  # noqa: SIM110 (no generators in compiled code)
            if not stage_closed(first):
                return True
        return False

    def off_study(stage, patient, leave):
        # Week off study after leaving ``stage``: responders continue treatment.
        if responds[stage, patient]:
            return max(leave, registration_week[patient] + continue_to)
        return leave

    def moves_on(stage, patient):
        # Whether the patient leaving ``stage`` enters the next one (evaluable non-responder).
        following = next_stage[stage]
        return (
            following >= 0
            and evaluable[stage, patient]
            and not responds[stage, patient]
            and accepts[following, patient]
        )

    size = scheduled = registrations = fetched = 0
    now = 0.0
    held = False
    for first in arm_first:
        held = held or observed[first]
    # Without a held registration every patient registers at once, arm by arm (as a cohort).
    initial = np.empty(0 if held else pre_drawn, np.int64)
    if not held:
        for p in range(pre_drawn):
            arm[p] = _choose_arm(arm_uniform[p], arm_shares, open_arm)
            registration_week[p] = candidates[p]
        registrations = pre_drawn
        taken = 0
        for k in range(n_arms):
            for p in range(pre_drawn):
                if arm[p] == k:
                    initial[taken] = p
                    taken += 1
    elif registering(registrations):
        # The registration process starts at week 0 and waits for the first candidate.
        if fetched == len(candidates):
            if not stream_ends:
                return NEEDS_MORE_CANDIDATES
        else:
            record(scheduled, now, candidates[fetched], REGISTRATION, -1, -1)
            size = _push(heap, size, times, scheduled)
            scheduled += 1
            fetched += 1

    position = 0
    while True:
        # Who is due where: a patient of the initial cohort, or the next event's patient.
        due = registration = False
        routed = True  # sent on by routing: an arrival later than now is an event
        stage = p = -1
        week = 0.0
        if position < len(initial):
            p = initial[position]
            position += 1
            stage, week, due = arm_first[arm[p]], candidates[p], True
        elif size > 0:
            event = _pop(heap, size, times)
            size -= 1
            now, week = times[event], weeks[event]
            kind, stage, p = fields[event, KIND], fields[event, STAGE], fields[event, PATIENT]
            if kind == ARRIVAL:
                due, routed = True, False
            elif kind == LEAVING:
                exit_week[stage, p] = week
                off_week[p] = off_study(stage, p, week)
                if table_n[stage] > 0:
                    counts[PENDING, stage] -= 1
                    if evaluable[stage, p]:
                        counts[ASSESSED, stage] += 1
                        counts[RESPONDERS, stage] += responds[stage, p]
                        look = counts[LOOKS_READ, stage]
                        look_due = (
                            look < n_looks[stage] and counts[ASSESSED, stage] == look_n[stage, look]
                        )
                        # A stopped stage's decision is final (overrun patients read no look).
                        if look_due and not outcome.stopped_early[stage]:
                            counts[LOOKS_READ, stage] += 1
                            responders = counts[RESPONDERS, stage]
                            futility = look_futility[stage, look]
                            efficacy = look_efficacy[stage, look]
                            if futility != NO_LIMIT and responders <= futility:
                                outcome.stopped_early[stage] = closed[stage] = True
                            elif efficacy != NO_LIMIT and responders >= efficacy:
                                outcome.stopped_early[stage] = closed[stage] = True
                                outcome.stopped_for_efficacy[stage] = True
                        if counts[ASSESSED, stage] >= table_n[stage]:
                            closed[stage] = True
                if moves_on(stage, p):
                    stage, due = next_stage[stage], True
            else:
                registration = True
                if registering(registrations):
                    for k in range(n_arms):
                        open_arm[k] = not stage_closed(arm_first[k])
                    p = registrations
                    k = _choose_arm(arm_uniform[p], arm_shares, open_arm)
                    stage, routed = arm_first[k], False
                    if observed[stage] and refuses(stage):
                        counts[TURNED_AWAY, stage] += 1
                    else:
                        registrations += 1
                        arm[p] = k
                        registration_week[p] = week
                        due = True
        else:
            break

        # The patient due at ``stage`` at ``week`` passes unobserved stages and reaches an
        # observed one: an arrival event there if routed and later, else admitted or not.
        while due:
            if observed[stage]:
                if routed and week > now:
                    record(scheduled, now, week, ARRIVAL, stage, p)
                elif refuses(stage):
                    counts[TURNED_AWAY, stage] += 1
                    off_week[p] = week
                    break
                else:
                    if table_n[stage] > 0:
                        if look_awaited(stage):
                            counts[OVERRUN, stage] += 1
                        counts[PENDING, stage] += 1
                    counts[ENTRIES, stage] += 1
                    entry_week[stage, p] = week
                    record(scheduled, now, week + stay[stage, p], LEAVING, stage, p)
                size = _push(heap, size, times, scheduled)
                scheduled += 1
                break
            leave = week + stay[stage, p]
            counts[ENTRIES, stage] += 1
            entry_week[stage, p] = week
            exit_week[stage, p] = leave
            off_week[p] = off_study(stage, p, leave)
            if not moves_on(stage, p):
                break
            stage, week, routed = next_stage[stage], leave, True

        if registration:
            # The registration process takes the next candidate and waits for them,
            # unless the world registers no more.
            if fetched == len(candidates):
                if registering(registrations) and not stream_ends:
                    return NEEDS_MORE_CANDIDATES
            elif registering(registrations):
                record(scheduled, now, candidates[fetched], REGISTRATION, -1, -1)
                size = _push(heap, size, times, scheduled)
                scheduled += 1
                fetched += 1
    outcome.turned_away[:] = counts[TURNED_AWAY]
    outcome.overrun[:] = counts[OVERRUN]
    return 0


@jit
def run_observed_chunk(
    plan: KernelPlan,
    draws: KernelDraws,
    outcome: KernelOutcome,
    candidates: np.ndarray,
    pre_drawn: np.ndarray,
    stream_ends: np.ndarray,
    arm_uniform: np.ndarray,
    which: np.ndarray,
) -> np.ndarray:
    """Run the replicates ``which`` of a chunk in one world.

    Returns per replicate 0, or ``NEEDS_MORE_CANDIDATES`` when its candidates
    ran out (run it again with more).

    Parameters
    ----------
    plan : KernelPlan
    draws : KernelDraws
        Arrays ``[replicate, stage, patient]``.
    outcome : KernelOutcome
        Arrays with a leading replicate axis, filled in place.
    candidates : ndarray, shape (replicates, candidates)
        Arrival weeks of the candidates for registration, NaN-padded.
    pre_drawn : ndarray of int, shape (replicates,)
        Patients with draws (the first ``pre_drawn`` candidates).
    stream_ends : ndarray of bool, shape (replicates,)
        No candidate arrives after the last one given (accrual stopped).
    arm_uniform : ndarray, shape (replicates, patients)
    which : ndarray of int
        Replicates to run.
    """
    status = np.zeros(len(which), np.int64)
    for index in range(len(which)):
        r = which[index]
        given = 0
        while given < candidates.shape[1] and not np.isnan(candidates[r, given]):
            given += 1
        status[index] = _run_replicate(
            plan,
            KernelDraws(draws.stay[r], draws.evaluable[r], draws.responds[r], draws.accepts[r]),
            KernelOutcome(
                outcome.entry_week[r],
                outcome.exit_week[r],
                outcome.off_week[r],
                outcome.arm[r],
                outcome.registration_week[r],
                outcome.stopped_early[r],
                outcome.stopped_for_efficacy[r],
                outcome.turned_away[r],
                outcome.overrun[r],
            ),
            candidates[r, :given],
            pre_drawn[r],
            stream_ends[r],
            arm_uniform[r],
        )
    return status
