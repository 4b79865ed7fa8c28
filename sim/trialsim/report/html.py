"""The HTML report of a run: one self-contained page, tables and figures inline.

Sections for the run's details, warnings (simulated values more than 4 SE
from their exact values), endpoints, enrollment, durations, adverse
events and stages, read from a :class:`~trialsim.planning.summary_types.Summary`;
the building blocks (formatting, escaped tables, the page) are in
:mod:`trialsim.report.page`. Every piece of text from the scenario or the
summary is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from trialsim.planning.summary_types import Distribution, EndpointSummary, Summary
from trialsim.report.page import (
    MISSING,
    figure_section,
    finite,
    html_page,
    html_table,
    number,
    probability,
    text,
    weeks,
    with_error,
)

FIGURE_CAPTIONS = {
    "duration.png": "Trial duration: week of the analysis and week the last patient finishes "
    "treatment, across simulated trials (alternative world).",
    "enrollment.png": "Patients registered by calendar week: median and 5–95% band across "
    "simulated trials.",
}


def _caption(name: str) -> str:
    if name in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[name]
    if name.startswith("endpoint_"):
        endpoint_id = name.removeprefix("endpoint_").rsplit(".", 1)[0]
        return (
            f"Endpoint {endpoint_id}: responders against denominator in each simulated trial "
            "(marker area ∝ number of trials), alternative and null world, with the exact "
            "rejection boundary."
        )
    return name


def _run_details(summary: Summary) -> str:
    scenario = summary.scenario
    elapsed = finite(summary.elapsed_seconds)
    details = [
        ("Scenario", text(scenario.name)),
        ("File", f"<code>{text(scenario.path)}</code>"),
        ("SHA-256", f"<code>{text(scenario.sha256)}</code>"),
        ("Seed", text(summary.seed)),
        ("Replicates", f"{text(summary.replicates)} per world (alternative and null)"),
        ("Worker processes", text(summary.jobs)),
        ("Elapsed", MISSING if elapsed is None else f"{elapsed:.2f} s"),
        ("trialsim", text(summary.trialsim_version)),
    ]
    items = "".join(f"<dt>{text(term)}</dt><dd>{value}</dd>" for term, value in details)
    return f'<dl class="run">{items}</dl>'


def _rule(endpoint: EndpointSummary) -> str:
    rule = endpoint.rule.model_dump()
    test = str(rule["test"]).replace("_", " ")
    parameters = ", ".join(
        _rule_parameter(key, value) for key, value in rule.items() if key != "test"
    )
    return f"{test} ({parameters})" if parameters else test


def _rule_parameter(key: str, value: object) -> str:
    symbol = "α" if key == "alpha" else key
    return f"{symbol} = {value:g}" if isinstance(value, float) else f"{symbol} = {value}"


def _endpoint_sections(summary: Summary) -> str:
    decisions = []
    estimation = []
    for endpoint_id, e in summary.endpoints.items():
        stages = " + ".join(e.stages) or MISSING
        if e.control is not None and e.control.versus:
            stages += " vs " + " + ".join(e.control.versus)
        decisions.append(
            [
                endpoint_id,
                stages,
                e.population,
                _rule(e),
                with_error(e.power, e.power_se, 3),
                probability(e.power_exact),
                with_error(e.type1_error, e.type1_error_se, 3),
                probability(e.type1_error_exact),
                f"{probability(e.early_stop)} / {probability(e.early_stop_null)}",
            ]
        )
        estimation.append(
            [
                endpoint_id,
                with_error(e.evaluable_mean, e.evaluable_mean_se, 2),
                number(e.evaluable_mean_exact, 2),
                with_error(e.responders_mean, e.responders_mean_se, 2),
                number(e.responders_mean_exact, 2),
                probability(e.true_rate_mean),
                probability(e.estimate_mean),
                with_error(e.estimate_bias, e.estimate_bias_se, 3, signed=True),
                with_error(e.ci_coverage, e.ci_coverage_se, 3),
            ]
        )
    decision_table = html_table(
        [
            "Endpoint",
            "Stages",
            "Denominator",
            "Rule",
            "Power",
            "Power, exact",
            "Type I error",
            "Type I error, exact",
            "Early stop (alt. / null)",
        ],
        decisions,
        ["", "text", "text", "text", "", "exact", "", "exact", ""],
    )
    estimation_table = html_table(
        [
            "Endpoint",
            "Mean denominator",
            "exact",
            "Mean responders",
            "exact",
            "True rate",
            "Mean estimate",
            "Bias",
            "95% CI coverage",
        ],
        estimation,
        ["", "", "exact", "", "exact", "", "", "", ""],
    )
    return (
        "<h2>Endpoints: decisions</h2>"
        '<p class="note">Power: share of simulated trials that reject H0 when the response '
        "rates are as written in the scenario (alternative world). Type I error: the same when "
        "every stage responds at its null rate (null world). Early stop: share of trials whose "
        "endpoint stopped at an interim analysis.</p>"
        + decision_table
        + "<h2>Endpoints: counts and estimation</h2>"
        '<p class="note">Alternative world. Mean denominator and responders are patients per '
        "trial. Estimate = responders / denominator in trials with a denominator above zero; "
        "bias = mean of estimate minus the true rate; coverage = share of exact (Clopper–Pearson) "
        "95% confidence intervals that contain the true rate. For a two-group (Fisher) "
        "endpoint the counts are the experimental group's, and the true rate and estimate are "
        "the difference experimental minus control (no interval, so no coverage).</p>"
        + estimation_table
    )


def _distribution_row(
    label: str, d: Distribution, formatter: Callable[[float | None], str]
) -> list[str]:
    mean = formatter(d.mean)
    if mean != MISSING and finite(d.mean_se) is not None:
        mean = f"{mean} ± {formatter(d.mean_se)}"
    return [label, mean, formatter(d.p05), formatter(d.p50), formatter(d.p95)]


def counts(value: float | None) -> str:
    """A mean or percentile of a patient count, to one decimal."""
    return number(value, 1)


DISTRIBUTION_HEADER = ["", "Mean", "5%", "50% (median)", "95%"]


def _enrollment_section(summary: Summary) -> str:
    enrollment = summary.enrollment
    rows = [
        _distribution_row("Registered", enrollment.registered, counts),
        _distribution_row("Screened", enrollment.screened, counts),
        _distribution_row("Turned away (stage not admitting)", enrollment.turned_away, counts),
    ]
    for arm_id, arm in enrollment.arms.items():
        label = f"Randomised to arm {arm_id} ({probability(arm.share)} of registrations)"
        rows.append(_distribution_row(label, arm.registered, counts))
    for stage_id, values in enrollment.stage_entries.items():
        rows.append(_distribution_row(f"Entered stage {stage_id}", values, counts))
    return (
        "<h2>Enrollment</h2>"
        '<p class="note">Patients per simulated trial, alternative world; percentiles across '
        "trials.</p>" + html_table(DISTRIBUTION_HEADER, rows)
    )


def _duration_section(summary: Summary) -> str:
    durations = summary.duration_weeks
    rows = [
        _distribution_row("Last registration", durations.last_registration, weeks),
        _distribution_row("Analysis", durations.analysis, weeks),
        _distribution_row("Last patient off treatment", durations.last_patient_off, weeks),
    ]
    return (
        "<h2>Duration (weeks from study start)</h2>"
        '<p class="note">Calendar weeks, alternative world; one month is 4.35 weeks.</p>'
        + html_table(DISTRIBUTION_HEADER, rows)
    )


def _adverse_event_section(summary: Summary) -> str:
    if not summary.adverse_events:
        return "<h2>Adverse events</h2><p>The scenario lists no adverse events.</p>"
    rows = [
        [
            name,
            with_error(v.mean_patients, v.mean_patients_se, 2),
            with_error(v.any_probability, v.any_probability_se, 3),
        ]
        for name, v in summary.adverse_events.items()
    ]
    return (
        "<h2>Adverse events</h2>"
        '<p class="note">Alternative world, events up to the analysis.</p>'
        + html_table(
            ["Event", "Patients with the event, mean per trial", "Probability of at least one"],
            rows,
        )
    )


def _stage_section(summary: Summary) -> str:
    if not summary.stages:
        return ""
    rows = []
    subgroup_rows = []
    for stage_id, stage in summary.stages.items():
        for world, c in (("alternative", stage.alternative), ("null", stage.null)):
            shown = (
                c.entered,
                c.evaluable,
                c.responders,
                c.turned_away,
                c.stopped_early,
                c.overrun,
            )
            rows.append([stage_id, world, *(number(value, 2) for value in shown)])
        for group, g in stage.subgroups.items():
            group_counts = (g.entered, g.evaluable, g.responders)
            subgroup_rows.append([stage_id, group, *(number(value, 2) for value in group_counts)])
    section = (
        "<h2>Stages</h2>"
        '<p class="note">Mean patients per simulated trial. Alternative world: response rates as '
        "written; null world: every stage at its null response rate. Turned away: patients who "
        "would have entered a stage that was not admitting. Stopped early: share of trials whose "
        "interim analysis stopped the stage. Over-run: patients admitted while the interim "
        "analysis was pending (Simon rules with <code>during_interim: continue</code>).</p>"
        + html_table(
            [
                "Stage",
                "World",
                "Entered",
                "Evaluable",
                "Responders",
                "Turned away",
                "Stopped early",
                "Over-run",
            ],
            rows,
        )
    )
    if subgroup_rows:
        section += "<h3>By subgroup (alternative world)</h3>" + html_table(
            ["Stage", "Subgroup", "Entered", "Evaluable", "Responders"], subgroup_rows
        )
    return section


def _how_to_read(summary: Summary) -> str:
    replicates = text(summary.replicates)
    return (
        "<h2>How to read this</h2>"
        '<div class="reading"><p>Every simulated number comes from '
        f"{replicates} simulated trials in each world. The ± after a number is one Monte Carlo "
        "standard error: the uncertainty that comes from simulating a finite number of trials, "
        "not the uncertainty of the trial itself. It shrinks with the square root of the number "
        "of replicates. The <em>exact</em> columns are the analytic values computed from the "
        "binomial model without simulation; they are shown as — where the design has no closed "
        "form (a capped stage, data cut before every assessment, or response rates drawn "
        "from a prior). A simulated value should lie within about two standard errors of its "
        "exact value in most runs and within four almost always; a larger gap is worth "
        "investigating.</p>"
        "<p>Probabilities are shown to three decimals, patient counts as means per trial, "
        "times in calendar weeks from study start. Percentiles (5%, 50%, 95%) describe the "
        "spread across simulated trials.</p></div>"
    )


def _warning_section(summary: Summary) -> str:
    """Simulated values more than 4 Monte Carlo SEs from their exact values, and why; or ""."""
    items = [
        f"<li><strong>{text(endpoint_id)}</strong>: {text(warning)}</li>"
        for endpoint_id, endpoint in summary.endpoints.items()
        for warning in endpoint.warnings
    ]
    if not items:
        return ""
    return (
        '<h2 id="warnings">Warnings: simulation and exact values disagree</h2>'
        "<p>These simulated values differ from their exact values by more than 4 Monte Carlo "
        "standard errors; the design features named are what the exact calculation does not "
        "model. Trust the simulated value for this design.</p><ul>" + "".join(items) + "</ul>"
    )


def render_report(summary: Summary, figures: Mapping[str, bytes]) -> str:
    """A self-contained HTML page describing one run.

    Parameters
    ----------
    summary : Summary
        From :func:`trialsim.summarise`; missing values (None, NaN) are shown as "—".
    figures : dict of str to bytes
        File name to image bytes, e.g. from :func:`trialsim.report.plots.all_figures`;
        embedded as ``data:`` URIs in the given order.

    Returns
    -------
    str
        The HTML document. It references no external resource.
    """
    name = summary.scenario.name or "trialsim run"
    heading = summary.scenario.title or name
    body = [
        f"<h1>{text(heading)}</h1>",
        f'<p class="subtitle">Operating characteristics by simulation: scenario '
        f"<code>{text(name)}</code></p>",
        _run_details(summary),
        _how_to_read(summary),
        _warning_section(summary),
        _endpoint_sections(summary),
        _enrollment_section(summary),
        _duration_section(summary),
        _adverse_event_section(summary),
        _stage_section(summary),
        figure_section(figures, _caption),
    ]
    return html_page(f"{heading} · trialsim report", body)
