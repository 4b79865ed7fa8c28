"""Invariants of the trial model (SPEC §3) over several seeds and replicates,
checked on the raw outcome (``simulate_trial``) and on the record (``RecordMaker``),
plus seeded reproducibility and common random numbers (SPEC §3, §6)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialsim.model.draws import ReplicateStreams, draw_patients, null_response_rate
from trialsim.model.plan import NO_STAGE, compile_plan
from trialsim.model.seeding import pcg64_states
from trialsim.model.simulation import simulate_trial
from trialsim.rules.validation import load_scenario, validate_scenario
from trialsim.run.records import ALTERNATIVE, NULL, RecordLayout, RecordMaker
from trialsim.run.runner import CHUNK_REPLICATES, run_trials, simulate_chunk
from trialsim.run.tally import tally_npz
from trialsim.scenario.yaml_source import YamlDocument

from conftest import SHIPPED_2005

WEEKS_PER_MONTH = 365.25 / 12 / 7  # SPEC §3, written out independently
EPS = 1e-9


def trials(plan, seeds, replicates):
    """(draws, world, outcome, record) for every seed, replicate and world."""
    maker = RecordMaker(plan)
    null = null_response_rate(plan)
    for seed in seeds:
        for replicate in range(replicates):
            draws = draw_patients(plan, seed, replicate)
            for world, rate in ((ALTERNATIVE, draws.response_rate), (NULL, null)):
                outcome = simulate_trial(plan, draws, rate)
                record = maker.record(replicate, world, draws, outcome, rate)
                yield draws, world, outcome, dict(zip(maker.layout.columns, record, strict=True))


def predecessor(plan, stage):
    for s, other in enumerate(plan.stages):
        if other.next_stage == stage:
            return s
    return None


def check_invariants(plan, draws, outcome, record):
    """Every invariant of one simulated trial; returns nothing, asserts everything."""
    n = outcome.registered
    registration = draws.registration_week
    complete = plan.cutoff_is_complete
    # -- registration ------------------------------------------------------------
    assert n == len(registration) == record["registered"]
    assert 0 <= n <= plan.patients
    assert record["screened"] >= record["registered"]
    assert record["screened"] == n + draws.screen_failures.sum()
    assert np.all(draws.screen_failures >= 0)
    assert np.all(np.diff(registration) >= 0) and np.all(registration >= 0)
    assert np.all(registration <= plan.accrual_stop_week)
    if n:
        assert record["last_registration_week"] == registration[-1]
    entered = ~np.isnan(outcome.entry_week)
    exited = ~np.isnan(outcome.exit_week)
    assert np.array_equal(entered, exited), "every entry ends in an exit (the run is complete)"
    # -- per stage -----------------------------------------------------------------
    for s, stage in enumerate(plan.stages):
        inside = entered[s]
        stay = outcome.exit_week[s, inside] - outcome.entry_week[s, inside]
        assert np.all(stay >= -EPS)
        assert np.all(stay <= stage.weeks + EPS), "nobody stays past the assessment"
        assessed = inside & draws.evaluable[s]
        np.testing.assert_allclose(
            outcome.exit_week[s, assessed] - outcome.entry_week[s, assessed],
            stage.weeks,
            rtol=1e-12,
        )
        assert not np.any(outcome.responded[s] & ~assessed), "only evaluable patients respond"
        assert inside.sum() <= stage.max_entries
        e, v, r = (
            record[f"stage.{stage.id}.{name}"] for name in ("entered", "evaluable", "responders")
        )
        assert e >= v >= r >= 0
        if complete:
            assert e == inside.sum() and v == assessed.sum() and r == outcome.responded[s].sum()
        else:
            in_data = inside & (outcome.entry_week[s] <= plan.cutoff_week)
            assert e == in_data.sum(), "no entry after the data cutoff is counted"
            assert v == (assessed & (outcome.exit_week[s] <= plan.cutoff_week)).sum()
        if len(plan.subgroup_names) > 1:
            for name in ("entered", "evaluable", "responders"):
                by_group = sum(record[f"stage.{stage.id}.{g}.{name}"] for g in plan.subgroup_names)
                assert by_group == record[f"stage.{stage.id}.{name}"]
        # -- routing to this stage -------------------------------------------------
        before = predecessor(plan, s)
        if before is None:
            attempts = n
            if plan.stages[s].max_entries >= n:
                np.testing.assert_array_equal(outcome.entry_week[s], registration)
        else:
            failed = entered[before] & draws.evaluable[before] & ~outcome.responded[before]
            attempts = int((failed & draws.accepts_entry[s]).sum())
            # Re-registration is immediate: entry here == exit from the previous stage.
            np.testing.assert_array_equal(
                outcome.entry_week[s, inside], outcome.exit_week[before, inside]
            )
            assert np.all(failed[inside]), "only evaluable non-responders are re-registered"
            if complete:
                prev_v = record[f"stage.{plan.stages[before].id}.evaluable"]
                prev_r = record[f"stage.{plan.stages[before].id}.responders"]
                assert e <= prev_v - prev_r
        assert inside.sum() + outcome.turned_away[s] == attempts
        assert record[f"stage.{stage.id}.turned_away"] == outcome.turned_away[s]
    # -- leaving the study ---------------------------------------------------------------
    if n:
        assert not np.any(np.isnan(outcome.off_week))
        last_exit = np.nanmax(np.where(exited, outcome.exit_week, -np.inf), axis=0)
        assert np.all(outcome.off_week >= last_exit - EPS)
        responder = outcome.responded.any(axis=0)
        assert np.all(
            outcome.off_week[responder] >= registration[responder] + plan.continue_to_weeks - EPS
        )
        assert record["last_patient_off_week"] == pytest.approx(outcome.off_week.max())
        if complete:
            assert record["analysis_week"] == pytest.approx(np.nanmax(outcome.exit_week))
            if plan.stages[0].max_entries >= n:
                assert record["analysis_week"] >= record["last_registration_week"]
        assert record["last_patient_off_week"] >= record["analysis_week"] - EPS or not complete
    if not complete:
        assert record["analysis_week"] == plan.cutoff_week
    # -- endpoints -------------------------------------------------------------------------
    for endpoint in plan.endpoints:
        denominator = record[f"endpoint.{endpoint.id}.denominator"]
        responders = record[f"endpoint.{endpoint.id}.responders"]
        first = plan.stages[endpoint.stages[0]].id
        assert 0 <= responders <= denominator
        if endpoint.population_entered:
            assert denominator == record[f"stage.{first}.entered"]
        else:
            assert denominator == record[f"stage.{first}.evaluable"]
        if len(endpoint.stages) == 1:
            assert responders == record[f"stage.{first}.responders"]
        assert record[f"endpoint.{endpoint.id}.reject"] in (0.0, 1.0)


def load_plan(load_dict, scenario):
    return compile_plan(load_dict(scenario).spec)


def two_stage_dict(minimal_scenario):
    scenario = copy.deepcopy(minimal_scenario)
    scenario["enrollment"]["screen_failure"] = 0.3
    scenario["enrollment"]["accrual"]["ramp_up_months"] = 3
    scenario["stages"][0]["not_evaluable"] = 0.1
    scenario["stages"][0]["adverse_events"] = [
        {"name": "neutropenia", "grade": 3, "probability": 0.1},
        {"name": "rash", "grade": 1, "probability": 0.2},
    ]
    scenario["stages"][1]["dropout"] = 0.3
    scenario["responders"] = {"continue_to_weeks": 30}
    scenario["endpoints"].append(
        {
            "id": "overall",
            "stages": ["first", "second"],
            "population": "entered",
            "rule": {"test": "exact_binomial", "p0": 0.2},
        }
    )
    return scenario


def test_invariants_shipped_scenario():
    plan = compile_plan(load_scenario(SHIPPED_2005).spec)
    count = 0
    for draws, _, outcome, record in trials(plan, seeds=(1, 2, 20051210), replicates=15):
        check_invariants(plan, draws, outcome, record)
        count += 1
    assert count == 3 * 15 * 2


def test_invariants_two_stage_with_events(load_dict, minimal_scenario):
    plan = load_plan(load_dict, two_stage_dict(minimal_scenario))
    for draws, _, outcome, record in trials(plan, seeds=(3, 4), replicates=25):
        check_invariants(plan, draws, outcome, record)


def test_data_cutoff_counts_nothing_after_the_cut(load_dict, minimal_scenario):
    scenario = two_stage_dict(minimal_scenario)
    scenario["analysis"] = {"cutoff": {"week": 30.0}}
    plan = load_plan(load_dict, scenario)
    later_entries = 0
    for draws, _, outcome, record in trials(plan, seeds=(5,), replicates=30):
        check_invariants(plan, draws, outcome, record)
        later_entries += int(np.sum(outcome.entry_week > 30.0))
        assert record["analysis_week"] == 30.0
    assert later_entries > 0, "the cut must actually remove entries for this test to mean anything"


def test_max_months_limits_registration(load_dict, minimal_scenario):
    scenario = two_stage_dict(minimal_scenario)
    scenario["enrollment"]["max_months"] = 4.0
    plan = load_plan(load_dict, scenario)
    short = 0
    for draws, _, outcome, record in trials(plan, seeds=(6,), replicates=30):
        check_invariants(plan, draws, outcome, record)
        assert np.all(draws.registration_week <= 4.0 * WEEKS_PER_MONTH)
        short += outcome.registered < plan.patients
    assert short > 0, "max_months must bind in this scenario"


def test_stage_cap_turns_patients_away(load_dict, minimal_scenario):
    scenario = two_stage_dict(minimal_scenario)
    scenario["stages"][1]["max_entries"] = 3
    scenario["stages"][1]["entry"] = 1.0
    plan = load_plan(load_dict, scenario)
    turned_away = 0
    for draws, _, outcome, record in trials(plan, seeds=(7,), replicates=20):
        check_invariants(plan, draws, outcome, record)
        assert record["stage.second.entered"] <= 3
        turned_away += record["stage.second.turned_away"]
    assert turned_away > 0


def test_subgroups_and_three_stages(load_dict, minimal_scenario):
    scenario = two_stage_dict(minimal_scenario)
    scenario["population"] = [{"name": "low", "weight": 0.25}, {"name": "high", "weight": 0.75}]
    scenario["stages"][0]["response"] = {"low": 0.6, "high": 0.1}
    scenario["stages"][1]["next_on_failure"] = "third"
    scenario["stages"].append(
        {
            "id": "third",
            "weeks": 4,
            "entry": 0.9,
            "response": 0.5,
            "null_response": 0.2,
            "not_evaluable": 0.2,
        }
    )
    plan = load_plan(load_dict, scenario)
    entered_third = 0
    for draws, _, outcome, record in trials(plan, seeds=(8, 9), replicates=20):
        check_invariants(plan, draws, outcome, record)
        entered_third += record["stage.third.entered"]
    assert entered_third > 0


def test_trial_with_no_registration(load_dict, minimal_scenario):
    """Accrual can close before the first registration: a valid, empty trial."""
    scenario = copy.deepcopy(minimal_scenario)
    scenario["enrollment"] = {
        "patients": 3,
        "accrual": {"rate_per_month": 0.001},
        "max_months": 1,  # P(nobody registered) = exp(-0.001)
    }
    loaded = load_dict(scenario)
    plan = compile_plan(loaded.spec)
    draws = draw_patients(plan, 1, 0)
    assert len(draws.registration_week) == 0
    outcome = simulate_trial(plan, draws, draws.response_rate)
    assert outcome.registered == 0
    record = RecordMaker(plan).record(0, ALTERNATIVE, draws, outcome, draws.response_rate)
    row = dict(zip(RecordMaker(plan).layout.columns, record, strict=True))
    assert row["registered"] == 0 and row["stage.first.entered"] == 0
    assert row["endpoint.primary.denominator"] == 0 and row["endpoint.primary.reject"] == 0
    result = run_trials(loaded, replicates=4, seed=1, jobs=1)
    assert result.mean(ALTERNATIVE, "registered") == 0
    assert result.histogram(ALTERNATIVE, "registered").quantile(0.95) == 0


# --- reproducibility and common random numbers ---------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    return load_scenario(SHIPPED_2005)


def test_same_tallies_for_any_number_of_jobs(shipped):
    one = run_trials(shipped, replicates=3 * CHUNK_REPLICATES + 20, seed=11, jobs=1)
    two = run_trials(shipped, replicates=3 * CHUNK_REPLICATES + 20, seed=11, jobs=2)
    assert two.jobs == 2
    assert tally_npz(one.tally) == tally_npz(two.tally)


def test_first_replicates_do_not_depend_on_run_length(shipped):
    plan = compile_plan(shipped.spec)
    short, short_weeks = simulate_chunk(plan, 12, 0, 260)
    long, long_weeks = simulate_chunk(plan, 12, 0, 520)
    assert np.array_equal(short, long[: 2 * 260])
    assert np.array_equal(short_weeks, long_weeks[:260], equal_nan=True)
    assert np.array_equal(simulate_chunk(plan, 12, 250, 260)[0], long[2 * 250 : 2 * 260])
    assert not np.array_equal(short, simulate_chunk(plan, 13, 0, 260)[0])


def test_a_grown_run_equals_a_run_of_that_length(shipped):
    whole = run_trials(shipped, replicates=4 * CHUNK_REPLICATES + 20, seed=16, jobs=1)
    half = run_trials(shipped, replicates=2 * CHUNK_REPLICATES, seed=16, jobs=1)
    grown = run_trials(shipped, replicates=whole.replicates, seed=16, jobs=2, resume=half.tally)
    assert tally_npz(grown.tally) == tally_npz(whole.tally)
    # Off the chunk grid, counts are equal and means equal up to rounding.
    uneven = run_trials(
        shipped,
        replicates=whole.replicates,
        seed=16,
        jobs=1,
        resume=run_trials(shipped, replicates=310, seed=16, jobs=1).tally,
    )
    for world in (ALTERNATIVE, NULL):
        got, want = uneven.world(world), whole.world(world)
        assert np.array_equal(got.moments.count, want.moments.count)
        assert np.allclose(got.moments.mean, want.moments.mean, rtol=1e-12, equal_nan=True)
        for a, b in zip(got.histograms, want.histograms, strict=True):
            assert np.array_equal(a.table.counts, b.table.counts)
    with pytest.raises(ValueError, match="shrink"):
        run_trials(shipped, replicates=half.replicates - 1, seed=16, jobs=1, resume=half.tally)


def test_records_stream_in_replicate_order_for_any_number_of_jobs(shipped):
    streamed: list[np.ndarray] = []
    run_trials(shipped, replicates=1020, seed=17, jobs=2, on_records=streamed.append)
    plan = compile_plan(shipped.spec)
    assert np.array_equal(np.vstack(streamed), simulate_chunk(plan, 17, 0, 1020)[0])


def test_draws_are_a_function_of_seed_and_replicate(shipped):
    plan = compile_plan(shipped.spec)
    a, b = draw_patients(plan, 5, 17), draw_patients(plan, 5, 17)
    for name in a.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.registration_week, draw_patients(plan, 5, 18).registration_week)


def test_worlds_share_registrations(shipped):
    """Common random numbers: both worlds register the same patients at the same weeks."""
    records, _ = simulate_chunk(compile_plan(shipped.spec), 14, 0, 300)
    alternative, null = records[ALTERNATIVE::2], records[NULL::2]
    layout = RecordLayout.for_plan(compile_plan(shipped.spec))
    columns = [
        "registered",
        "screened",
        "last_registration_week",
        "stage.vk2.entered",
        "stage.vk2.evaluable",
        "endpoint.vk2_response.denominator",
    ]
    for name in columns:
        assert np.array_equal(layout.column(alternative, name), layout.column(null, name)), name
    responders = "stage.vk2.responders"
    assert not np.array_equal(
        layout.column(alternative, responders), layout.column(null, responders)
    )


def test_worlds_couple_responses_monotonically(shipped):
    """With the same uniforms, a null-world responder (rate 0.05) also responds at 0.172."""
    plan = compile_plan(shipped.spec)
    null = null_response_rate(plan)
    differ = 0
    for replicate in range(40):
        draws = draw_patients(plan, 15, replicate)
        alt = simulate_trial(plan, draws, draws.response_rate)
        nul = simulate_trial(plan, draws, null)
        np.testing.assert_array_equal(alt.entry_week[0], nul.entry_week[0])
        np.testing.assert_array_equal(alt.exit_week[0], nul.exit_week[0])
        assert not np.any(nul.responded[0] & ~alt.responded[0])
        differ += int(np.sum(alt.responded[0] != nul.responded[0]))
    assert differ > 0


# --- property test over generated scenarios ------------------------------------------------

probability = st.floats(0.0, 1.0)


@st.composite
def scenarios(draw):
    groups = draw(st.integers(0, 3))
    names = [f"g{i}" for i in range(groups)]
    raw = [draw(st.integers(1, 5)) for _ in names]
    population = [{"name": n, "weight": w / sum(raw)} for n, w in zip(names, raw, strict=True)]
    n_stages = draw(st.integers(1, 3))
    stages = []
    for s in range(n_stages):
        stage = {
            "id": f"s{s}",
            "weeks": draw(st.floats(0.5, 30.0)),
            "null_response": draw(probability),
            "dropout": draw(st.floats(0.0, 0.95)),
            "not_evaluable": draw(probability),
            "adverse_events": [
                {
                    "name": f"ae{k}",
                    "grade": draw(st.integers(1, 5)),
                    "probability": draw(probability),
                }
                for k in range(draw(st.integers(0, 2)))
            ],
        }
        if groups and draw(st.booleans()):
            stage["response"] = {n: draw(probability) for n in names}
        else:
            stage["response"] = draw(probability)
        if s > 0:
            stage["entry"] = draw(probability)
            if draw(st.booleans()):
                stage["max_entries"] = draw(st.integers(1, 10))
        if s < n_stages - 1:
            stage["next_on_failure"] = f"s{s + 1}"
        stages.append(stage)
    enrollment = {
        "patients": draw(st.integers(1, 30)),
        "accrual": {
            "rate_per_month": draw(st.floats(0.2, 10.0)),
            "ramp_up_months": draw(st.sampled_from([0.0, 1.0, 6.0])),
        },
        "screen_failure": draw(st.floats(0.0, 0.9)),
    }
    if draw(st.booleans()):
        enrollment["max_months"] = draw(st.floats(0.5, 24.0))
    last = n_stages - 1
    scenario = {
        "name": "generated",
        "enrollment": enrollment,
        "stages": stages,
        "responders": {"continue_to_weeks": draw(st.floats(1.0, 100.0))},
        "discontinue_grade": draw(st.integers(1, 5)),
        "endpoints": [
            {
                "id": "e0",
                "stage": "s0",
                "population": draw(st.sampled_from(["evaluable", "entered"])),
                "rule": {
                    "test": "exact_binomial",
                    "p0": draw(st.floats(0.01, 0.99)),
                    "alpha": draw(st.floats(0.01, 0.3)),
                },
            },
            {
                "id": "e1",
                "stages": [f"s{s}" for s in range(n_stages)],
                "rule": {"test": "exact_binomial", "p0": 0.2},
            },
            {
                "id": "e2",
                "stage": f"s{last}",
                "population": "entered",
                "rule": {"test": "exact_binomial", "p0": 0.3},
            },
        ],
    }
    if population:
        scenario["population"] = population
    if draw(st.booleans()):
        scenario["analysis"] = {"cutoff": {"week": draw(st.floats(1.0, 200.0))}}
    return scenario, draw(st.integers(0, 2**32))


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(scenarios())
def test_invariants_hold_for_generated_scenarios(generated):
    scenario, seed = generated
    spec = validate_scenario(YamlDocument(scenario, {}), "generated.yaml")
    plan = compile_plan(spec)
    assert math.isclose(plan.subgroup_cumulative[-1], 1.0)
    for draws, _, outcome, record in trials(plan, seeds=(seed,), replicates=3):
        check_invariants(plan, draws, outcome, record)
    assert all(
        stage.next_stage == NO_STAGE or stage.next_stage == s + 1
        for s, stage in enumerate(plan.stages)
    )


@pytest.mark.parametrize("seed", [0, 1, 2026, 2**32 + 5, 2**63 - 1])
def test_replicate_generators_are_numpys_seed_sequence_children(seed: int) -> None:
    """The states computed for a whole range are what SeedSequence and PCG64 give one by one."""
    replicates = np.array([0, 1, 2, 499, 2**32 - 1, 2**32, 2**40 + 3, 9_999_999])
    for replicate, state in zip(replicates.tolist(), pcg64_states(seed, replicates), strict=True):
        bits = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(replicate,)))
        assert state == (bits.state["state"]["state"], bits.state["state"]["inc"]), replicate


def test_a_replicates_uniforms_are_read_from_its_own_generator() -> None:
    streams = ReplicateStreams(7, 10, 13)
    streams.begin(1)
    got = streams.uniforms(5, np.empty((3, 2)))
    want = np.random.Generator(np.random.PCG64(np.random.SeedSequence(7, spawn_key=(11,))))
    np.testing.assert_array_equal(got.ravel(), want.random(11)[5:])
