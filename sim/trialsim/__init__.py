"""trialsim: discrete-event Monte Carlo planning of sequential phase II trials.

The public API covers the whole lifecycle, one verb per step::

    scenario = load_scenario("scenarios/vk2_d3_2005.yaml")       # setup
    result = run_trials(scenario, replicates=2000)               # run
    summary = summarise(result)                                  # summarise: a Summary
    exact = exact_operating_characteristics(scenario)            # exact values, no simulation
    ax = plot_endpoint(result, "vk2_response")                   # plot
    comparison = compare([scenario, apply_overrides(scenario, {"enrollment.patients": 60})])
    grid = sweep(scenario, {"stages.vk2.response": "0.1:0.3:0.1"})
    search = find_sample_size(scenario, "vk2_response", power=0.8)
    design = find_design("simon", p0=0.10, p1=0.30)              # design

Every name in ``__all__`` is importable from ``trialsim``. Modules are
imported on first use of a name, so that ``import trialsim`` and the command
line start quickly (no matplotlib, scipy, simpy or pydantic at import).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # the names below, typed for checkers and editors; imported lazily at run time
    from trialsim.exact.designs import (
        SimonSearch,
        SingleStageSearch,
        find_design,
        simon_characteristics,
    )
    from trialsim.exact.pathway import ExactCharacteristics
    from trialsim.exact.scenario_values import (
        EndpointExactCharacteristics,
        exact_operating_characteristics,
    )
    from trialsim.planning.api import find_sample_size, sweep
    from trialsim.planning.compare import compare
    from trialsim.planning.comparison import Comparison
    from trialsim.planning.samplesize import SampleSizeSearch
    from trialsim.planning.summary import summarise
    from trialsim.planning.summary_types import EndpointSummary, Summary
    from trialsim.planning.sweep import Sweep
    from trialsim.report.compare_plots import (
        plot_compared_distributions,
        plot_compared_rates,
        plot_paired_differences,
    )
    from trialsim.report.curves import plot_operating_curve
    from trialsim.report.endpoint_plots import plot_comparison, plot_endpoint
    from trialsim.report.plots import plot_duration, plot_enrollment
    from trialsim.rules.validation import load_scenario
    from trialsim.run.runner import SimulationResult, run_trials
    from trialsim.scenario.load import LoadedScenario
    from trialsim.scenario.problems import ScenarioError
    from trialsim.scenario.schema import Scenario
    from trialsim.scenario.variation import apply_overrides

# Public name -> the module that defines it, in lifecycle order.
_PUBLIC = {
    # setup
    "load_scenario": "trialsim.rules.validation",
    "apply_overrides": "trialsim.scenario.variation",
    "LoadedScenario": "trialsim.scenario.load",
    "Scenario": "trialsim.scenario.schema",
    "ScenarioError": "trialsim.scenario.problems",
    # run
    "run_trials": "trialsim.run.runner",
    "SimulationResult": "trialsim.run.runner",
    # summarise
    "summarise": "trialsim.planning.summary",
    "Summary": "trialsim.planning.summary_types",
    "EndpointSummary": "trialsim.planning.summary_types",
    # exact values and designs
    "exact_operating_characteristics": "trialsim.exact.scenario_values",
    "EndpointExactCharacteristics": "trialsim.exact.scenario_values",
    "ExactCharacteristics": "trialsim.exact.pathway",
    "find_design": "trialsim.exact.designs",
    "SimonSearch": "trialsim.exact.designs",
    "SingleStageSearch": "trialsim.exact.designs",
    "simon_characteristics": "trialsim.exact.designs",
    # plan
    "compare": "trialsim.planning.compare",
    "Comparison": "trialsim.planning.comparison",
    "sweep": "trialsim.planning.api",
    "Sweep": "trialsim.planning.sweep",
    "find_sample_size": "trialsim.planning.api",
    "SampleSizeSearch": "trialsim.planning.samplesize",
    # plot
    "plot_duration": "trialsim.report.plots",
    "plot_enrollment": "trialsim.report.plots",
    "plot_endpoint": "trialsim.report.endpoint_plots",
    "plot_comparison": "trialsim.report.endpoint_plots",
    "plot_operating_curve": "trialsim.report.curves",
    "plot_compared_rates": "trialsim.report.compare_plots",
    "plot_paired_differences": "trialsim.report.compare_plots",
    "plot_compared_distributions": "trialsim.report.compare_plots",
}

__all__ = [
    "__version__",
    "load_scenario",
    "apply_overrides",
    "LoadedScenario",
    "Scenario",
    "ScenarioError",
    "run_trials",
    "SimulationResult",
    "summarise",
    "Summary",
    "EndpointSummary",
    "exact_operating_characteristics",
    "EndpointExactCharacteristics",
    "ExactCharacteristics",
    "find_design",
    "SimonSearch",
    "SingleStageSearch",
    "simon_characteristics",
    "compare",
    "Comparison",
    "sweep",
    "Sweep",
    "find_sample_size",
    "SampleSizeSearch",
    "plot_duration",
    "plot_enrollment",
    "plot_endpoint",
    "plot_comparison",
    "plot_operating_curve",
    "plot_compared_rates",
    "plot_paired_differences",
    "plot_compared_distributions",
]


def __getattr__(name: str) -> object:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'trialsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
