"""Power and type I error over a grid of scenario values (``trialsim sweep``).

Every grid point is simulated with the same seed (common random numbers), so
the curves are smoother than independent runs would give: a larger response
rate, for instance, turns exactly the same simulated patients into responders
and more.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trialsim.planning.grid import GridRow, PointCallback, evaluate_grid, scenario_record
from trialsim.scenario.load import LoadedScenario
from trialsim.scenario.variation import GridPoint, Number


@dataclass(frozen=True)
class Sweep:
    """A simulated grid and where it came from.

    Attributes
    ----------
    scenario : LoadedScenario
        The scenario before variation.
    keys : tuple of str
        The varied keys; the first is the x-axis of the figure.
    rows : list of GridRow
        One per grid point, the first key varying slowest.
    seed, replicates : int
        The same at every point.
    elapsed_seconds : float
        Wall time of the whole sweep.
    """

    scenario: LoadedScenario
    keys: tuple[str, ...]
    rows: list[GridRow]
    seed: int
    replicates: int
    elapsed_seconds: float

    @property
    def endpoints(self) -> list[str]:
        """Endpoint ids, in scenario order."""
        return [endpoint.id for endpoint in self.scenario.spec.endpoints]

    def values(self) -> dict[str, list[Number]]:
        """Each key's values in the grid."""
        return {key: sorted({row.settings[key] for row in self.rows}) for key in self.keys}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: provenance, the grid, and one row per point."""
        return {
            **scenario_record(self.scenario),
            "seed": self.seed,
            "replicates": self.replicates,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "grid": self.values(),
            "rows": [row.as_dict() for row in self.rows],
        }


def run_sweep(
    base: LoadedScenario,
    points: Sequence[GridPoint],
    replicates: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    on_point: PointCallback | None = None,
    scheduler: str | None = None,
) -> Sweep:
    """Simulate every grid point with the same seed; exact values beside.

    Parameters
    ----------
    base : LoadedScenario
        The scenario the grid varies.
    points : sequence of GridPoint
        From :func:`trialsim.scenario.variation.scenario_grid`.
    replicates : int, optional
        Simulated trials per world at each point (default: the scenario's).
    seed : int, optional
        Base seed (default: the scenario's).
    jobs : int, optional
        Worker processes (default: all cores).
    on_point : callable, optional
        Called with the number of points done so far.
    scheduler : str, optional
        Address of a Dask distributed scheduler to simulate on instead of local processes.

    Returns
    -------
    Sweep
    """
    started = time.perf_counter()
    replicates = base.spec.simulation.replicates if replicates is None else replicates
    seed = base.spec.simulation.seed if seed is None else seed
    rows = evaluate_grid(points, replicates, seed, jobs, on_point=on_point, scheduler=scheduler)
    keys = tuple(points[0].overrides)
    return Sweep(base, keys, rows, seed, replicates, time.perf_counter() - started)


def endpoint_alphas(scenario: LoadedScenario) -> dict[str, float | None]:
    """Each endpoint rule's alpha, where the rule has one."""
    return {e.id: getattr(e.rule, "alpha", None) for e in scenario.spec.endpoints}
