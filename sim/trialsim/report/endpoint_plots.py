"""Figures of one endpoint of a run: responders against denominator, or two groups compared.

matplotlib is imported inside the functions only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from trialsim.model.plan import EndpointPlan
from trialsim.report.canvas import (
    ALTERNATIVE_COLOUR,
    LARGEST_MARKER_AREA,
    LEGEND_HEADROOM,
    NULL_COLOUR,
    WORLD_IDS,
    new_axes,
    set_title,
)
from trialsim.run.records import ALTERNATIVE, NULL
from trialsim.run.tally import DIFFERENCE_CODES

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from trialsim.run.runner import SimulationResult


def _endpoint_plan(result: SimulationResult, endpoint_id: str) -> EndpointPlan:
    for endpoint in result.plan.endpoints:
        if endpoint.id == endpoint_id:
            return endpoint
    known = ", ".join(e.id for e in result.plan.endpoints)
    raise KeyError(f"no endpoint {endpoint_id!r}; the scenario has: {known}")


def rejection_boundary(result: SimulationResult, endpoint: EndpointPlan) -> np.ndarray:
    """Smallest responder count that rejects H0, for each denominator 0..patients.

    Raises
    ------
    ValueError
        For an endpoint whose decision has no such boundary (a two-group comparison).
    """
    boundary = endpoint.decision.boundary(result.plan.patients)
    if boundary is None:
        raise ValueError(f"endpoint {endpoint.id!r} has no single-group rejection boundary")
    return boundary


def plot_endpoint(result: SimulationResult, endpoint_id: str, ax: Axes | None = None) -> Axes:
    """Responders against denominator in every replicate, with the rejection boundary.

    Each marker is one (denominator, responders) pair; its area is proportional
    to the number of replicates that ended there. Alternative-world markers sit
    just left of the integer denominator, null-world markers just right. The
    black step line is the endpoint's decision boundary for each denominator
    (the exact critical value of an ``exact_binomial`` rule): a replicate on or
    above it rejects H0.

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
        gid ``"rejection-boundary"`` and y-values the decision's boundary
        (:meth:`~trialsim.rules.base.Decision.boundary`) at x = 0, 1, ..., patients.

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
        label=endpoint.decision.boundary_label(),
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
    set_title(
        ax,
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
        The ``id`` of an endpoint with a control group (``versus``).
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
    set_title(
        ax,
        f"{endpoint.id}: {endpoint.decision.boundary_label()}, "
        f"simulated power {rates[0]:.3f} "
        f"± {power_se:.3f}",
        fontsize="medium",
    )
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax
