"""The public API: every name importable from ``trialsim``, typed, light to import, consistent.

The scenario-level functions agree with the lower-level ones they stand for: the exact values
with the summary's, ``compare`` with a paired run, ``sweep`` and ``find_sample_size`` with the
grid evaluation the command line runs.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from dataclasses import FrozenInstanceError

import pytest

import trialsim
from trialsim import (
    Comparison,
    SampleSizeSearch,
    Summary,
    Sweep,
    compare,
    exact_operating_characteristics,
    find_sample_size,
    load_scenario,
    run_trials,
    summarise,
    sweep,
)
from trialsim.planning.compare import compare_results
from trialsim.planning.paired import run_paired
from trialsim.planning.samplesize import find_sample_size as search_grid_points
from trialsim.planning.sweep import run_sweep
from trialsim.run.outputs import summary_json
from trialsim.scenario.grid_values import Setting
from trialsim.scenario.problems import ScenarioError
from trialsim.scenario.variation import scenario_grid

from conftest import SHIPPED_2005

SCENARIOS = sorted(SHIPPED_2005.parent.glob("*.yaml"))
HEAVY = ("matplotlib", "scipy.stats", "simpy", "pydantic", "numpy")


def test_import_is_light() -> None:
    code = f"import sys, trialsim; print([m for m in {HEAVY!r} if m in sys.modules])"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_documented() -> None:
    assert len(trialsim.__all__) == len(set(trialsim.__all__))
    for name in trialsim.__all__:
        value = getattr(trialsim, name)
        if name != "__version__":
            assert inspect.getdoc(value), name
    assert set(dir(trialsim)) >= set(trialsim.__all__)
    with pytest.raises(AttributeError):
        _ = trialsim.no_such_name


@pytest.mark.parametrize("name", [n for n in trialsim.__all__ if n != "__version__"])
def test_public_functions_return_no_any(name: str) -> None:
    value = getattr(trialsim, name)
    if inspect.isclass(value) or not callable(value):
        return
    returns = inspect.signature(value).return_annotation
    assert returns is not inspect.Signature.empty, f"{name} has no return annotation"
    assert not re.search(r"\bAny\b", str(returns)), f"{name} returns {returns}"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.stem)
def test_exact_values_per_scenario_equal_the_summary(path) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(path)
    summary = summarise(run_trials(scenario, replicates=20, seed=1, jobs=1))
    exact = exact_operating_characteristics(scenario)
    assert list(exact) == list(summary.endpoints)
    for endpoint_id, both in exact.items():
        e = summary.endpoints[endpoint_id]
        alternative, null = both.alternative, both.null
        assert e.power_exact == (None if alternative is None else alternative.rejection)
        assert e.evaluable_mean_exact == (
            None if alternative is None else alternative.denominator_mean
        )
        assert e.early_stop_exact == (
            None if alternative is None else alternative.early_termination
        )
        assert e.type1_error_exact == (None if null is None else null.rejection)
        assert e.early_stop_null_exact == (None if null is None else null.early_termination)


def test_the_exact_engine_answers_without_simulation_where_it_applies() -> None:
    exact = exact_operating_characteristics(load_scenario(SHIPPED_2005))
    assert set(exact) == {"vk2_response", "d3_rescue", "overall"}
    for both in exact.values():
        assert both.alternative is not None and both.null is not None
        assert 0 < both.null.rejection < 0.05 < both.alternative.rejection < 1
    calendar_cut = exact_operating_characteristics(
        load_scenario(SHIPPED_2005.parent / "followup_calendar_cut.yaml")
    )
    assert all(both.alternative is None for both in calendar_cut.values())


def test_summary_is_frozen_and_its_dict_is_summary_json() -> None:
    summary = summarise(run_trials(load_scenario(SHIPPED_2005), replicates=50, seed=3, jobs=1))
    assert isinstance(summary, Summary)
    with pytest.raises(FrozenInstanceError):
        summary.seed = 4  # type: ignore[misc]
    document = summary.to_dict()
    assert list(document) == [
        "trialsim_version",
        "scenario",
        "seed",
        "replicates",
        "jobs",
        "elapsed_seconds",
        "endpoints",
        "enrollment",
        "duration_weeks",
        "adverse_events",
        "stages",
    ]
    assert summary.to_json().encode() == summary_json(document)
    assert json.loads(summary.to_json())["endpoints"]["vk2_response"]["power"] == (
        summary.endpoints["vk2_response"].power
    )
    assert document["enrollment"]["registered"]["p95"] == summary.enrollment.registered.p95
    assert "arms" not in document["enrollment"]
    assert "versus" not in document["endpoints"]["vk2_response"]


def test_a_two_group_endpoint_has_its_control_group() -> None:
    scenario = load_scenario(SHIPPED_2005.parent / "randomised_upfront_d3.yaml")
    summary = summarise(run_trials(scenario, replicates=50, seed=3, jobs=1))
    comparisons = [e for e in summary.endpoints.values() if e.control is not None]
    assert comparisons
    document = summary.to_dict()
    for endpoint_id, e in summary.endpoints.items():
        entry = document["endpoints"][endpoint_id]
        if e.control is None:
            assert "versus" not in entry
        else:
            assert entry["versus"] == list(e.control.versus)
            assert entry["control_evaluable_mean"] == e.control.evaluable_mean
            assert list(entry)[-5:] == [
                "versus",
                "control_evaluable_mean",
                "control_evaluable_mean_se",
                "control_responders_mean",
                "control_responders_mean_se",
            ]
    assert set(summary.enrollment.arms) == set(document["enrollment"]["arms"])


def test_compare_is_a_paired_run_compared() -> None:
    base = load_scenario(SHIPPED_2005)
    larger = trialsim.apply_overrides(base, {"enrollment.patients": 60})
    comparison = compare([base, larger], replicates=100, seed=2, jobs=1)
    assert isinstance(comparison, Comparison)
    expected = compare_results(run_paired([base, larger], replicates=100, seed=2, jobs=1))
    assert comparison.to_json() == expected.to_json()
    assert [result.replicates for result in comparison.results] == [100, 100]
    gain = comparison.endpoints["vk2_response"].power.differences[1]
    assert gain is not None and gain.difference > 0 and gain.se < gain.se_unpaired
    with pytest.raises(ValueError, match="at least two"):
        compare([base], replicates=10, jobs=1)


def test_sweep_takes_ranges_or_values() -> None:
    base = load_scenario(SHIPPED_2005)
    by_range = sweep(base, {"stages.vk2.response": "0.1:0.3:0.1"}, replicates=50, jobs=1)
    by_values = sweep(base, {"stages.vk2.response": (0.1, 0.2, 0.3)}, replicates=50, jobs=1)
    assert isinstance(by_range, Sweep)
    assert by_range.as_dict()["rows"] == by_values.as_dict()["rows"]
    points = scenario_grid(base, [Setting("stages.vk2.response", (0.1, 0.2, 0.3))])
    plain = run_sweep(base, points, replicates=50, jobs=1)
    assert by_range.as_dict()["rows"] == plain.as_dict()["rows"]
    with pytest.raises(ScenarioError):
        sweep(base, {"stages.vk2.no_such_key": "1:2"}, replicates=50, jobs=1)


def test_find_sample_size_searches_enrollment_by_default() -> None:
    base = load_scenario(SHIPPED_2005)
    search = find_sample_size(base, "vk2_response", 0.8, values="40:80", replicates=100, jobs=1)
    assert isinstance(search, SampleSizeSearch)
    points = scenario_grid(base, [Setting("enrollment.patients", tuple(range(40, 81)))])
    plain = search_grid_points(base, points, "vk2_response", 0.8, 0.05, 100, jobs=1)
    assert (search.method, search.minimal, search.conservative) == (
        plain.method,
        plain.minimal,
        plain.conservative,
    )
    assert search.alpha == 0.05  # the rule's own alpha
    default = find_sample_size(base, "vk2_response", 0.8, replicates=100, jobs=1)
    values = [row.settings["enrollment.patients"] for row in default.rows]
    patients = base.spec.enrollment.patients
    assert (values[0], values[-1]) == (-(-patients // 4), 4 * patients)
    with pytest.raises(ValueError, match="give the values"):
        find_sample_size(base, "vk2_response", 0.8, vary="stages.vk2.dropout")
