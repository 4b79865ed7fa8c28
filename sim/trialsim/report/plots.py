"""Figures of a Monte Carlo run.

Each plotting function takes the data and an optional matplotlib ``Axes``,
draws on it and returns it, so figures can be composed freely::

    from matplotlib.figure import Figure
    axes = Figure(figsize=(12, 4)).subplots(1, 2)
    plot_duration(result, ax=axes[0])
    plot_enrollment(result, ax=axes[1])

Without ``ax`` a new pyplot figure is made (reach it as ``ax.figure``), so
notebooks show it; figures drawn to files use no pyplot. matplotlib is
imported inside the functions only: importing this module does not import
matplotlib. This module draws the run-level figures (duration, enrollment)
and all of a run's figures as PNG files; the endpoint figures are in
:mod:`trialsim.report.endpoint_plots` and the drawing surface in
:mod:`trialsim.report.canvas`, whose public names are importable from here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from trialsim.model.plan import WEEKS_PER_MONTH
from trialsim.report.canvas import (
    ALTERNATIVE_COLOUR,
    BAND_QUANTILES,
    DPI,
    LARGEST_MARKER_AREA,
    LEGEND_HEADROOM,
    MAX_GRID_WEEKS,
    NULL_COLOUR,
    figure_png,
    new_axes,
    set_title,
)
from trialsim.report.endpoint_plots import plot_comparison, plot_endpoint, rejection_boundary
from trialsim.run.histogram import Histogram
from trialsim.run.records import ALTERNATIVE
from trialsim.run.tally import registration_positions

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from trialsim.run.runner import SimulationResult

__all__ = [
    "ALTERNATIVE_COLOUR",
    "DPI",
    "LARGEST_MARKER_AREA",
    "LEGEND_HEADROOM",
    "NULL_COLOUR",
    "all_figures",
    "draw_figures",
    "figure_names",
    "figure_png",
    "histogram_edges",
    "new_axes",
    "percent_per_bin_of",
    "plot_comparison",
    "plot_duration",
    "plot_endpoint",
    "plot_enrollment",
    "registration_count_quantiles",
    "rejection_boundary",
]


def plot_duration(result: SimulationResult, ax: Axes | None = None) -> Axes:
    """Distribution of the trial's duration across replicates (alternative world).

    Two step histograms on one axis: the week of the analysis (last assessment
    analysed, or the data cutoff) and the week the last patient finishes
    treatment, each with a dashed line at its median.

    Parameters
    ----------
    result : SimulationResult
        From :func:`trialsim.run.runner.run_trials`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        x: calendar weeks from study start; y: percent of simulated trials per bin.

    Examples
    --------
    >>> from trialsim import load_scenario, run_trials
    >>> result = run_trials(load_scenario("scenarios/vk2_d3_2005.yaml"), 200, seed=1, jobs=1)
    >>> plot_duration(result).get_xlabel()
    'calendar time from study start (weeks)'
    """
    ax = new_axes(ax)
    series = (
        ("analysis", result.histogram(ALTERNATIVE, "analysis_week"), ALTERNATIVE_COLOUR),
        (
            "last patient off treatment",
            result.histogram(ALTERNATIVE, "last_patient_off_week"),
            NULL_COLOUR,
        ),
    )
    edges = histogram_edges([histogram for _, histogram, _ in series], result.replicates)
    percent_per_bin = [percent_per_bin_of(histogram, edges) for _, histogram, _ in series]
    highest_bin = max(float(percent.max()) for percent in percent_per_bin)
    for (name, histogram, colour), percent in zip(series, percent_per_bin, strict=True):
        ax.stairs(percent, edges, color=colour, linewidth=1.6, label=name)
        median = histogram.quantile(0.5)
        ax.vlines(
            median,
            0,
            highest_bin * 1.05,
            color=colour,
            linestyle="--",
            linewidth=1.2,
            label=f"median {name}: {median:.1f} weeks ({median / WEEKS_PER_MONTH:.1f} months)",
        )
    ax.set_xlabel("calendar time from study start (weeks)")
    ax.set_ylabel("simulated trials (% per bin)")
    ax.set_ylim(0, highest_bin * 1.05 * LEGEND_HEADROOM)
    set_title(ax, f"Trial duration, {result.replicates} simulated trials")
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


def histogram_edges(histograms: Sequence[Histogram], replicates: int) -> np.ndarray:
    """Bin edges spanning every histogram: one bin per value for whole numbers, else
    about sqrt(replicates) bins (10 to 50)."""
    samples = [histogram.values_and_counts()[0] for histogram in histograms]
    everything = np.concatenate(samples)
    if all(histogram.resolution == 1.0 for histogram in histograms):
        return np.arange(everything.min() - 0.5, everything.max() + 1.5)
    bin_count = int(np.clip(math.sqrt(replicates), 10, 50))
    return np.histogram_bin_edges(everything, bins=bin_count)


def percent_per_bin_of(histogram: Histogram, edges: np.ndarray) -> np.ndarray:
    """Percent of the counted values in each bin of ``edges``."""
    values, counts = histogram.values_and_counts()
    return 100.0 * np.histogram(values, bins=edges, weights=counts)[0] / max(counts.sum(), 1)


def registration_count_quantiles(
    registration: Histogram,
    positions: np.ndarray,
    replicates: int,
    weeks: np.ndarray,
    quantiles: tuple[float, ...] = BAND_QUANTILES,
) -> np.ndarray:
    """Quantiles across replicates of the number registered by each week.

    Parameters
    ----------
    registration : Histogram
        Of (position index, week) of the k-th registration, as in
        :class:`trialsim.run.tally.RunTally`: with resolution r, bin ``c`` counts
        registrations in ((c - 1) r, c r].
    positions : ndarray of int
        The 0-based patient positions k the table's first index refers to.
    replicates : int
        Replicates tallied (a position missing in a replicate was never reached).
    weeks : ndarray of int, shape (grid,)
        Increasing whole calendar weeks at which to count.
    quantiles : tuple of float
        Probabilities in [0, 1].

    Returns
    -------
    ndarray of int, shape (len(quantiles), grid)
        ``out[i, j]``: the ``quantiles[i]`` quantile (inverse of the empirical
        distribution function) of the number registered at or before ``weeks[j]``.
        With every position tallied this is exact; otherwise the number counts
        whole positions only.
    """
    cells, counts = registration.table.items()
    by_week = np.zeros((len(positions), len(weeks)), dtype=np.int64)
    column = np.searchsorted(weeks, cells[:, 1] * registration.resolution, side="left")
    inside = column < len(weeks)
    np.add.at(by_week, (cells[inside, 0], column[inside]), counts[inside])
    # P(at least positions[i] + 1 registered by week w) = P(T_(positions[i]) <= w).
    reached = np.cumsum(by_week, axis=1) / max(replicates, 1)
    out = np.zeros((len(quantiles), len(weeks)), dtype=np.int64)
    registered = positions + 1
    for i, q in enumerate(quantiles):
        # The q-quantile is the largest count k with P(N >= k) > 1 - q.
        above = reached > 1 - q + 1e-12
        out[i] = np.where(above.any(axis=0), registered[::-1][np.argmax(above[::-1], axis=0)], 0)
    return out


def plot_enrollment(result: SimulationResult, ax: Axes | None = None) -> Axes:
    """Patients registered over calendar time: median and 5–95% band across replicates.

    Parameters
    ----------
    result : SimulationResult
        From :func:`trialsim.run.runner.run_trials`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        x: calendar weeks from study start (one-week grid); y: patients registered.

    Examples
    --------
    >>> from trialsim import load_scenario, run_trials
    >>> result = run_trials(load_scenario("scenarios/vk2_d3_2005.yaml"), 200, seed=1, jobs=1)
    >>> plot_enrollment(result).get_ylabel()
    'patients registered'
    """
    ax = new_axes(ax)
    registration = result.tally.registration
    cells, _ = registration.table.items()
    last_week = int(cells[:, 1].max() * registration.resolution) if len(cells) else 1
    step = max(int(registration.resolution), math.ceil(last_week / MAX_GRID_WEEKS))
    weeks = np.arange(0, last_week + step, step)
    low, median, high = registration_count_quantiles(
        registration,
        registration_positions(result.plan.patients),
        result.replicates,
        weeks,
        BAND_QUANTILES,
    )
    ax.fill_between(
        weeks,
        low,
        high,
        color=ALTERNATIVE_COLOUR,
        alpha=0.25,
        linewidth=0,
        label="5–95% of simulated trials",
    )
    ax.plot(
        weeks,
        median,
        color=ALTERNATIVE_COLOUR,
        linewidth=1.8,
        label="median",
        gid="enrollment-median",
    )
    target = result.plan.patients
    ax.axhline(
        target, color="0.35", linestyle=":", linewidth=1.2, label=f"planned sample size ({target})"
    )
    ax.set_xlabel("calendar time from study start (weeks)")
    ax.set_ylabel("patients registered")
    # Show time until 95% of the trials have finished registering, not to the slowest one.
    ninety_five_done = int(np.argmax(low >= low[-1]))
    ax.set_xlim(0, max(weeks[ninety_five_done] * 1.08, 1.0))
    ax.set_ylim(0, target * 1.06 + 0.5)
    set_title(ax, f"Registration, {result.replicates} simulated trials")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    return ax


def figure_names(result: SimulationResult) -> list[str]:
    """File names of a run's figures: duration, enrollment, then one per endpoint."""
    return [
        "duration.png",
        "enrollment.png",
        *(f"endpoint_{endpoint.id}.png" for endpoint in result.plan.endpoints),
    ]


def draw_figures(result: SimulationResult, names: Sequence[str]) -> dict[str, bytes]:
    """Draw the named figures (see :func:`figure_names`) as PNG files."""
    figures = {}
    for name in names:
        if name == "duration.png":
            figures[name] = figure_png(plot_duration, result)
        elif name == "enrollment.png":
            figures[name] = figure_png(plot_enrollment, result)
        else:
            endpoint_id = name.removeprefix("endpoint_").removesuffix(".png")
            figures[name] = figure_png(plot_endpoint, result, endpoint_id, width=6.4, height=4.6)
    return figures


def all_figures(result: SimulationResult) -> dict[str, bytes]:
    """Every figure of a run, as PNG files.

    Parameters
    ----------
    result : SimulationResult

    Returns
    -------
    dict of str to bytes
        ``"duration.png"``, ``"enrollment.png"`` and ``"endpoint_<id>.png"`` for
        each endpoint, in that order.
    """
    return draw_figures(result, figure_names(result))
