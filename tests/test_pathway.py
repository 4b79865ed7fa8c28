"""One pathway, four drivers: chunk arrays, compiled events, cohorts and SimPy events agree.

Generated plans have one or two randomised arms, chains of up to three stages
with routing of non-responders, dropout, non-evaluability and adverse events
(discontinuing or not); some add stage caps and Simon monitoring (observed
stages, where cohorts and events mix), others boundary tables with futility
and efficacy looks, ``pause`` or ``continue``. Every outcome array must be
identical between the array computation of a chunk (or, with observed stages,
the compiled event loop), the cohort passages and the plain event-by-event
SimPy simulation, replicate by replicate. Monitoring is also checked on its
own (:class:`StageMonitor`) and through a boundary table with an efficacy look.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialsim.model.chunk import simulate_chunk_worlds
from trialsim.model.draws import draw_chunk, draw_patients, null_response_rate
from trialsim.model.monitor import StageMonitor
from trialsim.model.outcome import OutcomeBatch, TrialOutcome
from trialsim.model.pathway import Pathway
from trialsim.model.plan import InterimPlan, TrialPlan, compile_plan
from trialsim.model.simulation import simulate_trial, simulate_worlds
from trialsim.rules.table import BoundaryTable, Look
from trialsim.rules.validation import load_scenario, validate_scenario
from trialsim.scenario.yaml_source import YamlDocument

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
FIELDS = tuple(field.name for field in dataclasses.fields(TrialOutcome))
REPLICATES = 4
OBSERVED_REPLICATES = 12
probability = st.floats(0.0, 1.0)


@st.composite
def scenarios(draw: st.DrawFn, observed: bool) -> dict:
    """A scenario with arms, stage chains and routing; caps and Simon rules if ``observed``."""
    stages: list[dict] = []
    arms = []
    for a in range(draw(st.integers(1, 2))):
        ids = [f"a{a}s{k}" for k in range(draw(st.integers(1, 3)))]
        for k, stage_id in enumerate(ids):
            stage = {
                "id": stage_id,
                "weeks": draw(st.floats(0.5, 20.0)),
                "response": draw(probability),
                "null_response": draw(probability),
                "dropout": draw(st.floats(0.0, 0.9)),
                "not_evaluable": draw(st.floats(0.0, 0.5)),
                "adverse_events": [
                    {"name": f"ae{e}", "grade": draw(st.integers(1, 5)), "probability": 0.3}
                    for e in range(draw(st.integers(0, 2)))
                ],
            }
            if k > 0:
                stage["entry"] = draw(probability)
                if observed and draw(st.booleans()):
                    stage["max_entries"] = draw(st.integers(1, 8))
            if k < len(ids) - 1:
                stage["next_on_failure"] = ids[k + 1]
            stages.append(stage)
        arms.append({"id": f"arm{a}", "first_stage": ids[0], "ratio": draw(st.integers(1, 3))})
    endpoints: list[dict] = [
        {"id": "all", "stage": stages[0]["id"], "rule": {"test": "exact_binomial", "p0": 0.2}}
    ]
    patients = draw(st.integers(1, 30))
    monitored = draw(st.sampled_from(stages))
    # A rule's n must be reachable: at most the patients, and the stage's cap (validation).
    reach = min(12, patients, monitored.get("max_entries", patients))
    if observed and reach >= 3 and draw(st.booleans()):
        n1 = draw(st.integers(2, min(5, reach - 1)))
        r1 = draw(st.integers(0, n1 - 1))
        n = draw(st.integers(n1 + 1, reach))
        simon = {"test": "simon", "p0": 0.2, "r1": r1, "n1": n1, "r": draw(st.integers(r1, n - 1))}
        simon |= {"n": n, "during_interim": draw(st.sampled_from(["pause", "continue"]))}
        endpoints.append({"id": "monitored", "stage": monitored["id"], "rule": simon})
    scenario = {
        "name": "generated",
        "enrollment": {
            "patients": patients,
            "accrual": {"rate_per_month": draw(st.floats(0.5, 10.0))},
        },
        "stages": stages,
        "responders": {"continue_to_weeks": draw(st.floats(1.0, 60.0))},
        "discontinue_grade": draw(st.integers(1, 5)),
        "endpoints": endpoints,
    }
    if len(arms) > 1:
        scenario["arms"] = arms
    return scenario


def plan_of(scenario: dict) -> TrialPlan:
    return compile_plan(validate_scenario(YamlDocument(scenario, {}), "generated.yaml"))


def assert_same(got: TrialOutcome, want: TrialOutcome) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def batch_row(batch: OutcomeBatch, index: int, n: int) -> TrialOutcome:
    """Replicate ``index`` of a batch, cut to its ``n`` registered patients."""
    fields = {name: getattr(batch, name)[index] for name in FIELDS}
    for name in ("entry_week", "exit_week", "responded", "off_week", "arm"):
        fields[name] = fields[name][..., :n]
    return TrialOutcome(**fields)


GENERATED = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@GENERATED
@given(scenarios(observed=False), st.integers(0, 2**32))
def test_chunk_cohort_and_events_agree_patient_by_patient(scenario: dict, seed: int) -> None:
    plan = plan_of(scenario)
    assert not any(stage.observed for stage in plan.stages)
    chunk = draw_chunk(plan, seed, 0, REPLICATES)
    null = np.broadcast_to(null_response_rate(plan), chunk.stacked.response_rate.shape)
    batches = simulate_chunk_worlds(plan, chunk, (chunk.stacked.response_rate, null))
    for index in range(REPLICATES):
        draws = chunk.replicate(index)
        rates = (draws.response_rate, null[index])
        cohorts = simulate_worlds(plan, draws, rates)
        events = simulate_worlds(plan, draws, rates, observe_all=True)
        for batch, cohort, event in zip(batches, cohorts, events, strict=True):
            assert_same(cohort, event)
            assert_same(batch_row(batch, index, len(draws.registration_week)), event)
            assert np.isnan(batch.entry_week[index, :, len(draws.registration_week) :]).all()


def assert_drivers_agree(plan: TrialPlan, seed: int, replicates: int) -> list[OutcomeBatch]:
    """The chunk driver, the mixed cohort/event path and SimPy events alone, replicate by
    replicate in both worlds; the chunk's batches."""
    chunk = draw_chunk(plan, seed, 0, replicates)
    null = np.broadcast_to(null_response_rate(plan), chunk.stacked.response_rate.shape)
    batches = simulate_chunk_worlds(plan, chunk, (chunk.stacked.response_rate, null))
    for index in range(replicates):
        draws = chunk.replicate(index)
        rates = (draws.response_rate, null[index])
        mixed = simulate_worlds(plan, draws, rates)
        events = simulate_worlds(plan, draws, rates, observe_all=True)
        for batch, fast, event in zip(batches, mixed, events, strict=True):
            assert_same(fast, event)
            assert_same(batch_row(batch, index, len(draws.registration_week)), event)
    return batches


