"""Figures of a Monte Carlo run.

Each plotting function takes the data and an optional matplotlib ``Axes``,
draws on it and returns it, so figures can be composed freely::

    from matplotlib.figure import Figure
    axes = Figure(figsize=(12, 4)).subplots(1, 2)
    plot_duration(result, ax=axes[0])
    plot_enrollment(result, ax=axes[1])

Without ``ax`` a new :class:`matplotlib.figure.Figure` is made (reach it as
``ax.figure``); pyplot is never used, so no display or backend is needed.
matplotlib is imported inside the functions only: importing this module does
not import matplotlib.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from trialsim.model.plan import WEEKS_PER_MONTH, EndpointPlan
from trialsim.rules.binomial import critical_values
from trialsim.run.backends import fork_context, leave_interrupts_to_parent
from trialsim.run.histogram import Histogram
from trialsim.run.records import ALTERNATIVE, NULL
from trialsim.run.tally import DIFFERENCE_CODES, registration_positions

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from trialsim.run.runner import SimulationResult

DPI = 110
ALTERNATIVE_COLOUR = "#1f77b4"
NULL_COLOUR = "#e07b00"
BAND_QUANTILES = (0.05, 0.50, 0.95)
LARGEST_MARKER_AREA = 160.0  # points², for the most frequent (denominator, responders) pair
WORLD_IDS = (ALTERNATIVE, NULL)
MAX_GRID_WEEKS = 2000  # points of the registration curve, at most
LEGEND_HEADROOM = 1.45  # y-axis stretch that keeps the legend clear of the data
MARGINS_INCHES = {"left": 0.75, "right": 0.2, "bottom": 0.6, "top": 0.4}


def _new_figure(width: float, height: float, shown: bool = False) -> Figure:
    """A figure with room for one axes, with fixed margins in inches.

    Fixed margins instead of a layout engine: drawing is about three times
    faster, and every figure of a run has the same plot area. A ``shown``
    figure is made by pyplot, so that Jupyter and ``plt.show()`` display it;
    the others are drawn straight to files.
    """
    if shown:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(width, height))
    else:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=MARGINS_INCHES["left"] / width,
        right=1 - MARGINS_INCHES["right"] / width,
        bottom=MARGINS_INCHES["bottom"] / height,
        top=1 - MARGINS_INCHES["top"] / height,
    )
    return figure


def new_axes(ax: Axes | None) -> Axes:
    """``ax`` itself, or the axes of a new pyplot figure (shown by Jupyter and ``plt.show``)."""
    return ax if ax is not None else _new_figure(6.4, 4.0, shown=True).add_subplot()


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
    ax.set_title(f"Trial duration, {result.replicates} simulated trials")
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
    ax.set_title(f"Registration, {result.replicates} simulated trials")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    return ax


def _endpoint_plan(result: SimulationResult, endpoint_id: str) -> EndpointPlan:
    for endpoint in result.plan.endpoints:
        if endpoint.id == endpoint_id:
            return endpoint
    known = ", ".join(e.id for e in result.plan.endpoints)
    raise KeyError(f"no endpoint {endpoint_id!r}; the scenario has: {known}")


def rejection_boundary(result: SimulationResult, endpoint: EndpointPlan) -> np.ndarray:
    """Smallest responder count that rejects H0, for each denominator 0..patients."""
    if endpoint.final_min is None:
        return critical_values(result.plan.patients, endpoint.p0, endpoint.alpha)
    return np.full(result.plan.patients + 1, endpoint.final_min)


def plot_endpoint(result: SimulationResult, endpoint_id: str, ax: Axes | None = None) -> Axes:
    """Responders against denominator in every replicate, with the rejection boundary.

    Each marker is one (denominator, responders) pair; its area is proportional
    to the number of replicates that ended there. Alternative-world markers sit
    just left of the integer denominator, null-world markers just right. The
    black step line is the exact critical value for each denominator: a
    replicate on or above it rejects H0.

    Parameters
    ----------
    result : SimulationResult
        From :func:`trialsim.run.runner.run_trials`.
    endpoint_id : str
        An endpoint ``id`` of the scenario.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        x: denominator (patients); y: responders (patients). The boundary line has
        gid ``"rejection-boundary"`` and y-values
        ``critical_values(plan.patients, p0, alpha)`` at x = 0, 1, ..., patients.

    A two-group (``fisher``) endpoint is drawn by :func:`plot_comparison`.

    Raises
    ------
    KeyError
        When the scenario has no endpoint ``endpoint_id``.

    Examples
    --------
    >>> from trialsim import load_scenario, run_trials
    >>> result = run_trials(load_scenario("scenarios/vk2_d3_2005.yaml"), 200, seed=1, jobs=1)
    >>> plot_endpoint(result, "vk2_response").get_title()
    'vk2_response: simulated power 0.635 ± 0.034 (200 trials; marker area ∝ trials)'
    """
    from matplotlib.ticker import MaxNLocator

    ax = new_axes(ax)
    endpoint = _endpoint_plan(result, endpoint_id)
    if endpoint.compares_arms:
        return plot_comparison(result, endpoint_id, ax)
    prefix = f"endpoint.{endpoint.id}."
    pairs = {world: result.world(world).endpoint_pairs[endpoint.id].items() for world in WORLD_IDS}
    most_frequent = max(int(counts.max()) for _, counts in pairs.values())
    replicates = result.replicates
    rejection_rate = {world: result.mean(world, prefix + "reject") for world in WORLD_IDS}
    for world, name, colour, shift in (
        (ALTERNATIVE, "alternative world", ALTERNATIVE_COLOUR, -0.17),
        (NULL, "null world", NULL_COLOUR, 0.17),
    ):
        points, counts = pairs[world]
        ax.scatter(
            points[:, 0] + shift,
            points[:, 1],
            s=np.maximum(LARGEST_MARKER_AREA * counts / most_frequent, 3.0),
            color=colour,
            alpha=0.75,
            edgecolors="none",
            label=f"{name}: rejects in {rejection_rate[world]:.3f}",
            gid=f"{name} pairs",
        )

    denominators = np.arange(result.plan.patients + 1)
    critical = rejection_boundary(result, endpoint)
    observed = np.concatenate([points[:, 0] for points, _ in pairs.values()])
    left, right = float(observed.min()) - 1.0, float(observed.max()) + 1.0
    shown = (denominators >= left) & (denominators <= right)
    highest = max(
        float(np.concatenate([points[:, 1] for points, _ in pairs.values()]).max()),
        float(critical[shown].max()),
    )
    top = (highest + 1.0) * LEGEND_HEADROOM
    ax.fill_between(
        denominators,
        critical,
        top + 1.0,
        step="mid",
        color="0.5",
        alpha=0.12,
        linewidth=0,
        label="reject H0 (on or above the line)",
    )
    ax.plot(
        denominators,
        critical,
        drawstyle="steps-mid",
        color="black",
        linewidth=1.4,
        label=(
            f"exact critical value (p0 = {endpoint.p0:g}, α = {endpoint.alpha:g})"
            if endpoint.final_min is None
            else f"{endpoint.test}: reject with at least {endpoint.final_min} responders "
            "(unless stopped)"
        ),
        gid="rejection-boundary",
    )

    stages = " + ".join(result.plan.stages[s].id for s in endpoint.stages)
    first_stage = result.plan.stages[endpoint.stages[0]].id
    counted = "entered" if endpoint.population_entered else "evaluable"
    ax.set_xlabel(f"denominator: patients {counted} in stage {first_stage}")
    ax.set_ylabel(f"responders in {stages} (patients)")
    ax.set_xlim(left, right)
    ax.set_ylim(-0.7, top)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    power = rejection_rate[ALTERNATIVE]
    power_se = math.sqrt(power * (1 - power) / replicates)
    ax.set_title(
        f"{endpoint.id}: simulated power {power:.3f} ± {power_se:.3f} "
        f"({replicates} trials; marker area ∝ trials)",
        fontsize="medium",
    )
    ax.legend(loc="upper left", fontsize="small", frameon=False, markerscale=0.6)
    return ax


def plot_comparison(result: SimulationResult, endpoint_id: str, ax: Axes | None = None) -> Axes:
    """Observed difference in response rates of a two-group endpoint, per world.

    One histogram per world of the experimental minus the control response
    proportion across replicates (replicates with an empty group left out);
    the darker part of each bar is the replicates in which Fisher's test rejected.

    Parameters
    ----------
    result : SimulationResult
    endpoint_id : str
        The ``id`` of an endpoint with a ``fisher`` rule.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        x: difference in response proportions; y: percent of simulated trials per bin.

    Examples
    --------
    >>> from trialsim import load_scenario, run_trials
    >>> scenario = load_scenario("scenarios/randomised_upfront_d3.yaml")
    >>> result = run_trials(scenario, 200, seed=1, jobs=1)
    >>> plot_comparison(result, "d3_upfront").get_xlabel().splitlines()[0]
    'difference in response proportion'
    """
    ax = new_axes(ax)
    endpoint = _endpoint_plan(result, endpoint_id)
    bins = np.linspace(-1.0, 1.0, 81).tolist()
    rates = []
    spread = [0.0, 0.0]
    for world, name, colour in (
        (ALTERNATIVE, "alternative world", ALTERNATIVE_COLOUR),
        (NULL, "null world", NULL_COLOUR),
    ):
        cells, counts = result.world(world).endpoint_pairs[endpoint.id].items()
        difference = cells[:, 0] / DIFFERENCE_CODES
        rejected = cells[:, 1] > 0
        weight = 100.0 * counts / result.replicates
        rate = result.mean(world, f"endpoint.{endpoint.id}.reject")
        ax.hist(difference, bins=bins, weights=weight, color=colour, alpha=0.35, label=name)
        ax.hist(
            difference[rejected],
            bins=bins,
            weights=weight[rejected],
            color=colour,
            alpha=0.9,
            label=f"{name}: rejects in {rate:.3f}",
        )
        rates.append(rate)
        if difference.size:
            spread = [min(spread[0], difference.min()), max(spread[1], difference.max())]
    stages = " + ".join(result.plan.stages[s].id for s in endpoint.stages)
    control = " + ".join(result.plan.stages[s].id for s in endpoint.control_stages)
    ax.set_xlabel(f"difference in response proportion\n{stages} − {control}", fontsize="small")
    ax.set_ylabel("simulated trials (%)")
    ax.set_xlim(max(spread[0] - 0.05, -1.0), min(spread[1] + 0.05, 1.0))
    ax.set_ylim(top=ax.get_ylim()[1] * LEGEND_HEADROOM)
    power_se = math.sqrt(rates[0] * (1 - rates[0]) / result.replicates)
    ax.set_title(
        f"{endpoint.id}: Fisher α = {endpoint.alpha:g}, simulated power {rates[0]:.3f} "
        f"± {power_se:.3f}",
        fontsize="medium",
    )
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


def figure_png(
    plot: Callable[..., Axes],
    *args: Any,
    width: float = 6.4,
    height: float = 4.0,
    dpi: int = DPI,
    **kwargs: Any,
) -> bytes:
    """Draw one plot on a new figure and return it as PNG.

    Parameters
    ----------
    plot : callable
        A plotting function of this module (anything that accepts ``ax=``).
    *args, **kwargs
        Passed to ``plot``.
    width, height : float
        Figure size in inches.
    dpi : int
        Resolution in dots per inch.

    Returns
    -------
    bytes
        The PNG file.

    Examples
    --------
    >>> png = figure_png(plot_duration, result)  # doctest: +SKIP
    """
    figure = _new_figure(width, height)
    plot(*args, ax=figure.add_subplot(), **kwargs)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


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


def _warm_up() -> None:
    """Import matplotlib and load fonts, so the first real figure starts at once."""
    figure = _new_figure(2.0, 2.0)
    figure.text(0.5, 0.5, "0")
    figure.savefig(io.BytesIO(), format="png", dpi=20)


class BackgroundFigures:
    """Worker processes that draw a run's figures while the caller does other work.

    Drawing is the slowest step after the simulation, and importing matplotlib
    is much of it: the workers start (and import it) when this object is
    made, ideally before the simulation, and draw once :meth:`draw` is called.
    Use as a context manager so the workers are always shut down.

    Parameters
    ----------
    workers : int
        Processes to draw in; with 0, or without ``fork``, figures are drawn
        in this process by :meth:`collect`. One warm worker usually beats two
        cold ones: a second process would import matplotlib again.
    """

    def __init__(self, workers: int = 1):
        self._result: SimulationResult | None = None
        self._futures: list[Future[dict[str, bytes]]] = []
        self._pool: ProcessPoolExecutor | None = None
        self._workers = workers
        context = fork_context()
        if workers > 0 and context is not None:
            self._pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=leave_interrupts_to_parent
            )
            for _ in range(workers):
                self._pool.submit(_warm_up)

    def __enter__(self) -> BackgroundFigures:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=exc_info[0] is None, cancel_futures=True)

    def draw(self, result: SimulationResult) -> None:
        """Start drawing every figure of ``result``."""
        self._result = result
        if self._pool is not None:
            names = figure_names(result)
            groups = [names[i :: self._workers] for i in range(self._workers)]
            self._futures = [self._pool.submit(draw_figures, result, g) for g in groups if g]

    def collect(self) -> dict[str, bytes]:
        """``{file name: PNG bytes}`` in :func:`figure_names` order, waiting if needed."""
        if self._result is None:
            raise RuntimeError("call draw() first")
        if self._pool is None:
            return all_figures(self._result)
        drawn: dict[str, bytes] = {}
        for future in self._futures:
            drawn.update(future.result())
        return {name: drawn[name] for name in figure_names(self._result)}
