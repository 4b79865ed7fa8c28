"""Simon two-stage rules inside the simulation, against Simon's exact values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from trialsim.exact.designs import simon_characteristics
from trialsim.model.draws import draw_patients, null_response_rate
from trialsim.model.plan import compile_plan
from trialsim.model.simulation import simulate_worlds
from trialsim.planning.summary import summarise
from trialsim.rules.validation import load_scenario
from trialsim.run.runner import run_trials
from trialsim.scenario.problems import ScenarioError

from conftest import simulated_records

REPLICATES = 3000


def simon_scenario(design, p0, p1, during="pause", patients=400, stage=0):
    r1, n1, r, n = design
    rule = {"test": "simon", "p0": p0, "r1": r1, "n1": n1, "r": r, "n": n, "during_interim": during}
    stages = [
        {
            "id": "first",
            "weeks": 16,
            "response": p1,
            "null_response": p0,
            "dropout": 0.2,
            "not_evaluable": 0.1,
            "next_on_failure": "second",
        },
        {"id": "second", "weeks": 12, "response": p1, "null_response": p0, "dropout": 0.1},
    ]
    if stage == 0:
        stages = stages[:1]
        del stages[0]["next_on_failure"]
    return {
        "name": "simon",
        "enrollment": {"patients": patients, "accrual": {"rate_per_month": 4.0}},
        "stages": stages,
        "endpoints": [{"id": "simon", "stage": stages[stage]["id"], "rule": rule}],
    }


def load(tmp_path: Path, scenario: dict):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return load_scenario(path)


def within(simulated, exact, se, what):
    assert abs(simulated - exact) <= 4 * se, f"{what}: {simulated} vs exact {exact} (SE {se})"


@pytest.mark.parametrize(
    ("design", "p0", "p1"),
    [((1, 10, 5, 29), 0.10, 0.30), ((0, 9, 2, 17), 0.05, 0.25), ((3, 13, 12, 43), 0.20, 0.40)],
)
def test_paused_first_stage_agrees_with_simon_exact_values(tmp_path, design, p0, p1):
    loaded = load(tmp_path, simon_scenario(design, p0, p1))
    result = run_trials(loaded, replicates=REPLICATES, seed=11, jobs=2)
    summary = summarise(result).to_dict()["endpoints"]["simon"]
    for world, rate in (("", p1), ("_null", p0)):
        exact = simon_characteristics(*design, rate)
        rejection = summary["power" if not world else "type1_error"]
        exact_value = summary["power_exact" if not world else "type1_error_exact"]
        assert exact_value == pytest.approx(exact.rejection)
        within(
            rejection,
            exact.rejection,
            math.sqrt(exact.rejection * (1 - exact.rejection) / REPLICATES),
            f"reject{world}",
        )
        early = summary[f"early_stop{world}"]
        assert summary[f"early_stop{world}_exact"] == pytest.approx(exact.early_termination)
        within(
            early,
            exact.early_termination,
            math.sqrt(exact.early_termination * (1 - exact.early_termination) / REPLICATES),
            f"early stop{world}",
        )
    exact = simon_characteristics(*design, p1)
    within(summary["evaluable_mean"], exact.expected_n, summary["evaluable_mean_se"], "EN")
    assert summary["evaluable_mean_exact"] == pytest.approx(exact.expected_n)


def test_pause_admits_no_one_while_the_interim_is_pending(tmp_path):
    loaded = load(tmp_path, simon_scenario((1, 10, 5, 29), 0.10, 0.30))
    result = run_trials(loaded, replicates=400, seed=3, jobs=1)
    layout = result.layout
    records = simulated_records(result)
    assert layout.column(records, "stage.first.overrun").max() == 0
    assert layout.column(records, "stage.first.turned_away").mean() > 0
    assert layout.column(records, "stage.first.evaluable").max() <= 29
    stopped = layout.column(records, "stage.first.stopped_early") == 1
    assert np.all(layout.column(records, "stage.first.evaluable")[stopped] == 10)
    assert np.all(layout.column(records, "endpoint.simon.reject")[stopped] == 0)


def test_continue_reports_the_patients_who_overrun_the_interim(tmp_path):
    loaded = load(tmp_path, simon_scenario((1, 10, 5, 29), 0.10, 0.30, during="continue"))
    summary = summarise(run_trials(loaded, replicates=400, seed=3, jobs=1)).to_dict()
    assert summary["stages"]["first"]["alternative"]["overrun"] > 1
    assert summary["endpoints"]["simon"]["power_exact"] is None


def test_registration_closes_with_a_monitored_first_stage(tmp_path):
    loaded = load(tmp_path, simon_scenario((1, 10, 5, 29), 0.10, 0.30))
    plan = compile_plan(loaded.spec)
    for replicate in range(30):
        draws = draw_patients(plan, 8, replicate)
        (outcome,) = simulate_worlds(plan, draws, [draws.response_rate])
        entered = ~np.isnan(outcome.entry_week[0])
        assert outcome.registered == entered.sum() < plan.patients
        last_exit = np.nanmax(outcome.exit_week[0])
        assert np.nanmax(outcome.entry_week[0]) <= last_exit


def test_stopping_a_later_stage_stops_re_registration(tmp_path):
    loaded = load(tmp_path, simon_scenario((1, 10, 5, 29), 0.10, 0.10, patients=150, stage=1))
    plan = compile_plan(loaded.spec)
    null = null_response_rate(plan)
    stopped_seen = 0
    for replicate in range(40):
        draws = draw_patients(plan, 4, replicate)
        (outcome,) = simulate_worlds(plan, draws, [null])
        if not outcome.stopped_early[1]:
            continue
        stopped_seen += 1
        assessed_evaluable = draws.evaluable[1] & ~np.isnan(outcome.exit_week[1])
        assessed = np.sort(outcome.exit_week[1][assessed_evaluable])
        interim_week = assessed[9]
        assert np.nanmax(outcome.entry_week[1]) <= interim_week
        assert outcome.turned_away[1] > 0
    assert stopped_seen > 10


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"stages": ["first"], "stage": None}, "simon_one_stage"),
        ({"population": "entered"}, "simon_evaluable"),
    ],
)
def test_simon_endpoint_rules(tmp_path, change, rule):
    scenario = simon_scenario((1, 10, 5, 29), 0.10, 0.30)
    endpoint = scenario["endpoints"][0]
    for key, value in change.items():
        if value is None:
            endpoint.pop(key)
        else:
            endpoint[key] = value
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, scenario)
    assert rule in [p.rule for p in caught.value.problems]


def test_impossible_simon_design_is_refused(tmp_path):
    scenario = simon_scenario((1, 10, 5, 29), 0.10, 0.30)
    scenario["endpoints"][0]["rule"]["n1"] = 40
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, scenario)
    (problem,) = caught.value.problems
    assert problem.key == "endpoints.0.rule" and "r1 < n1 < n" in problem.message
