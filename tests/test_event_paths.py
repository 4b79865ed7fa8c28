"""Cohort passages through unobserved stages equal the plain event-by-event simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialsim.model.chunk import simulate_chunk_worlds
from trialsim.model.draws import draw_chunk, draw_patients, null_response_rate
from trialsim.model.outcome import TrialOutcome
from trialsim.model.plan import compile_plan
from trialsim.model.simulation import simulate_worlds
from trialsim.rules.validation import load_scenario
from trialsim.run.runner import trace_replicate

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))
FIELDS = ("entry_week", "exit_week", "responded", "off_week", "turned_away", "registration_week")


def assert_same(fast: TrialOutcome, plain: TrialOutcome) -> None:
    assert fast.registered == plain.registered
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(fast, name), getattr(plain, name), err_msg=name)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_cohort_passages_equal_event_by_event(path: Path) -> None:
    loaded = load_scenario(path)
    plan = compile_plan(loaded.spec)
    null = null_response_rate(plan)
    for replicate in range(60):
        draws = draw_patients(plan, 99, replicate)
        rates = (draws.response_rate, null)
        fast = simulate_worlds(plan, draws, rates)
        plain = simulate_worlds(plan, draws, rates, observe_all=True)
        for a, b in zip(fast, plain, strict=True):
            assert_same(a, b)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_chunk_computation_equals_event_by_event(path: Path) -> None:
    plan = compile_plan(load_scenario(path).spec)
    chunk = draw_chunk(plan, 7, 0, 40)
    null = np.broadcast_to(null_response_rate(plan), chunk.stacked.response_rate.shape)
    batches = simulate_chunk_worlds(plan, chunk, (chunk.stacked.response_rate, null))
    for index in range(40):
        draws = chunk.replicate(index)
        n = len(draws.registration_week)
        plain = simulate_worlds(plan, draws, (draws.response_rate, null[index]), observe_all=True)
        for batch, outcome in zip(batches, plain, strict=True):
            np.testing.assert_array_equal(batch.entry_week[index, :, :n], outcome.entry_week)
            np.testing.assert_array_equal(batch.exit_week[index, :, :n], outcome.exit_week)
            np.testing.assert_array_equal(batch.responded[index, :, :n], outcome.responded)
            np.testing.assert_array_equal(batch.off_week[index, :n], outcome.off_week)
            np.testing.assert_array_equal(
                batch.registration_week[index, :n], outcome.registration_week
            )
            np.testing.assert_array_equal(batch.turned_away[index], outcome.turned_away)
            assert np.isnan(batch.entry_week[index, :, n:]).all()


def test_capped_stage_is_observed_and_turns_patients_away() -> None:
    plan = compile_plan(load_scenario(SCENARIOS[0].parent / "followup_capped.yaml").spec)
    assert [stage.observed for stage in plan.stages] == [False, True]
    draws = draw_patients(plan, 1, 0)
    (outcome,) = simulate_worlds(plan, draws, [draws.response_rate])
    cap = plan.stages[1].max_entries
    entered = ~np.isnan(outcome.entry_week[1])
    assert entered.sum() == cap
    assert outcome.turned_away[1] > 0
    # The cap admits the first arrivals in calendar order: everyone turned away
    # arrived (left the first stage) after the last patient admitted.
    routed = draws.evaluable[0] & ~outcome.responded[0] & draws.accepts_entry[1]
    turned_away = routed & ~entered
    assert turned_away.sum() == outcome.turned_away[1]
    assert outcome.exit_week[0][turned_away].min() >= outcome.entry_week[1][entered].max()


def test_chunk_draws_do_not_depend_on_the_chunk() -> None:
    plan = compile_plan(load_scenario(SCENARIOS[0].parent / "followup_calendar_cut.yaml").spec)
    chunk = draw_chunk(plan, 5, 10, 20)
    alone = draw_patients(plan, 5, 13)
    inside = chunk.replicate(3)
    for name in alone.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(alone, name), getattr(inside, name), err_msg=name)


def test_trace_is_in_calendar_order_and_tells_each_patient_story() -> None:
    loaded = load_scenario(SCENARIOS[0].parent / "vk2_d3_2005.yaml")
    rows = trace_replicate(loaded, 0)
    for world in ("alternative", "null"):
        weeks = [row[1] for row in rows if row[0] == world]
        assert weeks == sorted(weeks)
        registered = [row for row in rows if row[0] == world and row[4] == "registered"]
        assert len(registered) == loaded.spec.enrollment.patients
    outcomes = {row[4] for row in rows}
    assert {"registered", "entered", "no response"} <= outcomes
