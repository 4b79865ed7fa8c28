"""The planning searches as :mod:`trialsim` offers them: keys and values in, no grid points.

:func:`sweep` and :func:`find_sample_size` build the validated grid of varied
scenarios from plain keys and values (a ``"LO:HI:STEP"`` range or a sequence
of numbers), then run :func:`trialsim.planning.sweep.run_sweep` or
:func:`trialsim.planning.samplesize.find_sample_size` on it. The defaults of
the sample-size search (the values searched, the alpha) are decided here, for
the command line too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from trialsim.planning.grid import PointCallback
from trialsim.planning.samplesize import MAX_SEARCH_VALUES, SampleSizeSearch, rule_alpha
from trialsim.planning.samplesize import find_sample_size as search_grid_points
from trialsim.planning.sweep import Sweep, run_sweep
from trialsim.scenario.grid_values import MAX_GRID_POINTS, Number, Setting, parse_values
from trialsim.scenario.load import LoadedScenario
from trialsim.scenario.variation import scenario_grid

ENROLLMENT = "enrollment.patients"
DEFAULT_ALPHA = 0.05
Values = str | Sequence[Number]


def _setting(key: str, values: Values, source: str, limit: int) -> Setting:
    """A key and its values: a ``"LO:HI[:STEP]"`` range (HI included) or the numbers given."""
    if isinstance(values, str):
        return Setting(key, parse_values(values, source, key, limit))
    return Setting(key, tuple(values))


def sweep(
    scenario: LoadedScenario,
    settings: Mapping[str, Values],
    replicates: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    on_point: PointCallback | None = None,
) -> Sweep:
    """Power and type I error over a grid of scenario values, every point with the same seed.

    Parameters
    ----------
    scenario : LoadedScenario
        The scenario the grid varies, from :func:`trialsim.load_scenario`.
    settings : mapping of str to str or sequence of numbers
        Dotted scenario key (as for :func:`trialsim.apply_overrides`) to its
        values: ``"LO:HI:STEP"`` (HI included) or the numbers themselves. The
        first key varies slowest; every combination is a grid point (at most 200).
    replicates : int, optional
        Simulated trials per world at each point (default: the scenario's).
    seed : int, optional
        Base seed, the same at every point (default: the scenario's).
    jobs : int, optional
        Worker processes (default: all cores).
    scheduler : str, optional
        Address of a Dask distributed scheduler to simulate on instead.
    on_point : callable, optional
        Called with the number of points done so far.

    Returns
    -------
    Sweep
        One row per point: simulated power and type I error (proportions, with
        Monte Carlo SE) beside the exact values, mean patients registered and
        mean weeks to the analysis.

    Raises
    ------
    ScenarioError
        A key the scenario lacks, a range that does not parse, or a value the
        scenario's rules refuse (every point is checked before anything runs).

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> base = load_scenario("scenarios/vk2_d3_2005.yaml")
    >>> grid = sweep(base, {"stages.vk2.response": [0.1, 0.3]}, replicates=100, jobs=1)
    >>> [round(row.endpoints["vk2_response"].power_exact, 3) for row in grid.rows]
    [0.225, 0.974]
    """
    grid = [_setting(key, values, "settings", MAX_GRID_POINTS) for key, values in settings.items()]
    points = scenario_grid(scenario, grid, "settings")
    return run_sweep(scenario, points, replicates, seed, jobs, on_point, scheduler=scheduler)


def default_search_values(scenario: LoadedScenario, key: str) -> str | None:
    """Values searched for ``key`` when none are given: for enrollment, a quarter to four times
    the scenario's; None for any other key."""
    if key != ENROLLMENT:
        return None
    patients = scenario.spec.enrollment.patients
    return f"{max(1, math.ceil(patients / 4))}:{4 * patients}"


def search_alpha(scenario: LoadedScenario, endpoint: str, alpha: float | None) -> float:
    """The type I error allowed: the endpoint rule's own alpha, else ``alpha``, else 0.05."""
    return rule_alpha(scenario.spec, endpoint) or alpha or DEFAULT_ALPHA


def find_sample_size(
    scenario: LoadedScenario,
    endpoint: str,
    power: float,
    vary: str = ENROLLMENT,
    values: Values | None = None,
    alpha: float | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    on_point: PointCallback | None = None,
) -> SampleSizeSearch:
    """The smallest enrollment (or other value of ``vary``) whose power reaches ``power``.

    With type I error at most alpha. Where the exact engine applies every value
    is screened exactly and the answers are confirmed by simulation; elsewhere a
    coarse grid is simulated and refined (same seed at every value).

    Parameters
    ----------
    scenario : LoadedScenario
        From :func:`trialsim.load_scenario`.
    endpoint : str
        Endpoint id whose power is targeted.
    power : float
        Target power (proportion), in (0, 1).
    vary : str
        The numeric dotted scenario key searched (default: enrollment, patients).
    values : str or sequence of numbers, optional
        Values searched, by increasing value: ``"LO:HI[:STEP]"`` (HI included) or
        the numbers (at most 1000). Default for enrollment: a quarter to four
        times the scenario's; required for any other key.
    alpha : float, optional
        Largest type I error for a ``simon`` or ``bayes`` rule (default 0.05);
        rules with their own alpha use it.
    replicates, seed, jobs, scheduler, on_point
        As for :func:`sweep`.

    Returns
    -------
    SampleSizeSearch
        ``minimal`` (the smallest value meeting the target) and ``conservative``
        (from which every larger value in the range meets it), None where no
        value qualifies; ``method`` says whether exact values decided.

    Raises
    ------
    ValueError
        No values given for a key other than enrollment.
    ScenarioError
        A key the scenario lacks, a range that does not parse, or a refused value.

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> base = load_scenario("scenarios/vk2_d3_2005.yaml")
    >>> search = find_sample_size(base, "vk2_response", 0.8, values="40:80", replicates=200, jobs=1)
    >>> search.method, search.minimal, search.conservative
    ('exact', 64, 64)
    """
    values = default_search_values(scenario, vary) if values is None else values
    if values is None:
        raise ValueError(f"{vary}: give the values to search, e.g. '10:40' or [10, 20, 40]")
    setting = _setting(vary, values, "values", MAX_SEARCH_VALUES)
    points = scenario_grid(scenario, [setting], "vary", "values", MAX_SEARCH_VALUES)
    return search_grid_points(
        scenario,
        points,
        endpoint,
        power,
        search_alpha(scenario, endpoint, alpha),
        replicates,
        seed,
        jobs,
        on_point,
        scheduler=scheduler,
    )
