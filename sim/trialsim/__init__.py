"""trialsim: discrete-event Monte Carlo planning of sequential phase II trials.

The public API follows one verb per step::

    scenario = load_scenario("scenarios/vk2_d3_2005.yaml")   # setup
    result = run_trials(scenario, replicates=2000)           # run
    summary = summarise(result)                              # summarise
    ax = plot_endpoint(result, "vk2_response")               # plot
    design = find_design("simon", p0=0.10, p1=0.30)          # design

Heavy modules are imported on first use so that ``import trialsim`` and the
command line start quickly.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "load_scenario": "trialsim.scenario.load",
    "apply_overrides": "trialsim.scenario.variation",
    "ScenarioError": "trialsim.scenario.problems",
    "run_trials": "trialsim.run.runner",
    "summarise": "trialsim.planning.summary",
    "exact_operating_characteristics": "trialsim.exact.pathway",
    "find_design": "trialsim.exact.designs",
    "plot_duration": "trialsim.report.plots",
    "plot_enrollment": "trialsim.report.plots",
    "plot_endpoint": "trialsim.report.plots",
    "plot_comparison": "trialsim.report.plots",
    "plot_operating_curve": "trialsim.report.curves",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'trialsim' has no attribute {name!r}")
