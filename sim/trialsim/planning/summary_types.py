"""The typed summary of a run: frozen dataclasses, each with ``to_dict`` in summary.json's layout.

:func:`trialsim.planning.summary.summarise` builds a :class:`Summary`; reports,
tables and comparisons read its attributes. ``Summary.to_dict()`` is the
dictionary written as ``summary.json`` (same keys, same order), and
``Summary.to_json()`` the file's text. Rates are proportions, times weeks,
counts patients per simulated trial; ``*_se`` are Monte Carlo standard errors;
``*_exact`` are exact values, None where the design admits none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from trialsim.run.outputs import summary_json
from trialsim.scenario.load import LoadedScenario
from trialsim.scenario.rule_schema import Rule


@dataclass(frozen=True)
class Distribution:
    """A per-trial quantity across simulated trials (alternative world).

    Attributes
    ----------
    mean, mean_se : float
        Mean over trials and its Monte Carlo standard error.
    p05, p50, p95 : float
        5th, 50th (median) and 95th percentiles across trials.
    """

    mean: float
    mean_se: float
    p05: float
    p50: float
    p95: float

    def to_dict(self) -> dict[str, float]:
        """``{"mean", "mean_se", "p05", "p50", "p95"}``."""
        return asdict(self)


@dataclass(frozen=True)
class ScenarioSource:
    """Where a run's scenario came from: its name, title, file and the file's SHA-256."""

    name: str
    title: str
    path: str
    sha256: str

    @classmethod
    def of(cls, scenario: LoadedScenario) -> ScenarioSource:
        """The source of a loaded (possibly varied) scenario."""
        return cls(scenario.spec.name, scenario.spec.title, scenario.path, scenario.sha256)

    def to_dict(self) -> dict[str, str]:
        """``{"name", "title", "path", "sha256"}``."""
        return asdict(self)


@dataclass(frozen=True)
class ControlGroupSummary:
    """The control group of a two-group (``fisher``) endpoint, alternative world.

    Attributes
    ----------
    versus : tuple of str
        The control group's stages.
    evaluable_mean, evaluable_mean_se : float
        Patients in the control group's denominator per trial.
    responders_mean, responders_mean_se : float
        Responders counted in the control group per trial.
    """

    versus: tuple[str, ...]
    evaluable_mean: float
    evaluable_mean_se: float
    responders_mean: float
    responders_mean_se: float

    def to_dict(self) -> dict[str, object]:
        """The keys ``versus`` and ``control_*`` of the endpoint's entry."""
        return {
            "versus": list(self.versus),
            "control_evaluable_mean": self.evaluable_mean,
            "control_evaluable_mean_se": self.evaluable_mean_se,
            "control_responders_mean": self.responders_mean,
            "control_responders_mean_se": self.responders_mean_se,
        }


@dataclass(frozen=True)
class EndpointSummary:
    """One endpoint's decisions, counts and estimate.

    Attributes
    ----------
    stages : tuple of str
        The stages whose responders count (the experimental group's, for ``fisher``).
    population : {"evaluable", "entered"}
        The denominator.
    rule : Rule
        The endpoint's test as written in the scenario.
    power, power_se, power_exact
        P(reject H0), alternative world.
    type1_error, type1_error_se, type1_error_exact
        P(reject H0), null world.
    early_stop, early_stop_exact, early_stop_null, early_stop_null_exact
        P(an interim analysis stops the endpoint's stage), each world.
    evaluable_mean, evaluable_mean_se, evaluable_mean_exact
        Patients in the denominator per trial.
    responders_mean, responders_mean_se, responders_mean_exact
        Responders counted per trial.
    true_rate_mean : float
        Mean true response rate (or difference of rates) across trials.
    estimate_mean, estimate_bias, estimate_bias_se : float or None
        Mean estimate, and its mean error from the true rate, where defined.
    ci_coverage, ci_coverage_se : float or None
        Share of exact 95% intervals containing the true rate (None for a difference).
    estimate_defined : float
        Share of trials where the estimate is defined (a positive denominator).
    control : ControlGroupSummary or None
        The control group of a two-group comparison; None for a one-group test.
    warnings : tuple of str
        One per simulated value more than 4 Monte Carlo SEs from its exact
        value, naming the design features that explain it; in summary.json
        (key ``warnings``) only when there is one.
    """

    stages: tuple[str, ...]
    population: str
    rule: Rule
    power: float
    power_se: float
    power_exact: float | None
    type1_error: float
    type1_error_se: float
    type1_error_exact: float | None
    early_stop: float
    early_stop_exact: float | None
    early_stop_null: float
    early_stop_null_exact: float | None
    evaluable_mean: float
    evaluable_mean_se: float
    evaluable_mean_exact: float | None
    responders_mean: float
    responders_mean_se: float
    responders_mean_exact: float | None
    true_rate_mean: float
    estimate_mean: float | None
    estimate_bias: float | None
    estimate_bias_se: float | None
    ci_coverage: float | None
    ci_coverage_se: float | None
    estimate_defined: float
    control: ControlGroupSummary | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The endpoint's entry of summary.json; ``versus``, ``control_*``, ``warnings`` last."""
        entry: dict[str, object] = {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if field.name not in ("control", "warnings")
        }
        entry["stages"] = list(self.stages)
        entry["rule"] = self.rule.model_dump()
        if self.control is not None:
            entry.update(self.control.to_dict())
        if self.warnings:
            entry["warnings"] = list(self.warnings)
        return entry


@dataclass(frozen=True)
class ArmSummary:
    """A randomised arm: its share of registrations, first stage and patients randomised."""

    share: float
    first_stage: str
    registered: Distribution

    def to_dict(self) -> dict[str, object]:
        """``{"share", "first_stage", "registered"}``."""
        return asdict(self)


