"""Figures: each plot draws on the axes it is given, with the right content."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats

from trialsim.report.plots import (
    all_figures,
    figure_png,
    plot_duration,
    plot_endpoint,
    plot_enrollment,
    registration_count_quantiles,
)
from trialsim.rules.binomial import critical_values
from trialsim.rules.validation import load_scenario
from trialsim.run.records import ALTERNATIVE
from trialsim.run.runner import SimulationResult, run_trials
from trialsim.run.tally import CountTable, Histogram, registration_positions

from conftest import simulated_records

SCENARIO = "scenarios/vk2_d3_2005.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result() -> SimulationResult:
    return run_trials(load_scenario(SCENARIO), replicates=200, jobs=1)


def new_axes():
    return Figure(figsize=(6.4, 4.0)).add_subplot()


def endpoint_ids(result: SimulationResult) -> list[str]:
    return [endpoint.id for endpoint in result.plan.endpoints]


def line_with_gid(ax, gid: str):
    matches = [line for line in ax.get_lines() if line.get_gid() == gid]
    assert len(matches) == 1, f"expected one line with gid {gid!r}"
    return matches[0]


def assert_labelled(ax) -> None:
    assert ax.get_xlabel().strip()
    assert ax.get_ylabel().strip()
    assert ax.get_title().strip()


def test_plot_duration_draws_on_given_axes(result):
    ax = new_axes()
    assert plot_duration(result, ax=ax) is ax
    assert_labelled(ax)
    assert "weeks" in ax.get_xlabel()


def test_plot_duration_marks_medians(result):
    ax = plot_duration(result, ax=new_axes())
    records = simulated_records(result, ALTERNATIVE)
    expected = sorted(
        float(np.quantile(result.layout.column(records, name), 0.5, method="inverted_cdf"))
        for name in ("analysis_week", "last_patient_off_week")
    )
    drawn = sorted(
        float(segment[0, 0])
        for collection in ax.collections
        for segment in collection.get_segments()
    )
    np.testing.assert_allclose(drawn, expected, atol=0.005 + 1e-9)  # weeks tallied to 0.01


def test_plot_duration_without_axes_makes_a_figure(result):
    ax = plot_duration(result)
    assert ax.figure is not None


def test_plot_enrollment_draws_on_given_axes(result):
    ax = new_axes()
    assert plot_enrollment(result, ax=ax) is ax
    assert_labelled(ax)
    assert "weeks" in ax.get_xlabel()


def test_plot_enrollment_median_rises_to_the_sample_size(result):
    ax = plot_enrollment(result, ax=new_axes())
    median = line_with_gid(ax, "enrollment-median").get_ydata()
    assert median[0] == 0
    assert np.all(np.diff(median) >= 0)
    assert median[-1] == result.plan.patients


@pytest.mark.parametrize("patients", [12, 450])
def test_registration_count_quantiles_match_numpy(patients):
    rng = np.random.default_rng(7)
    registration_weeks = np.sort(rng.uniform(0, 30, size=(57, patients)), axis=1)
    registration_weeks[::5, patients * 3 // 4 :] = np.nan  # some trials stop registering early
    positions = registration_positions(patients)
    chosen = registration_weeks[:, positions]
    rows, columns = np.nonzero(np.isfinite(chosen))
    table = Histogram(
        1.0, CountTable.of(np.column_stack([columns, np.ceil(chosen[rows, columns])]))
    )
    weeks = np.arange(0, 32)
    quantiles = (0.05, 0.5, 0.95)
    got = registration_count_quantiles(table, positions, len(registration_weeks), weeks, quantiles)
    by_week = (registration_weeks[:, :, None] <= weeks).sum(axis=1)  # NaN compares False
    # With positions left out, the count is rounded down to a tallied position.
    tallied = positions + 1
    by_week = np.where(by_week[..., None] >= tallied, tallied, 0).max(axis=-1)
    expected = np.quantile(by_week, quantiles, axis=0, method="inverted_cdf")
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_plot_endpoint_draws_on_given_axes(result, index):
    endpoint_id = endpoint_ids(result)[index]
    ax = new_axes()
    assert plot_endpoint(result, endpoint_id, ax=ax) is ax
    assert_labelled(ax)
    assert endpoint_id in ax.get_title()
    power = simulated_records(result, ALTERNATIVE)[
        :, result.layout.position[f"endpoint.{endpoint_id}.reject"]
    ].mean()
    assert f"{power:.3f}" in ax.get_title()


@pytest.mark.parametrize("index", [0, 1, 2])
def test_plot_endpoint_boundary_is_the_exact_critical_value(result, index):
    endpoint = result.plan.endpoints[index]
    p0, alpha = endpoint.decision.p0, endpoint.decision.alpha
    ax = plot_endpoint(result, endpoint.id, ax=new_axes())
    boundary = line_with_gid(ax, "rejection-boundary")
    denominators = np.asarray(boundary.get_xdata())
    critical = np.asarray(boundary.get_ydata())
    np.testing.assert_array_equal(denominators, np.arange(result.plan.patients + 1))
    np.testing.assert_array_equal(critical, critical_values(result.plan.patients, p0, alpha))
    # Independently of trialsim.rules.binomial: the smallest x with P(X >= x | n, p0) <= alpha.
    for n, x in zip(denominators, critical, strict=True):
        tail = stats.binom.sf(np.arange(n + 2) - 1, n, p0)
        assert x == int(np.argmax(tail <= alpha + 1e-12)), f"n = {n}"


def test_plot_endpoint_markers_count_every_replicate(result):
    endpoint_id = endpoint_ids(result)[0]
    ax = plot_endpoint(result, endpoint_id, ax=new_axes())
    scatters = [c for c in ax.collections if str(c.get_gid()).endswith("pairs")]
    assert len(scatters) == 2  # alternative and null world
    for scatter in scatters:
        offsets = scatter.get_offsets()
        assert len(offsets) >= 1
        assert np.all(np.abs(offsets[:, 0] - np.round(offsets[:, 0])) > 0.05)  # shifted off n


def test_plot_endpoint_unknown_id(result):
    with pytest.raises(KeyError, match="no endpoint"):
        plot_endpoint(result, "no_such_endpoint", ax=new_axes())


def test_figure_png_returns_png(result):
    png = figure_png(plot_duration, result, width=5, height=3)
    assert png.startswith(PNG_SIGNATURE)


def test_all_figures_are_png(result):
    figures = all_figures(result)
    expected = {"duration.png", "enrollment.png"} | {
        f"endpoint_{endpoint_id}.png" for endpoint_id in endpoint_ids(result)
    }
    assert set(figures) == expected
    for name, png in figures.items():
        assert png.startswith(PNG_SIGNATURE), name
        assert len(png) > 5000, name


def test_importing_plots_does_not_import_matplotlib():
    code = (
        "import sys, trialsim.report.plots\n"
        "loaded = [m for m in sys.modules if m == 'matplotlib' or m.startswith('matplotlib.')]\n"
        "assert not loaded, loaded\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("background", [False, True])
def test_background_figures_equal_figures_drawn_here(result, background):
    from trialsim.report.background import BackgroundFigures

    with BackgroundFigures(background) as figures:
        figures.draw(result)
        drawn = figures.collect()
    assert drawn == all_figures(result)


@pytest.fixture(scope="module")
def randomised_result() -> SimulationResult:
    return run_trials(load_scenario("scenarios/randomised_upfront_d3.yaml"), 400, jobs=1)


def test_comparison_histograms_count_every_replicate_and_every_rejection(randomised_result):
    ax = plot_endpoint(randomised_result, "d3_upfront", ax=Figure().add_subplot())
    bars = ax.containers  # all / rejected, for the alternative then the null world
    assert len(bars) == 4
    layout = randomised_result.layout
    for world, (everything, rejected) in enumerate((bars[:2], bars[2:])):
        records = simulated_records(randomised_result, world)
        reject = layout.column(records, "endpoint.d3_upfront.reject")
        both = (layout.column(records, "endpoint.d3_upfront.denominator") > 0) & (
            layout.column(records, "endpoint.d3_upfront.control_denominator") > 0
        )
        heights = [sum(bar.get_height() for bar in group) for group in (everything, rejected)]
        assert heights[0] == pytest.approx(100 * both.mean())
        assert heights[1] == pytest.approx(100 * (reject.astype(bool) & both).mean())
    assert "Fisher" in ax.get_title()


def test_figure_warm_up_draws_without_error():
    from trialsim.report.background import warm_up

    warm_up()  # runs unobserved in a background process, where an error would go unseen
