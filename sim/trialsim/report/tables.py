"""Terminal tables of a summary (rich): decisions, estimates, enrollment and adverse events."""

from __future__ import annotations

from rich.table import Table

from trialsim.planning.summary_types import Distribution, Summary


def _rate(value: float | None, se: float | None = None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}±{se:.3f}" if se is not None else f"{value:.3f}"


def endpoint_table(summary: Summary) -> Table:
    """Decisions per endpoint: power and type I error, simulated ± SE beside exact."""
    table = Table(title=f"Decisions ({summary.replicates} replicates, ± 1 Monte Carlo SE)")
    for header in ("endpoint", "power", "exact", "type I error", "exact", "early stop"):
        table.add_column(header, justify="left" if header == "endpoint" else "right", no_wrap=True)
    for endpoint_id, e in summary.endpoints.items():
        table.add_row(
            endpoint_id,
            _rate(e.power, e.power_se),
            _rate(e.power_exact),
            _rate(e.type1_error, e.type1_error_se),
            _rate(e.type1_error_exact),
            _rate(e.early_stop),
        )
    return table


def estimate_table(summary: Summary) -> Table:
    """Counts and estimates per endpoint (alternative world)."""
    table = Table(title="Estimates (scenario as written)")
    for header in ("endpoint", "evaluable", "responders", "estimate", "bias", "CI coverage"):
        table.add_column(header, justify="left" if header == "endpoint" else "right", no_wrap=True)
    for endpoint_id, e in summary.endpoints.items():
        table.add_row(
            endpoint_id,
            f"{e.evaluable_mean:.1f}",
            f"{e.responders_mean:.1f}",
            _rate(e.estimate_mean),
            "—" if e.estimate_bias is None else f"{e.estimate_bias:+.3f}",
            _rate(e.ci_coverage),
        )
    return table


def enrollment_table(summary: Summary) -> Table:
    """Patients and weeks: mean and 5th / 50th / 95th percentiles."""
    table = Table(title="Enrollment (patients) and duration (weeks)")
    for header in ("quantity", "mean", "5%", "50%", "95%"):
        table.add_column(header, justify="left" if header == "quantity" else "right")
    enrollment, weeks = summary.enrollment, summary.duration_weeks
    rows: list[tuple[str, Distribution]] = [
        ("registered", enrollment.registered),
        ("screened", enrollment.screened),
        ("turned_away", enrollment.turned_away),
    ]
    rows += [(f"arm {arm_id}", arm.registered) for arm_id, arm in enrollment.arms.items()]
    rows += [(f"entered {stage}", values) for stage, values in enrollment.stage_entries.items()]
    rows += [
        ("weeks to analysis", weeks.analysis),
        ("weeks to last patient off", weeks.last_patient_off),
        ("weeks to last registration", weeks.last_registration),
    ]
    for name, d in rows:
        table.add_row(name, *(f"{value:.1f}" for value in (d.mean, d.p05, d.p50, d.p95)))
    return table


def adverse_event_table(summary: Summary) -> Table | None:
    """Patients with each adverse event per trial, and the chance of at least one."""
    if not summary.adverse_events:
        return None
    table = Table(title="Adverse events")
    for header in ("event", "patients per trial", "P(at least one)"):
        table.add_column(header, justify="left" if header == "event" else "right")
    for name, values in summary.adverse_events.items():
        table.add_row(name, f"{values.mean_patients:.2f}", f"{values.any_probability:.3f}")
    return table