@GENERATED
@given(scenarios(observed=True), st.integers(0, 2**32))
def test_compiled_events_and_mixed_cohorts_agree_with_events_alone(
    scenario: dict, seed: int
) -> None:
    assert_drivers_agree(plan_of(scenario), seed, OBSERVED_REPLICATES)


@st.composite
def boundary_tables(draw: st.DrawFn, reach: int) -> BoundaryTable:
    """Up to three looks before ``n <= reach``, each with an optional futility maximum and
    efficacy minimum (futility below efficacy)."""
    n = draw(st.integers(2, reach))
    counts = sorted(set(draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=3))))
    looks = []
    for count in counts:
        futility = draw(st.none() | st.integers(0, count - 1))
        lowest = 0 if futility is None else futility + 1
        efficacy = draw(st.none() | st.integers(max(lowest, 1), count))
        looks.append(Look(count, futility_max=futility, efficacy_min=efficacy))
    return BoundaryTable(tuple(looks), n, draw(st.integers(0, n)))


@GENERATED
@given(scenarios(observed=True), st.data(), st.integers(0, 2**32))
def test_compiled_events_follow_any_boundary_table(
    scenario: dict, data: st.DataObject, seed: int
) -> None:
    """Futility and efficacy looks on any stage, paused or not: the compiled loop is SimPy."""
    plan = plan_of(scenario)
    s = data.draw(st.integers(0, len(plan.stages) - 1))
    reach = min(12, plan.patients, plan.stages[s].max_entries)
    if reach < 2:
        return
    table = data.draw(boundary_tables(reach))
    interim = InterimPlan(table, pause=data.draw(st.booleans()))
    stage = dataclasses.replace(plan.stages[s], interim=interim)
    plan = dataclasses.replace(plan, stages=(*plan.stages[:s], stage, *plan.stages[s + 1 :]))
    assert_drivers_agree(plan, seed, OBSERVED_REPLICATES)


def test_a_held_registration_reads_later_arrivals_like_simpy(minimal_scenario: dict) -> None:
    """A paused first stage turns candidates away, so registration reads later arrivals."""
    scenario = minimal_scenario | {
        "enrollment": {"patients": 10, "accrual": {"rate_per_month": 8.0}},
        "endpoints": [
            {
                "id": "monitored",
                "stage": minimal_scenario["stages"][0]["id"],
                "rule": {"test": "simon", "p0": 0.2, "r1": 0, "n1": 4, "r": 2, "n": 10}
                | {"during_interim": "pause"},
            }
        ],
    }
    plan = plan_of(scenario)
    batches = assert_drivers_agree(plan, 5, 30)
    registered = (batches[0].arm >= 0).sum(axis=1)
    assert (batches[0].turned_away[:, 0] > 0).all()
    assert (registered == plan.patients).any(), "some trial registered all after turning some away"


@pytest.mark.parametrize(
    "name", ["followup_bayes_vk2", "followup_capped", "followup_simon_d3", "followup_itt"]
)
def test_shipped_scenarios_run_identically_on_the_compiled_loop(name: str) -> None:
    plan = compile_plan(load_scenario(SCENARIOS / f"{name}.yaml").spec)
    if name == "followup_itt":  # no observed stage: the array path, made observed by a cap
        stage = dataclasses.replace(plan.stages[1], max_entries=12)
        plan = dataclasses.replace(plan, stages=(plan.stages[0], stage, *plan.stages[2:]))
    assert any(stage.observed for stage in plan.stages)
    assert_drivers_agree(plan, 2026, 60)