@dataclass(frozen=True)
class EnrollmentSummary:
    """Patients per simulated trial (alternative world).

    Attributes
    ----------
    registered, screened, turned_away : Distribution
        Registered; screened (registered and screen failures); turned away by a
        stage that was not admitting.
    arms : mapping of str to ArmSummary
        Per randomised arm; empty with a single arm.
    stage_entries : mapping of str to Distribution
        Patients entering each stage.
    """

    registered: Distribution
    screened: Distribution
    turned_away: Distribution
    arms: Mapping[str, ArmSummary]
    stage_entries: Mapping[str, Distribution]

    def to_dict(self) -> dict[str, object]:
        """summary.json's ``enrollment``; ``arms`` only with more than one arm."""
        entry: dict[str, object] = {"registered": self.registered.to_dict()}
        if self.arms:
            entry["arms"] = {arm_id: arm.to_dict() for arm_id, arm in self.arms.items()}
        entry["screened"] = self.screened.to_dict()
        entry["turned_away"] = self.turned_away.to_dict()
        entry["stage_entries"] = {s: d.to_dict() for s, d in self.stage_entries.items()}
        return entry


@dataclass(frozen=True)
class DurationSummary:
    """Calendar weeks from study start (alternative world).

    Attributes
    ----------
    analysis : Distribution
        To the analysis.
    last_patient_off : Distribution
        To the last patient's last week of treatment.
    last_registration : Distribution
        To the last registration.
    """

    analysis: Distribution
    last_patient_off: Distribution
    last_registration: Distribution

    def to_dict(self) -> dict[str, dict[str, float]]:
        """summary.json's ``duration_weeks``."""
        return asdict(self)


@dataclass(frozen=True)
class AdverseEventSummary:
    """One adverse event up to the analysis (alternative world).

    Attributes
    ----------
    mean_patients, mean_patients_se : float
        Patients with the event per trial.
    any_probability, any_probability_se : float
        P(at least one patient has it).
    """

    mean_patients: float
    mean_patients_se: float
    any_probability: float
    any_probability_se: float

    def to_dict(self) -> dict[str, float]:
        """``{"mean_patients", "mean_patients_se", "any_probability", "any_probability_se"}``."""
        return asdict(self)


@dataclass(frozen=True)
class SubgroupCounts:
    """Mean patients of one subgroup per trial in a stage (alternative world)."""

    entered: float
    evaluable: float
    responders: float

    def to_dict(self) -> dict[str, float]:
        """``{"entered", "evaluable", "responders"}``."""
        return asdict(self)


@dataclass(frozen=True)
class StageCounts(SubgroupCounts):
    """Mean patients per trial in a stage, in one world.

    Attributes
    ----------
    entered, evaluable, responders : float
    turned_away : float
        Patients who would have entered while the stage was not admitting.
    stopped_early : float
        Share of trials whose interim analysis stopped the stage.
    overrun : float
        Patients admitted while an interim analysis was pending.
    """

    turned_away: float
    stopped_early: float
    overrun: float


@dataclass(frozen=True)
class StageSummary:
    """One stage's counts in each world, and per subgroup (empty with one subgroup)."""

    alternative: StageCounts
    null: StageCounts
    subgroups: Mapping[str, SubgroupCounts]

    def to_dict(self) -> dict[str, object]:
        """summary.json's entry of the stage; ``subgroups`` only with several subgroups."""
        entry: dict[str, object] = {
            "alternative": self.alternative.to_dict(),
            "null": self.null.to_dict(),
        }
        if self.subgroups:
            entry["subgroups"] = {name: c.to_dict() for name, c in self.subgroups.items()}
        return entry


@dataclass(frozen=True)
class Summary:
    """Everything SPEC §6 asks of a run, each simulated number with its Monte Carlo error.

    Attributes
    ----------
    trialsim_version : str
    scenario : ScenarioSource
    seed, replicates, jobs : int
        Base seed, simulated trials per world, worker processes.
    elapsed_seconds : float
        Wall time of the simulation, rounded to milliseconds.
    endpoints : mapping of str to EndpointSummary
        By endpoint id, in scenario order.
    enrollment : EnrollmentSummary
    duration_weeks : DurationSummary
    adverse_events : mapping of str to AdverseEventSummary
        By event name.
    stages : mapping of str to StageSummary
        By stage id.
    """

    trialsim_version: str
    scenario: ScenarioSource
    seed: int
    replicates: int
    jobs: int
    elapsed_seconds: float
    endpoints: Mapping[str, EndpointSummary]
    enrollment: EnrollmentSummary
    duration_weeks: DurationSummary
    adverse_events: Mapping[str, AdverseEventSummary]
    stages: Mapping[str, StageSummary]

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready dictionary of summary.json (NaN kept; :meth:`to_json` writes null)."""
        return {
            "trialsim_version": self.trialsim_version,
            "scenario": self.scenario.to_dict(),
            "seed": self.seed,
            "replicates": self.replicates,
            "jobs": self.jobs,
            "elapsed_seconds": self.elapsed_seconds,
            "endpoints": {key: e.to_dict() for key, e in self.endpoints.items()},
            "enrollment": self.enrollment.to_dict(),
            "duration_weeks": self.duration_weeks.to_dict(),
            "adverse_events": {key: e.to_dict() for key, e in self.adverse_events.items()},
            "stages": {key: s.to_dict() for key, s in self.stages.items()},
        }

    def to_json(self) -> str:
        """The text of summary.json: :meth:`to_dict` indented, NaN written as null."""
        return summary_json(self.to_dict()).decode()
