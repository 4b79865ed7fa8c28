"""The benchmark's bookkeeping and its minimal numpy model, without timing anything.

Owns the checks of ``benchmarks/``: the README's performance table is the one
rendered from the committed ``benchmarks/results.json`` (so a stale table
fails); the renderer, the ratios and the targets logic on small synthetic
results, passing and failing; and the minimal numpy model of the 2005 design
(the vectorised limit the benchmark compares against) rejects as often as the
exact binomial calculation says it should, within 4 Monte Carlo standard errors.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench  # noqa: E402 - the benchmarks folder is put on the path above
import minimal_numpy  # noqa: E402
import minimal_simpy  # noqa: E402
import readme_table  # noqa: E402

# --- the committed table --------------------------------------------------------------------


def test_readme_table_is_the_one_rendered_from_results_json() -> None:
    results = json.loads((BENCHMARKS / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert readme_table.marked_block(readme) == readme_table.render_table(results), (
        "regenerate with: python benchmarks/readme_table.py --write-readme"
    )


def test_committed_results_are_a_full_run() -> None:
    results = json.loads((BENCHMARKS / "results.json").read_text())
    assert results["quick"] is False
    assert results["settings"]["samples"] == 3
    for measurement in results["measurements"]:
        if measurement["available"]:
            assert len(measurement["samples"]) == 3, measurement["id"]
    assert {"cores", "python", "numpy", "numba", "date"} <= set(results["machine"])


# --- renderer and targets on synthetic results ----------------------------------------------


def measurement(row: str, samples: list[float] | None, label: str | None = None) -> dict[str, Any]:
    """A measurement as results.json holds it (``samples=None``: not available)."""
    return {
        "id": row,
        "label": label or f"label of {row}",
        "command": f"command of {row}",
        "kind": "whole process",
        "available": samples is not None,
        "samples": samples or [],
        "median": sorted(samples)[len(samples) // 2] if samples else None,
    }


def synthetic_results(baseline: float, other_scenario: float, jobs_two: float) -> dict[str, Any]:
    """Results of every kind of row: baseline, another scenario, workers, tools, in-process."""
    measurements = [
        measurement(bench.BASELINE, [baseline, baseline - 0.1, baseline + 0.1]),
        measurement("run/followup_capped", [other_scenario] * 3),
        measurement(bench.JOBS_ONE, [10.0, 10.0, 10.0]),
        measurement(bench.JOBS_TWO, [jobs_two] * 3),
        measurement("inprocess/minimal_numpy", [0.05, 0.05, 0.05]),
        measurement(bench.SIMON, [0.4, 0.5, 0.6]),
        measurement(bench.BOP2, None),
        measurement(bench.SAMPLESIZE, [40.0, 45.0, 50.0]),
    ]
    ratios = bench.compute_ratios(measurements)
    return {
        "quick": False,
        "machine": {
            "cores": 2,
            "python": "3.11.7",
            "numpy": "2.0.0",
            "numba": "0.60.0",
            "date": "2026-01-02",
            "load_average_start": 1.0,
            "load_average_end": 1.5,
        },
        "settings": {"samples": 3, "replicates": 10_000, "jobs_replicates": 100_000},
        "measurements": measurements,
        "ratios": ratios,
        "targets": bench.evaluate_targets(measurements, ratios),
    }


def status_of(results: dict[str, Any]) -> dict[str, str]:
    return {target["row"]: target["status"] for target in results["targets"]}


def test_ratios_are_to_the_2005_run_and_the_speedup_is_one_over_two_workers() -> None:
    results = synthetic_results(baseline=0.8, other_scenario=1.0, jobs_two=5.0)
    ratios = {ratio["row"]: ratio for ratio in results["ratios"]}
    assert ratios[bench.BASELINE]["value"] == 1.0
    assert ratios["run/followup_capped"]["value"] == pytest.approx(1.25)
    assert ratios["inprocess/minimal_numpy"]["value"] == pytest.approx(0.0625)
    assert ratios[bench.JOBS_TWO] == {
        "row": bench.JOBS_TWO,
        "kind": "speedup",
        "numerator": bench.JOBS_ONE,
        "denominator": bench.JOBS_TWO,
        "value": 2.0,
    }
    assert bench.SIMON not in ratios and bench.BOP2 not in ratios


def test_targets_pass() -> None:
    results = synthetic_results(baseline=0.8, other_scenario=1.0, jobs_two=5.0)
    assert status_of(results) == {
        bench.BASELINE: "pass",
        "run/followup_capped": "pass",
        bench.JOBS_TWO: "pass",
        bench.SIMON: "pass",
        bench.BOP2: "not available",
        bench.SAMPLESIZE: "fail",
    }


def test_targets_fail() -> None:
    results = synthetic_results(baseline=1.2, other_scenario=1.9, jobs_two=5.6)
    statuses = status_of(results)
    assert statuses[bench.BASELINE] == "fail"  # 1.2 s > 1.0 s
    assert statuses["run/followup_capped"] == "fail"  # 1.58x > 1.5x
    assert statuses[bench.JOBS_TWO] == "fail"  # 10 / 5.6 = 1.79x < 1.8x
    assert statuses[bench.SAMPLESIZE] == "fail"


def test_targets_at_their_thresholds() -> None:
    comparisons = bench.COMPARISONS
    assert comparisons["<="](1.0, 1.0) and comparisons[">="](1.8, 1.8)
    assert not comparisons["<"](1.0, 1.0)
    results = synthetic_results(baseline=1.0, other_scenario=1.5, jobs_two=10 / 1.8)
    statuses = status_of(results)
    assert statuses[bench.BASELINE] == "pass"
    assert statuses["run/followup_capped"] == "pass"


def test_a_target_applies_only_to_a_row_measured() -> None:
    results = synthetic_results(baseline=0.8, other_scenario=1.0, jobs_two=5.0)
    without_tools = [m for m in results["measurements"] if not m["id"].startswith("design/")]
    targets = bench.evaluate_targets(without_tools, bench.compute_ratios(without_tools))
    assert {target["row"] for target in targets} == {
        bench.BASELINE,
        "run/followup_capped",
        bench.JOBS_TWO,
        bench.SAMPLESIZE,
    }


def test_rendered_table() -> None:
    results = synthetic_results(baseline=0.8, other_scenario=1.0, jobs_two=5.0)
    lines = readme_table.render_table(results).splitlines()
    assert lines[0].startswith("Measured by `python benchmarks/bench.py` on 2026-01-02: 2 cores,")
    header = "| measurement | median (s) | runs (s) | ratio | target | result |"
    rows = lines[lines.index(header) + 2 : lines.index(header) + 2 + 8]
    assert rows == [
        f"| label of {bench.BASELINE} | 0.800 | 0.800, 0.700, 0.900 | 1.00 | ≤ 1 s | pass |",
        "| label of run/followup_capped | 1.00 | 1.00, 1.00, 1.00 | 1.25 | ≤ 1.5× 2005 | pass |",
        f"| label of {bench.JOBS_ONE} | 10.0 | 10.0, 10.0, 10.0 |  |  |  |",
        f"| label of {bench.JOBS_TWO} | 5.00 | 5.00, 5.00, 5.00 | 2.00× faster | ≥ 1.8× faster "
        "| pass |",
        "| label of inprocess/minimal_numpy | 0.0500 | 0.0500, 0.0500, 0.0500 | 0.0625 |  |  |",
        f"| label of {bench.SIMON} | 0.500 | 0.400, 0.500, 0.600 |  | < 1 s | pass |",
        f"| label of {bench.BOP2} | not available |  |  | < 1 s | not available |",
        f"| label of {bench.SAMPLESIZE} | 45.0 | 40.0, 45.0, 50.0 |  | < 30 s | fail |",
    ]


def test_quick_results_say_so_and_are_refused_by_the_readme(tmp_path: Path) -> None:
    results = synthetic_results(baseline=0.8, other_scenario=1.0, jobs_two=5.0)
    results["quick"] = True
    assert "`python benchmarks/bench.py --quick`" in readme_table.render_table(results)
    path = tmp_path / "quick.json"
    path.write_text(json.dumps(results))
    readme = tmp_path / "README.md"
    readme.write_text("text\n<!-- bench:start -->\nold\n<!-- bench:end -->\n")
    with pytest.raises(ValueError, match="quick"):
        readme_table.write_readme(path, readme)


def test_replace_table_touches_only_the_marked_block(tmp_path: Path) -> None:
    before = "# Title\n\nintro\n\n<!-- bench:start -->\nold table\n<!-- bench:end -->\n\nafter\n"
    replaced = readme_table.replace_table(before, "| new |")
    assert replaced == (
        "# Title\n\nintro\n\n<!-- bench:start -->\n\n| new |\n\n<!-- bench:end -->\n\nafter\n"
    )
    assert readme_table.marked_block(replaced) == "| new |"
    assert readme_table.replace_table(replaced, "| new |") == replaced
    results = synthetic_results(baseline=0.8, other_scenario=1.0, jobs_two=5.0)
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "README.md").write_text(before)
    table = readme_table.write_readme(tmp_path / "results.json", tmp_path / "README.md")
    assert readme_table.marked_block((tmp_path / "README.md").read_text()) == table


@pytest.mark.parametrize(
    "text",
    [
        "no markers",
        "<!-- bench:start --> only the start",
        "<!-- bench:end --> <!-- bench:start --> reversed",
        "<!-- bench:start --> <!-- bench:end --> <!-- bench:end --> twice",
    ],
)
def test_missing_or_misplaced_markers_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        readme_table.marked_block(text)


def test_synthetic_results_are_not_mutated_by_rendering() -> None:
    results = synthetic_results(baseline=0.8, other_scenario=1.0, jobs_two=5.0)
    snapshot = copy.deepcopy(results)
    readme_table.render_table(results)
    assert results == snapshot


# --- the minimal numpy model is a real model ------------------------------------------------


def scenario_2005() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "scenarios" / "vk2_d3_2005.yaml").read_text())
    return data


def test_minimal_models_use_the_2005_scenario_values() -> None:
    data = scenario_2005()
    stages = {stage["id"]: stage for stage in data["stages"]}
    for stage_id, model_stage in (("vk2", minimal_numpy.VK2), ("vk2_d3", minimal_numpy.VK2_D3)):
        stage = stages[stage_id]
        assert model_stage.dropout == stage["dropout"]
        assert model_stage.not_evaluable == stage["not_evaluable"]
        assert model_stage.response == stage["response"]
        assert model_stage.null_response == stage["null_response"]
        assert model_stage.entry == stage.get("entry", 1.0)
        assert stage["weeks"] == minimal_numpy.STAGE_WEEKS
        assert all(
            event["grade"] < data["discontinue_grade"] for event in stage.get("adverse_events", [])
        )
    assert data["enrollment"]["patients"] == minimal_numpy.PATIENTS
    accrual = data["enrollment"]["accrual"]
    months = minimal_numpy.WEEKS_PER_MONTH
    assert minimal_numpy.RATE_PER_WEEK * months == pytest.approx(accrual["rate_per_month"])
    assert minimal_numpy.RAMP_WEEKS / months == pytest.approx(accrual["ramp_up_months"])
    assert minimal_numpy.MAX_WEEKS / months == pytest.approx(data["enrollment"]["max_months"])
    rules = {endpoint["id"]: endpoint["rule"] for endpoint in data["endpoints"]}
    assert set(rules) == set(minimal_numpy.ENDPOINTS)
    for endpoint_id, rule in rules.items():
        assert rule["test"] == "exact_binomial"
        assert minimal_numpy.ENDPOINTS[endpoint_id].p0 == rule["p0"]
        assert minimal_numpy.ENDPOINTS[endpoint_id].alpha == rule["alpha"]
    simpy_rules = [(p0, alpha) for p0, alpha in minimal_simpy.ENDPOINTS]
    order = ("vk2_response", "d3_rescue", "overall")  # minimal_simpy's order
    assert simpy_rules == [(rules[i]["p0"], rules[i]["alpha"]) for i in order]


def scipy_critical(n: int, p0: float, alpha: float) -> int:
    """Smallest x with P(X >= x | n, p0) <= alpha, by scipy (n + 1 if none)."""
    return next((x for x in range(n + 1) if stats.binom.sf(x - 1, n, p0) <= alpha), n + 1)


def test_critical_values_agree_with_scipy() -> None:
    for p0, alpha in ((0.05, 0.05), (0.10, 0.05)):
        table = minimal_numpy.critical_values(p0, alpha)
        expected = [scipy_critical(n, p0, alpha) for n in range(minimal_numpy.PATIENTS + 1)]
        assert table.tolist() == expected
        assert [minimal_simpy.critical_value(n, p0, alpha) for n in range(44)] == expected


def exact_rejection(endpoint_id: str, world: int) -> float:
    """P(reject) of an endpoint of the 2005 scenario, from the scenario file and scipy.

    Every one of the 43 registered patients falls independently in the endpoint's
    denominator with probability q and, if in it, counts as a success with
    probability s; so the denominator is Binomial(43, q), the successes given it
    Binomial(n, s), and the test rejects when successes reach the critical value.
    (Registration closing at 60 months before 43 patients has probability < 1e-9.)
    """
    data = scenario_2005()
    first, second = data["stages"]
    rate = ("response", "null_response")[world]

    def completes(stage: dict[str, Any]) -> float:
        return (1 - stage["dropout"]) * (1 - stage["not_evaluable"])

    q1, r1 = completes(first), first[rate]
    q2 = q1 * (1 - r1) * second["entry"] * completes(second)
    r2 = second[rate]
    denominator_and_success = {
        "vk2_response": (q1, r1),
        "d3_rescue": (q2, r2),
        "overall": (q1, r1 + (1 - r1) * second["entry"] * completes(second) * r2),
    }
    q, s = denominator_and_success[endpoint_id]
    rule = next(e["rule"] for e in data["endpoints"] if e["id"] == endpoint_id)
    patients = data["enrollment"]["patients"]
    return math.fsum(
        stats.binom.pmf(n, patients, q)
        * stats.binom.sf(scipy_critical(n, rule["p0"], rule["alpha"]) - 1, n, s)
        for n in range(patients + 1)
    )


@pytest.fixture(scope="module")
def numpy_model_run() -> minimal_numpy.MinimalResult:
    return minimal_numpy.simulate(20_000, seed=2005)


@pytest.mark.parametrize("endpoint_id", ["vk2_response", "d3_rescue", "overall"])
@pytest.mark.parametrize("world", [0, 1], ids=["alternative", "null"])
def test_minimal_numpy_model_rejects_as_the_exact_binomial_says(
    numpy_model_run: minimal_numpy.MinimalResult, endpoint_id: str, world: int
) -> None:
    exact = exact_rejection(endpoint_id, world)
    simulated = numpy_model_run.rejections[endpoint_id][world]
    standard_error = math.sqrt(exact * (1 - exact) / numpy_model_run.replicates)
    assert abs(simulated - exact) <= 4 * standard_error, (simulated, exact, standard_error)


def test_exact_values_are_the_ones_trialsim_reports() -> None:
    # The test's own calculation against trialsim's exact engine (no simulation).
    from trialsim import exact_operating_characteristics, load_scenario

    exact = exact_operating_characteristics(load_scenario(ROOT / "scenarios" / "vk2_d3_2005.yaml"))
    for endpoint_id in ("vk2_response", "d3_rescue", "overall"):
        endpoint = exact[endpoint_id]
        assert exact_rejection(endpoint_id, 0) == pytest.approx(endpoint.alternative.rejection)
        assert exact_rejection(endpoint_id, 1) == pytest.approx(endpoint.null.rejection)


def test_minimal_numpy_model_is_reproducible_and_its_weeks_plausible() -> None:
    first, again = minimal_numpy.simulate(1_500, seed=7), minimal_numpy.simulate(1_500, seed=7)
    assert first == again
    # 43 patients at 1.8 a month after a 6-month ramp, then up to 32 weeks of treatment.
    assert 120 < first.analysis_week_mean[0] < 170
