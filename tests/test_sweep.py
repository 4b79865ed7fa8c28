"""trialsim sweep: curves monotone where theory says so, exact values beside simulated ones,
outputs, figures and the command line."""

from __future__ import annotations

import csv
import io
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from test_cli import documented_examples, runner, workdir  # noqa: F401 - workdir is a fixture

from trialsim.cli.app import app
from trialsim.cli.sweep import sweep
from trialsim.planning.sweep import Sweep, run_sweep
from trialsim.report.curves import plot_operating_curve
from trialsim.report.grid_files import sweep_files
from trialsim.rules.validation import load_scenario
from trialsim.scenario.grid_values import parse_setting
from trialsim.scenario.load import LoadedScenario
from trialsim.scenario.variation import scenario_grid

from conftest import SHIPPED_2005

REPLICATES = 400
Z_LIMIT = 4.0


@pytest.fixture(scope="module")
def base() -> LoadedScenario:
    return load_scenario(SHIPPED_2005)


def run(base: LoadedScenario, *settings: str, replicates: int = REPLICATES) -> Sweep:
    points = scenario_grid(base, [parse_setting(text) for text in settings], "--set")
    return run_sweep(base, points, replicates=replicates, jobs=1)


@pytest.fixture(scope="module")
def response_sweep(base: LoadedScenario) -> Sweep:
    return run(base, "stages.vk2.response=0.05:0.35:0.05")


def column(result: Sweep, endpoint: str, field: str) -> np.ndarray:
    return np.array([getattr(row.endpoints[endpoint], field) for row in result.rows], dtype=float)


def test_power_never_falls_as_the_response_rate_rises(response_sweep: Sweep) -> None:
    # Common random numbers: every patient who responds at a rate responds at any higher
    # rate, so the simulated rejections of the VK2 endpoint are monotone replicate by
    # replicate, not only on average; the exact power is monotone in p for a fixed test.
    simulated = column(response_sweep, "vk2_response", "power")
    exact = column(response_sweep, "vk2_response", "power_exact")
    assert np.all(np.diff(simulated) >= 0), simulated
    assert np.all(np.diff(exact) > 0), exact
    assert simulated[-1] - simulated[0] > 0.4


def test_type_one_error_does_not_depend_on_the_alternative_rate(response_sweep: Sweep) -> None:
    for endpoint in response_sweep.endpoints:
        simulated = column(response_sweep, endpoint, "type1_error")
        exact = column(response_sweep, endpoint, "type1_error_exact")
        assert np.ptp(simulated) == 0, endpoint
        assert np.ptp(exact) == 0, endpoint


def test_simulated_values_agree_with_exact_ones_within_four_se(response_sweep: Sweep) -> None:
    checked = 0
    for endpoint in response_sweep.endpoints:
        for measure in ("power", "type1_error"):
            simulated = column(response_sweep, endpoint, measure)
            exact = column(response_sweep, endpoint, f"{measure}_exact")
            se = np.sqrt(exact * (1 - exact) / REPLICATES)
            finite = se > 0
            z = np.abs(simulated - exact)[finite] / se[finite]
            assert np.all(z < Z_LIMIT), (endpoint, measure, z)
            checked += int(finite.sum())
    assert checked >= 30


def test_faster_accrual_shortens_the_trial_and_leaves_power_alone(base: LoadedScenario) -> None:
    # From 2 patients a month on, the 60-month cap on registration almost never binds.
    result = run(base, "enrollment.accrual.rate_per_month=2:5:1", replicates=200)
    weeks = np.array([row.analysis_weeks_mean for row in result.rows])
    assert np.all(np.diff(weeks) < 0), weeks
    exact = column(result, "vk2_response", "power_exact")
    assert np.ptp(exact) < 1e-6, "with a complete cutoff, accrual changes time, not decisions"


def test_larger_enrollment_registers_exactly_that_many(base: LoadedScenario) -> None:
    result = run(base, "enrollment.patients=30:60:15", replicates=100)
    assert [row.registered_mean for row in result.rows] == [30.0, 45.0, 60.0]
    assert [row.registered_mean_exact for row in result.rows] == pytest.approx([30, 45, 60])


