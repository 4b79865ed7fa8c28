"""The typed comparison of scenarios: frozen dataclasses, ``to_dict`` in compare.json's layout.

:func:`trialsim.planning.compare.compare` builds a :class:`Comparison`; the
comparison report, figures and terminal table read its attributes.
``Comparison.to_dict()`` is the dictionary written as ``compare.json`` (same
keys, same order). Every metric holds one value per scenario and one paired
difference from the reference (the first scenario) per scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Generic, Literal, TypeVar

from trialsim.run.outputs import summary_json
from trialsim.run.runner import SimulationResult

EndpointMetricName = Literal["power", "type1_error", "early_stop", "early_stop_null"]


@dataclass(frozen=True)
class ComparedScenario:
    """A compared scenario: its label in the comparison, name, title, file and SHA-256."""

    label: str
    name: str
    title: str
    path: str
    sha256: str


@dataclass(frozen=True)
class ScenarioValue:
    """A mean in one scenario with its Monte Carlo standard error (in the metric's unit)."""

    value: float
    se: float

    def to_dict(self) -> dict[str, float | None]:
        """The value's entry of compare.json."""
        return asdict(self)


@dataclass(frozen=True)
class EndpointValue(ScenarioValue):
    """An endpoint rate (proportion) in one scenario, and its exact value or None."""

    exact: float | None


@dataclass(frozen=True)
class DistributionValue(ScenarioValue):
    """A per-trial mean (patients or weeks) in one scenario, with 5th, 50th, 95th percentiles."""

    p05: float
    p50: float
    p95: float


@dataclass(frozen=True)
class Difference:
    """A scenario's value minus the reference's.

    Attributes
    ----------
    difference : float
    se : float
        Paired Monte Carlo standard error (common random numbers).
    se_unpaired : float
        What two independent runs would give: the two values' errors combined.
    """

    difference: float
    se: float
    se_unpaired: float

    def to_dict(self) -> dict[str, float | None]:
        """The difference's entry of compare.json."""
        return asdict(self)


@dataclass(frozen=True)
class EndpointDifference(Difference):
    """An endpoint rate's difference, and the difference of the exact values or None."""

    exact: float | None


V = TypeVar("V", bound=ScenarioValue)
D = TypeVar("D", bound=Difference)
V_co = TypeVar("V_co", bound=ScenarioValue, covariant=True)
D_co = TypeVar("D_co", bound=Difference, covariant=True)


@dataclass(frozen=True)
class MetricComparison(Generic[V_co, D_co]):
    """One metric across scenarios.

    Attributes
    ----------
    values : tuple
        One per scenario, in order; None where the scenario lacks the quantity.
    differences : tuple
        One per scenario: None for the reference, where either value is None,
        and where the endpoint asks another question (a one-group test in one
        scenario, a two-group comparison in the other).
    """

    values: tuple[V_co | None, ...]
    differences: tuple[D_co | None, ...]

    def to_dict(self) -> dict[str, list[dict[str, float | None] | None]]:
        """``{"values": [...], "differences": [...]}``."""
        return {
            "values": [None if v is None else v.to_dict() for v in self.values],
            "differences": [None if d is None else d.to_dict() for d in self.differences],
        }


# An endpoint rate across scenarios, and a per-trial mean (patients, weeks) across scenarios.
EndpointRateComparison = MetricComparison[EndpointValue, EndpointDifference]
MeanComparison = MetricComparison[DistributionValue, Difference]


@dataclass(frozen=True)
class EndpointComparison:
    """One endpoint's rates across scenarios (proportions of simulated trials).

    Attributes
    ----------
    power, type1_error : EndpointRateComparison
        P(reject H0) in the alternative and the null world.
    early_stop, early_stop_null : EndpointRateComparison
        P(an interim analysis stops the endpoint's stage) in each world.
    """

    power: EndpointRateComparison
    type1_error: EndpointRateComparison
    early_stop: EndpointRateComparison
    early_stop_null: EndpointRateComparison

    def metric(self, name: EndpointMetricName) -> EndpointRateComparison:
        """The metric called ``name``."""
        return {
            "power": self.power,
            "type1_error": self.type1_error,
            "early_stop": self.early_stop,
            "early_stop_null": self.early_stop_null,
        }[name]

    def to_dict(self) -> dict[str, object]:
        """The endpoint's entry of compare.json."""
        return {f: getattr(self, f).to_dict() for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class TrialComparison:
    """Per-trial means across scenarios, alternative world.

    Attributes
    ----------
    registered : MeanComparison
        Patients registered.
    analysis_week, last_patient_off_week : MeanComparison
        Weeks from study start to the analysis and to the last patient off treatment.
    """

    registered: MeanComparison
    analysis_week: MeanComparison
    last_patient_off_week: MeanComparison

    def to_dict(self) -> dict[str, object]:
        """compare.json's ``trial``."""
        return {f: getattr(self, f).to_dict() for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class AdverseEventComparison:
    """One adverse event across scenarios, alternative world.

    Attributes
    ----------
    mean_patients : MeanComparison
        Patients with the event per trial.
    any_probability : MetricComparison of ScenarioValue
        P(at least one patient has it).
    """

    mean_patients: MeanComparison
    any_probability: MetricComparison[ScenarioValue, Difference]

    def to_dict(self) -> dict[str, object]:
        """The event's entry of compare.json."""
        return {
            "mean_patients": self.mean_patients.to_dict(),
            "any_probability": self.any_probability.to_dict(),
        }


@dataclass(frozen=True)
class Comparison:
    """Scenarios simulated with common random numbers: values and paired differences.

    Attributes
    ----------
    trialsim_version : str
    seed, replicates : int
        Shared by every scenario; replicates per world and scenario.
    reference : str
        Label of the first scenario, from which differences are taken.
    scenarios : tuple of ComparedScenario
        In order, the reference first.
    endpoints : mapping of str to EndpointComparison
        Every endpoint id of the reference, then those of the other scenarios
        that no pair reads.
    endpoint_ids : mapping of str to tuple of (str or None)
        For each key of ``endpoints``, the endpoint id each scenario
        contributes: the same id, the id it is paired with, or None.
    trial : TrialComparison
    adverse_events : mapping of str to AdverseEventComparison
        Every adverse event of any scenario.
    results : tuple of SimulationResult
        The runs compared (for their distributions); not part of :meth:`to_dict`.
    """

    trialsim_version: str
    seed: int
    replicates: int
    reference: str
    scenarios: tuple[ComparedScenario, ...]
    endpoints: Mapping[str, EndpointComparison]
    endpoint_ids: Mapping[str, tuple[str | None, ...]]
    trial: TrialComparison
    adverse_events: Mapping[str, AdverseEventComparison]
    results: tuple[SimulationResult, ...] = field(repr=False, compare=False)

    @property
    def labels(self) -> list[str]:
        """Each scenario's label, the reference first."""
        return [scenario.label for scenario in self.scenarios]

    @property
    def pairs(self) -> dict[str, str]:
        """Endpoints compared under another id: the reference's id to the other's."""
        return {
            row: other
            for row, ids in self.endpoint_ids.items()
            for other in ids[1:]
            if ids[0] == row and other is not None and other != row
        }

    def endpoint_label(self, endpoint_id: str) -> str:
        """``d3_rescue = d3_effect`` for a paired endpoint, else its id."""
        paired = self.pairs.get(endpoint_id)
        return endpoint_id if paired is None else f"{endpoint_id} = {paired}"

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready dictionary of compare.json (NaN kept; :meth:`to_json` writes null)."""
        return {
            "trialsim_version": self.trialsim_version,
            "seed": self.seed,
            "replicates": self.replicates,
            "reference": self.reference,
            "scenarios": [asdict(scenario) for scenario in self.scenarios],
            "endpoints": {key: e.to_dict() for key, e in self.endpoints.items()},
            "pairs": self.pairs,
            "trial": self.trial.to_dict(),
            "adverse_events": {key: e.to_dict() for key, e in self.adverse_events.items()},
        }

    def to_json(self) -> str:
        """The text of compare.json: :meth:`to_dict` indented, NaN written as null."""
        return summary_json(self.to_dict()).decode()
