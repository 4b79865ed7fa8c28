"""Operating characteristics at every point of a grid of varied scenarios.

One evaluation serves ``trialsim sweep`` and ``trialsim samplesize``: at each
point the exact values where the design admits them and, if asked, a
simulation. Every point is simulated with the same seed (common random
numbers), so differences between points are not blurred by independent noise.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from trialsim import __version__
from trialsim.exact.pathway import registrations_distribution
from trialsim.exact.scenario_values import plan_exact_characteristics
from trialsim.model.plan import TrialPlan, compile_plan
from trialsim.planning.summary import summarise
from trialsim.planning.summary_types import ScenarioSource
from trialsim.run.runner import run_trials
from trialsim.scenario.load import LoadedScenario
from trialsim.scenario.variation import GridPoint, Number

PointCallback = Callable[[int], None]


@dataclass(frozen=True)
class EndpointOutcome:
    """One endpoint's decisions at one grid point; None where not available.

    Attributes
    ----------
    power, type1_error : float or None
        Simulated probability of rejecting H0 in the alternative / null world.
    power_se, type1_error_se : float or None
        Their Monte Carlo standard errors.
    power_exact, type1_error_exact : float or None
        Exact values, where the design admits them.
    early_stop : float or None
        Simulated share of trials stopped at an interim (alternative world).
    """

    power: float | None
    power_se: float | None
    power_exact: float | None
    type1_error: float | None
    type1_error_se: float | None
    type1_error_exact: float | None
    early_stop: float | None


ENDPOINT_FIELDS = tuple(field.name for field in fields(EndpointOutcome))


@dataclass(frozen=True)
class GridRow:
    """Operating characteristics of the scenario at one grid point.

    Attributes
    ----------
    settings : dict of str to number
        The varied keys' values at this point.
    endpoints : dict of str to EndpointOutcome
    replicates : int
        Simulated trials per world; 0 when only exact values were computed.
    registered_mean : float or None
        Simulated mean number of patients registered.
    registered_mean_exact : float or None
        Its exact value, unless a monitoring rule can stop registration.
    analysis_weeks_mean : float or None
        Simulated mean calendar weeks from study start to the analysis.
    """

    settings: dict[str, Number]
    endpoints: dict[str, EndpointOutcome]
    replicates: int
    registered_mean: float | None
    registered_mean_exact: float | None
    analysis_weeks_mean: float | None

    def as_dict(self) -> dict[str, Any]:
        """The row as plain JSON-ready data."""
        return asdict(self)


def exact_outcomes(
    plan: TrialPlan, endpoint_ids: Collection[str] | None = None
) -> dict[str, EndpointOutcome]:
    """Exact power and type I error of the endpoints (None where not admitted).

    A rate drawn from a prior has no exact power (the simulation gives assurance).

    Parameters
    ----------
    plan : TrialPlan
    endpoint_ids : collection of str, optional
        The endpoints wanted (default: all).
    """
    return {
        endpoint_id: EndpointOutcome(
            power=None,
            power_se=None,
            power_exact=exact.alternative.rejection if exact.alternative else None,
            type1_error=None,
            type1_error_se=None,
            type1_error_exact=exact.null.rejection if exact.null else None,
            early_stop=None,
        )
        for endpoint_id, exact in plan_exact_characteristics(plan, endpoint_ids).items()
    }


def _exact_registered_mean(plan: TrialPlan) -> float | None:
    if plan.stages[0].interim is not None:
        return None
    probabilities = registrations_distribution(plan)
    return float(probabilities @ np.arange(len(probabilities)))


def evaluate_point(
    point: GridPoint,
    replicates: int,
    seed: int,
    jobs: int | None,
    simulate: bool,
    endpoint_ids: Collection[str] | None = None,
    scheduler: str | None = None,
) -> GridRow:
    """Exact values at one grid point and, if ``simulate``, simulated ones beside them.

    Parameters
    ----------
    point : GridPoint
    replicates : int
        Simulated trials per world.
    seed : int
        Base seed (the same at every point: common random numbers).
    jobs : int or None
        Worker processes for the simulation (default: all cores).
    simulate : bool
        False gives exact values only (fast; ``replicates`` is then 0).
    endpoint_ids : collection of str, optional
        The endpoints reported (default: all).
    scheduler : str, optional
        Address of a Dask distributed scheduler to simulate on instead of local processes.
    """
    plan = compile_plan(point.scenario.spec)
    outcomes = exact_outcomes(plan, endpoint_ids)
    registered_exact = _exact_registered_mean(plan)
    if not simulate:
        return GridRow(point.overrides, outcomes, 0, None, registered_exact, None)
    summary = summarise(run_trials(point.scenario, replicates, seed, jobs, scheduler=scheduler))
    for endpoint_id, exact in outcomes.items():
        simulated = summary.endpoints[endpoint_id]
        outcomes[endpoint_id] = EndpointOutcome(
            power=simulated.power,
            power_se=simulated.power_se,
            power_exact=exact.power_exact,
            type1_error=simulated.type1_error,
            type1_error_se=simulated.type1_error_se,
            type1_error_exact=exact.type1_error_exact,
            early_stop=simulated.early_stop,
        )
    return GridRow(
        settings=point.overrides,
        endpoints=outcomes,
        replicates=replicates,
        registered_mean=summary.enrollment.registered.mean,
        registered_mean_exact=registered_exact,
        analysis_weeks_mean=summary.duration_weeks.analysis.mean,
    )


def evaluate_grid(
    points: Sequence[GridPoint],
    replicates: int,
    seed: int,
    jobs: int | None = None,
    simulate: bool = True,
    endpoint_ids: Collection[str] | None = None,
    on_point: PointCallback | None = None,
    scheduler: str | None = None,
) -> list[GridRow]:
    """Evaluate every grid point (see :func:`evaluate_point`), in order.

    Parameters
    ----------
    points : sequence of GridPoint
    replicates, seed, jobs, simulate, endpoint_ids
        As for :func:`evaluate_point`.
    on_point : callable, optional
        Called with the number of points done so far.
    scheduler : str, optional
        Address of a Dask distributed scheduler to simulate on instead of local processes.

    Returns
    -------
    list of GridRow
        One per point.

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> from trialsim.scenario.grid_values import parse_setting
    >>> from trialsim.scenario.variation import scenario_grid
    >>> base = load_scenario("scenarios/vk2_d3_2005.yaml")
    >>> points = scenario_grid(base, [parse_setting("enrollment.patients=40:60:20")])
    >>> rows = evaluate_grid(points, replicates=200, seed=1, jobs=1)
    >>> [row.settings["enrollment.patients"] for row in rows]
    [40, 60]
    """
    rows = []
    for done, point in enumerate(points, start=1):
        rows.append(
            evaluate_point(point, replicates, seed, jobs, simulate, endpoint_ids, scheduler)
        )
        if on_point is not None:
            on_point(done)
    return rows


def grid_csv(rows: Sequence[GridRow], endpoint_ids: Sequence[str]) -> bytes:
    """CSV: one row per grid point; the keys, then ``<endpoint>.<field>`` columns.

    Empty cells are values not available (exact values the design does not
    admit, simulated values at points not simulated).
    """
    keys = list(rows[0].settings) if rows else []
    header = [
        *keys,
        *(f"{endpoint}.{name}" for endpoint in endpoint_ids for name in ENDPOINT_FIELDS),
        "registered_mean",
        "registered_mean_exact",
        "analysis_weeks_mean",
        "replicates",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        cells: list[Any] = [row.settings[key] for key in keys]
        for endpoint in endpoint_ids:
            outcome = row.endpoints[endpoint]
            cells += [getattr(outcome, name) for name in ENDPOINT_FIELDS]
        cells += [
            row.registered_mean,
            row.registered_mean_exact,
            row.analysis_weeks_mean,
            row.replicates,
        ]
        writer.writerow(["" if cell is None else _cell(cell) for cell in cells])
    return buffer.getvalue().encode()


def _cell(value: Number) -> str:
    return str(value) if isinstance(value, int) else f"{value:.10g}"


def scenario_record(loaded: LoadedScenario) -> dict[str, Any]:
    """Where the results came from: version, scenario name, file and its sha256."""
    return {"trialsim_version": __version__, "scenario": ScenarioSource.of(loaded).to_dict()}
