"""Figures of a scenario comparison: rates with their errors, paired differences, distributions.

Like :mod:`trialsim.report.plots`, each plotting function takes an optional matplotlib
``Axes``, draws on it and returns it; matplotlib is imported inside the
functions only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from trialsim.planning.comparison import Comparison
from trialsim.report.canvas import set_title
from trialsim.report.plots import (
    ALTERNATIVE_COLOUR,
    LEGEND_HEADROOM,
    NULL_COLOUR,
    figure_png,
    histogram_edges,
    new_axes,
    percent_per_bin_of,
)
from trialsim.run.records import ALTERNATIVE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RateName = Literal["power", "type1_error"]

SCENARIO_COLOURS = (
    ALTERNATIVE_COLOUR,
    NULL_COLOUR,
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#17becf",
)
ERROR_BAR_SES = 2.0
EXACT_SHIFT = 0.07  # x offset of an exact value's tick from its simulated point (endpoint units)
POINT_SIZE = 5.0  # marker size of a simulated value, points
PERCENT = 100.0
RATE_NAMES = {"power": "power", "type1_error": "type I error"}
DISTRIBUTION_NAMES = {
    "registered": "patients registered",
    "analysis_week": "weeks from study start to the analysis",
    "last_patient_off_week": "weeks from study start to the last patient off treatment",
}


def scenario_colour(index: int) -> str:
    """Colour of the scenario at ``index`` (0 = reference) in every comparison figure."""
    return SCENARIO_COLOURS[index % len(SCENARIO_COLOURS)]


def _offsets(count: int) -> np.ndarray:
    """Horizontal offsets that spread ``count`` markers around an integer x position."""
    step = min(0.8 / count, 0.25)
    return (np.arange(count) - (count - 1) / 2) * step


def _endpoint_axis(ax: Axes, endpoint_ids: Sequence[str]) -> None:
    ax.set_xticks(range(len(endpoint_ids)), endpoint_ids)
    ax.set_xlim(-0.6, len(endpoint_ids) - 0.4)
    ax.set_xlabel("endpoint")


def plot_compared_rates(
    comparison: Comparison, metric: RateName = "power", ax: Axes | None = None
) -> Axes:
    """One rate per endpoint and scenario, with ± 2 Monte Carlo SE bars and the exact value.

    Parameters
    ----------
    comparison : Comparison
        From :func:`trialsim.compare`.
    metric : {"power", "type1_error"}
        Which endpoint rate to show.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        x: endpoints (scenarios side by side); y: the rate (proportion of trials).
    """
    ax = new_axes(ax)
    endpoint_ids = list(comparison.endpoints)
    labels = comparison.labels
    offsets = _offsets(len(labels))
    highest = 0.0
    for k, label in enumerate(labels):
        for i, endpoint_id in enumerate(endpoint_ids):
            value = comparison.endpoints[endpoint_id].metric(metric).values[k]
            if value is None:
                continue
            error = ERROR_BAR_SES * _finite_or_zero(value.se)
            ax.errorbar(
                i + offsets[k],
                value.value,
                yerr=error,
                fmt="o",
                markersize=POINT_SIZE,
                color=scenario_colour(k),
                capsize=3,
                label=label,
            )
            if value.exact is not None:
                _exact_marker(ax, i + offsets[k], value.exact, "exact value")
            highest = max(highest, value.value + error)
    _endpoint_axis(ax, [comparison.endpoint_label(i) for i in endpoint_ids])
    name = RATE_NAMES.get(metric, metric)
    ax.set_ylabel(f"{name} (share of simulated trials)")
    ax.set_ylim(0, max(highest, 0.01) * 1.1)
    set_title(
        ax,
        f"{_sentence(name)} by endpoint, {comparison.replicates} trials per scenario "
        f"(bars: ± {ERROR_BAR_SES:g} SE)",
        fontsize="medium",
    )
    _legend_once(ax)
    return ax


def plot_paired_differences(
    comparison: Comparison, metric: RateName = "power", ax: Axes | None = None
) -> Axes:
    """Each scenario's rate minus the reference's, per endpoint, with paired and unpaired errors.

    Thick bars are ± 2 paired standard errors (common random numbers), thin grey
    bars ± 2 unpaired ones (what independent runs would give); black ticks
    are exact differences. Differences are shown in percentage points, which
    keeps the tick labels short. Endpoints missing from a scenario or from the
    reference have no difference and are left empty.

    Parameters
    ----------
    comparison : Comparison
        From :func:`trialsim.compare`.
    metric : {"power", "type1_error"}
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        x: endpoints; y: difference in the rate (percentage points: 100 × proportion).
    """
    ax = new_axes(ax)
    endpoint_ids = list(comparison.endpoints)
    labels = comparison.labels
    offsets = _offsets(len(labels) - 1)
    for k in range(1, len(labels)):
        for i, endpoint_id in enumerate(endpoint_ids):
            difference = comparison.endpoints[endpoint_id].metric(metric).differences[k]
            if difference is None:
                continue
            x = i + offsets[k - 1]
            y = PERCENT * difference.difference
            ax.errorbar(
                x,
                y,
                yerr=PERCENT * ERROR_BAR_SES * _finite_or_zero(difference.se_unpaired),
                fmt="none",
                ecolor="0.6",
                elinewidth=1.0,
                capsize=6,
                label="unpaired SE (independent runs)",
            )
            ax.errorbar(
                x,
                y,
                yerr=PERCENT * ERROR_BAR_SES * _finite_or_zero(difference.se),
                fmt="o",
                markersize=POINT_SIZE,
                color=scenario_colour(k),
                elinewidth=2.5,
                capsize=3,
                label=f"{labels[k]} − {labels[0]} (paired SE)",
            )
            if difference.exact is not None:
                _exact_marker(ax, x, PERCENT * difference.exact, "exact difference")
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    _endpoint_axis(ax, [comparison.endpoint_label(i) for i in endpoint_ids])
    name = RATE_NAMES.get(metric, metric)
    ax.set_ylabel(f"difference in {name} (percentage points)")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high + (high - low) * (LEGEND_HEADROOM - 1.0))
    set_title(
        ax,
        f"{_sentence(name)} minus {labels[0]}'s, per endpoint (bars: ± {ERROR_BAR_SES:g} SE)",
        fontsize="medium",
    )
    _legend_once(ax)
    return ax


def plot_compared_distributions(
    comparison: Comparison, column: str = "analysis_week", ax: Axes | None = None
) -> Axes:
    """Overlaid distributions of one per-replicate quantity, one step histogram per scenario.

    Parameters
    ----------
    comparison : Comparison
        From :func:`trialsim.compare`: its runs, the reference first.
    column : str
        A record column of the alternative world, e.g. ``"analysis_week"``
        (weeks) or ``"registered"`` (patients); whole-number columns get one
        bin per value. Drawn from each run's histogram of the column.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        x: the quantity; y: percent of simulated trials per bin. Dashed lines mark medians.
    """
    ax = new_axes(ax)
    results = comparison.results
    histograms = [result.histogram(ALTERNATIVE, column) for result in results]
    edges = histogram_edges(histograms, results[0].replicates)
    percent = [percent_per_bin_of(histogram, edges) for histogram in histograms]
    highest = max(float(p.max()) for p in percent)
    for k, (label, histogram, share) in enumerate(
        zip(comparison.labels, histograms, percent, strict=True)
    ):
        colour = scenario_colour(k)
        median = histogram.quantile(0.5)
        ax.stairs(
            share, edges, color=colour, linewidth=1.6, label=f"{label}: median {round(median, 1):g}"
        )
        ax.axvline(median, color=colour, linestyle="--", linewidth=1.1)
    ax.set_xlabel(DISTRIBUTION_NAMES.get(column, column.replace("_", " ")))
    ax.set_ylabel("simulated trials (% per bin)")
    ax.set_ylim(0, highest * 1.05 * LEGEND_HEADROOM)
    set_title(
        ax,
        f"{results[0].replicates} simulated trials per scenario (alternative world)",
        fontsize="medium",
    )
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


def _sentence(text: str) -> str:
    """``text`` with its first letter in upper case (unlike str.capitalize, keeps "I")."""
    return text[:1].upper() + text[1:]


def _finite_or_zero(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else 0.0


def _exact_marker(ax: Axes, x: float, y: float, label: str) -> None:
    """A short black horizontal tick at an exact value, just right of the simulated point."""
    ax.plot(
        x + EXACT_SHIFT,
        y,
        marker="_",
        markersize=10,
        markeredgewidth=2.0,
        color="black",
        zorder=3,
        label=label,
    )


def _legend_once(ax: Axes) -> None:
    """A legend with one entry per distinct label (plots repeat labels per endpoint)."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(list(unique.values()), list(unique), loc="best", fontsize="small", frameon=False)


def comparison_figures(comparison: Comparison) -> dict[str, bytes]:
    """Every figure of a comparison, as PNG files.

    Parameters
    ----------
    comparison : Comparison
        From :func:`trialsim.compare`.

    Returns
    -------
    dict of str to bytes
        ``power.png`` and ``type1_error.png``; ``power_difference.png`` and
        ``type1_error_difference.png`` when some endpoint is shared with the
        reference; ``analysis_week.png`` and ``registered.png``.
    """
    endpoint_count = max(len(comparison.endpoints), 1)
    scenarios = len(comparison.scenarios)
    width = float(np.clip(1.2 + endpoint_count * max(1.3, 0.35 * scenarios), 6.4, 14.0))
    figures = {}
    rates: tuple[RateName, ...] = ("power", "type1_error")
    for metric in rates:
        figures[f"{metric}.png"] = figure_png(plot_compared_rates, comparison, metric, width=width)
        if _has_differences(comparison, metric):
            figures[f"{metric}_difference.png"] = figure_png(
                plot_paired_differences, comparison, metric, width=width
            )
    for column in ("analysis_week", "registered"):
        figures[f"{column}.png"] = figure_png(plot_compared_distributions, comparison, column)
    return figures


def _has_differences(comparison: Comparison, metric: RateName) -> bool:
    return any(
        difference is not None
        for endpoint in comparison.endpoints.values()
        for difference in endpoint.metric(metric).differences
    )