@GENERATED
@given(scenarios(observed=False), st.integers(0, 2**32))
def test_a_chunks_passages_are_its_replicates_passages(scenario: dict, seed: int) -> None:
    """Elementwise: a chunk's 2-D passages, row by row, are each replicate's 1-D passages."""
    plan = plan_of(scenario)
    chunk = draw_chunk(plan, seed, 0, REPLICATES)
    stacked = Pathway(plan, chunk.stacked, chunk.stacked.response_rate)
    for index in range(REPLICATES):
        draws = chunk.replicate(index)
        n = len(draws.registration_week)
        alone = Pathway(plan, draws, draws.response_rate)
        for arm in plan.arms:
            rows = stacked.chain(arm.first_stage)
            for row, passage in zip(rows, alone.chain(arm.first_stage), strict=True):
                assert (row.stage, row.next_stage) == (passage.stage, passage.next_stage)
                for name in ("entry", "leave", "evaluable", "responded", "off", "moves_on"):
                    got = getattr(row, name)[index, :n]
                    np.testing.assert_array_equal(got, getattr(passage, name), err_msg=name)


def test_monitor_pauses_reads_the_look_and_stops_for_futility() -> None:
    monitor = StageMonitor(InterimPlan(BoundaryTable((Look(2, futility_max=0),), 5, 2), True))
    monitor.admit()
    assert monitor.waiting_reason() == ""
    monitor.admit()
    assert monitor.waiting_reason() == "paused for the interim analysis"
    assert monitor.leave(evaluable=False, responded=False) is None
    assert monitor.waiting_reason() == ""
    monitor.admit()
    assert monitor.leave(evaluable=True, responded=False) is None
    look = monitor.leave(evaluable=True, responded=False)
    assert look is not None and (look.responders, look.count, look.decision) == (0, 2, "futility")
    assert monitor.closed and monitor.stopped and not monitor.stopped_for_efficacy
    assert monitor.closed_reason() == "stage stopped at the interim"
    assert monitor.overrun == 0


def test_monitor_counts_overrun_and_closes_at_the_planned_number() -> None:
    monitor = StageMonitor(InterimPlan(BoundaryTable((Look(1, futility_max=0),), 3, 2), False))
    for _ in range(3):
        monitor.admit()
    assert monitor.overrun == 2, "admitted while the look's one assessment was pending"
    assert monitor.waiting_reason() == "planned evaluable patients reached or pending"
    look = monitor.leave(evaluable=True, responded=True)
    assert look is not None and look.decision == "continue" and not monitor.closed
    monitor.leave(evaluable=True, responded=False)
    monitor.leave(evaluable=True, responded=True)
    assert monitor.closed and not monitor.stopped
    assert monitor.closed_reason() == "stage complete"


def test_a_stopped_stage_reads_no_further_look() -> None:
    """Patients admitted before an efficacy stop (overrun) do not reopen the decision."""
    looks = (Look(1, efficacy_min=1), Look(2, futility_max=1))
    monitor = StageMonitor(InterimPlan(BoundaryTable(looks, 3, 2), pause=False))
    for _ in range(3):
        monitor.admit()
    look = monitor.leave(evaluable=True, responded=True)
    assert look is not None and look.decision == "efficacy"
    assert monitor.leave(evaluable=True, responded=False) is None
    assert monitor.stopped and monitor.stopped_for_efficacy and monitor.looks_read == 1


def test_an_efficacy_look_stops_the_stage_and_is_reported(minimal_scenario: dict) -> None:
    """A table with an efficacy minimum: the outcome says the stage stopped for efficacy."""
    plan = plan_of(minimal_scenario)
    table = BoundaryTable((Look(3, efficacy_min=1),), 10, 3)
    first = dataclasses.replace(plan.stages[0], interim=InterimPlan(table, pause=False))
    plan = dataclasses.replace(plan, stages=(first, *plan.stages[1:]))
    stopped = 0
    for replicate in range(20):
        draws = draw_patients(plan, 3, replicate)
        trace: list = []
        outcome = simulate_trial(plan, draws, np.full((2, 1), 0.5), trace)
        assert_same(outcome, simulate_trial(plan, draws, np.full((2, 1), 0.5)))
        looks = [row for row in trace if row[3] == "interim analysis"]
        assert len(looks) <= 1
        if outcome.stopped_for_efficacy[0]:
            stopped += 1
            assert outcome.stopped_early[0] and looks[0][4].endswith("stop for efficacy")
            batch = OutcomeBatch.stack([outcome], plan.patients)
            assert batch.stopped_for_efficacy[0, 0] and not batch.stopped_for_efficacy[0, 1]
        else:
            assert not looks or looks[0][4].endswith("continue")
        assert not outcome.stopped_for_efficacy[1]
    assert stopped > 0