def test_grid_of_two_keys_has_every_combination(base: LoadedScenario) -> None:
    result = run(
        base,
        "stages.vk2.response=0.1:0.3:0.1",
        "enrollment.patients=30:50:20",
        replicates=100,
    )
    assert result.keys == ("stages.vk2.response", "enrollment.patients")
    assert [tuple(row.settings.values()) for row in result.rows] == [
        (0.1, 30),
        (0.1, 50),
        (0.2, 30),
        (0.2, 50),
        (0.3, 30),
        (0.3, 50),
    ]
    assert result.values() == {
        "stages.vk2.response": [0.1, 0.2, 0.3],
        "enrollment.patients": [30, 50],
    }


def test_files_hold_the_grid(response_sweep: Sweep) -> None:
    files = sweep_files(response_sweep)
    assert set(files) == {"sweep.csv", "sweep.json", "sweep.png"}
    rows = list(csv.DictReader(io.StringIO(files["sweep.csv"].decode())))
    assert len(rows) == len(response_sweep.rows)
    assert [float(r["stages.vk2.response"]) for r in rows] == pytest.approx(
        [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]
    )
    document = json.loads(files["sweep.json"])
    assert document["replicates"] == REPLICATES
    assert document["scenario"]["name"] == "vk2-d3-2005"
    assert len(document["rows"]) == len(rows)
    first_power = document["rows"][0]["endpoints"]["vk2_response"]["power"]
    assert first_power == pytest.approx(float(rows[0]["vk2_response.power"]))
    assert files["sweep.png"].startswith(b"\x89PNG")


def test_curve_draws_on_the_given_axes(response_sweep: Sweep) -> None:
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    try:
        returned = plot_operating_curve(
            response_sweep.rows, "stages.vk2.response", "vk2_response", target=0.8, ax=ax
        )
        assert returned is ax
        assert ax.get_xlabel() == "stages.vk2.response"
        drawn = [line for line in ax.get_lines() if len(line.get_xdata()) == 7]
        assert drawn, "one point per grid value"
    finally:
        plt.close(figure)


# ------------------------------------------------------------------ command line


@pytest.mark.usefixtures("workdir")
def test_documented_examples_run() -> None:
    examples = documented_examples(sweep)
    assert len(examples) >= 2
    for example in examples:
        result = runner.invoke(app, [*shlex.split(example)[1:], "--jobs", "1"])
        assert result.exit_code == 0, (example, result.output, result.stderr)
    assert (Path("results") / "vk2-d3-2005-sweep" / "sweep.csv").exists()
    assert (Path("results") / "accrual" / "sweep.png").exists()


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("stages.nowhere.response=0.1:0.2:0.1", ["--set", "stages.nowhere.response"]),
        ("stages.vk2.response=0.1:2:0.5", ["--set", "stages.vk2.response"]),
        ("stages.vk2.response=0.3:0.1:0.1", ["--set"]),
        ("stages.vk2.treatment=1:2:1", ["--set", "stages.vk2.treatment"]),
    ],
)
def test_bad_settings_exit_2_one_line_each_nothing_written(
    tmp_path: Path, setting: str, words: list[str]
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["sweep", str(SHIPPED_2005), "--set", setting, "--out", str(out), "--jobs", "1"]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines and all(word in result.stderr for word in words), result.stderr
    assert not out.exists()


def test_existing_results_are_kept_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("earlier results")
    words = ["sweep", str(SHIPPED_2005), "--set", "enrollment.patients=30:40:10"]
    words += ["--out", str(out), "--replicates", "50", "--jobs", "1"]
    for force in ([], ["--force"]):
        result = runner.invoke(app, [*words, *force])
        assert result.exit_code == 2
        assert "did not write (precious.txt)" in result.stderr
        assert (out / "precious.txt").read_text() == "earlier results"
    (out / "precious.txt").unlink()
    assert runner.invoke(app, [*words, "--quiet"]).exit_code == 0
    assert runner.invoke(app, [*words, "--quiet"]).exit_code == 2, "results are kept"
    result = runner.invoke(app, [*words, "--force", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    names = {p.name for p in out.iterdir()}
    assert names == {"sweep.csv", "sweep.json", "sweep.png", "manifest.json"}
