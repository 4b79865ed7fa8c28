"""The HTML report of a run: one self-contained page, tables and figures inline.

The page loads nothing: styles are inline and figures are ``data:`` URIs, so
it can be mailed, archived or opened offline. Every piece of text that comes
from the scenario or the summary is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

MISSING = "—"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1d1d1f; margin: 2rem auto; max-width: 72rem; padding: 0 1.5rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d0d5;
     padding-bottom: 0.2rem; }
.subtitle { color: #55555a; margin-top: 0; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1.2rem; }
dl.run dt { color: #55555a; }
dl.run dd { margin: 0; }
code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 0.9em;
       word-break: break-all; }
table { border-collapse: collapse; margin: 0.6rem 0 0.4rem; font-size: 0.92rem; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #e3e3e8; text-align: right;
         vertical-align: top; }
th { background: #f4f4f7; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
td { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.exact { color: #3c4fa0; }
td.text { white-space: normal; text-align: left; min-width: 8rem; }
.scroll { overflow-x: auto; }
.note { color: #55555a; font-size: 0.88rem; max-width: 60rem; }
.reading { background: #f7f7fa; border-left: 3px solid #8a8fb5; padding: 0.6rem 1rem;
           max-width: 60rem; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e3e8; }
figcaption { color: #55555a; font-size: 0.88rem; }
@media print { body { margin: 0; max-width: none; } figure { break-inside: avoid; } }
"""

FIGURE_CAPTIONS = {
    "duration.png": "Trial duration: week of the analysis and week the last patient finishes "
    "treatment, across simulated trials (alternative world).",
    "enrollment.png": "Patients registered by calendar week: median and 5–95% band across "
    "simulated trials.",
}

IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"<svg", "image/svg+xml"),
    (b"<?xml", "image/svg+xml"),
)


# ---------------------------------------------------------------- formatting


def _finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not a finite number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def number(value: Any, decimals: int, signed: bool = False) -> str:
    """A number with fixed decimals, or "—" when it is missing or not finite."""
    finite = _finite(value)
    if finite is None:
        return MISSING
    if finite == 0:
        finite = 0.0  # no "-0.000"
    return f"{finite:+.{decimals}f}" if signed else f"{finite:.{decimals}f}"


def with_error(value: Any, error: Any, decimals: int, signed: bool = False) -> str:
    """``value ± error`` (one Monte Carlo standard error); the error is left out when unknown."""
    shown = number(value, decimals, signed)
    if shown == MISSING or _finite(error) is None:
        return shown
    return f"{shown} ± {number(error, decimals)}"


def probability(value: Any) -> str:
    """A probability to three decimals."""
    return number(value, 3)


def weeks(value: Any) -> str:
    """A time in weeks to one decimal."""
    return number(value, 1)


def _text(value: Any) -> str:
    return html.escape(MISSING if value is None else str(value))


def html_table(
    header: Iterable[str], rows: Iterable[Iterable[str]], classes: Iterable[str] = ()
) -> str:
    """An HTML table; every cell is escaped here. ``classes`` name each column's CSS class."""
    column_classes = list(classes)
    head = "".join(f"<th>{_text(cell)}</th>" for cell in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            css = column_classes[i] if i < len(column_classes) and column_classes[i] else ""
            attribute = f' class="{css}"' if css else ""
            cells.append(f"<td{attribute}>{_text(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# ---------------------------------------------------------------- sections


def _run_details(summary: Mapping[str, Any]) -> str:
    scenario = _mapping(summary.get("scenario"))
    elapsed = _finite(summary.get("elapsed_seconds"))
    details = [
        ("Scenario", _text(scenario.get("name"))),
        ("File", f"<code>{_text(scenario.get('path'))}</code>"),
        ("SHA-256", f"<code>{_text(scenario.get('sha256'))}</code>"),
        ("Seed", _text(summary.get("seed"))),
        ("Replicates", f"{_text(summary.get('replicates'))} per world (alternative and null)"),
        ("Worker processes", _text(summary.get("jobs"))),
        ("Elapsed", MISSING if elapsed is None else f"{elapsed:.2f} s"),
        ("trialsim", _text(summary.get("trialsim_version"))),
    ]
    items = "".join(f"<dt>{_text(term)}</dt><dd>{value}</dd>" for term, value in details)
    return f'<dl class="run">{items}</dl>'


def _rule(endpoint: Mapping[str, Any]) -> str:
    rule = _mapping(endpoint.get("rule"))
    if not rule:
        return MISSING
    test = str(rule.get("test", "")).replace("_", " ")
    parameters = ", ".join(
        _rule_parameter(key, value) for key, value in rule.items() if key != "test"
    )
    return f"{test} ({parameters})" if parameters else test


def _rule_parameter(key: str, value: Any) -> str:
    symbol = "α" if key == "alpha" else key
    return f"{symbol} = {value:g}" if isinstance(value, float) else f"{symbol} = {value}"


def _endpoint_sections(summary: Mapping[str, Any]) -> str:
    endpoints = _mapping(summary.get("endpoints"))
    decisions = []
    estimation = []
    for endpoint_id, endpoint in endpoints.items():
        e = _mapping(endpoint)
        stages = " + ".join(str(s) for s in e.get("stages", [])) or MISSING
        if e.get("versus"):
            stages += " vs " + " + ".join(str(s) for s in e["versus"])
        decisions.append(
            [
                str(endpoint_id),
                stages,
                str(e.get("population", MISSING)),
                _rule(e),
                with_error(e.get("power"), e.get("power_se"), 3),
                probability(e.get("power_exact")),
                with_error(e.get("type1_error"), e.get("type1_error_se"), 3),
                probability(e.get("type1_error_exact")),
                f"{probability(e.get('early_stop'))} / {probability(e.get('early_stop_null'))}",
            ]
        )
        estimation.append(
            [
                str(endpoint_id),
                with_error(e.get("evaluable_mean"), e.get("evaluable_mean_se"), 2),
                number(e.get("evaluable_mean_exact"), 2),
                with_error(e.get("responders_mean"), e.get("responders_mean_se"), 2),
                number(e.get("responders_mean_exact"), 2),
                probability(e.get("true_rate_mean")),
                probability(e.get("estimate_mean")),
                with_error(e.get("estimate_bias"), e.get("estimate_bias_se"), 3, signed=True),
                with_error(e.get("ci_coverage"), e.get("ci_coverage_se"), 3),
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


def _distribution_row(label: str, values: Any, formatter: Any) -> list[str]:
    d = _mapping(values)
    mean = formatter(d.get("mean"))
    if mean != MISSING and _finite(d.get("mean_se")) is not None:
        mean = f"{mean} ± {formatter(d.get('mean_se'))}"
    return [label, mean, formatter(d.get("p05")), formatter(d.get("p50")), formatter(d.get("p95"))]


def counts(value: Any) -> str:
    """A mean or percentile of a patient count, to one decimal."""
    return number(value, 1)


DISTRIBUTION_HEADER = ["", "Mean", "5%", "50% (median)", "95%"]


def _enrollment_section(summary: Mapping[str, Any]) -> str:
    enrollment = _mapping(summary.get("enrollment"))
    rows = [
        _distribution_row("Registered", enrollment.get("registered"), counts),
        _distribution_row("Screened", enrollment.get("screened"), counts),
        _distribution_row(
            "Turned away (stage not admitting)", enrollment.get("turned_away"), counts
        ),
    ]
    for arm_id, arm in _mapping(enrollment.get("arms")).items():
        share = _mapping(arm).get("share")
        label = f"Randomised to arm {arm_id} ({probability(share)} of registrations)"
        rows.append(_distribution_row(label, _mapping(arm).get("registered"), counts))
    for stage_id, values in _mapping(enrollment.get("stage_entries")).items():
        rows.append(_distribution_row(f"Entered stage {stage_id}", values, counts))
    return (
        "<h2>Enrollment</h2>"
        '<p class="note">Patients per simulated trial, alternative world; percentiles across '
        "trials.</p>" + html_table(DISTRIBUTION_HEADER, rows)
    )


DURATION_LABELS = {
    "last_registration": "Last registration",
    "analysis": "Analysis",
    "last_patient_off": "Last patient off treatment",
}


def _duration_section(summary: Mapping[str, Any]) -> str:
    durations = _mapping(summary.get("duration_weeks"))
    ordered = [key for key in DURATION_LABELS if key in durations]
    ordered += [key for key in durations if key not in DURATION_LABELS]
    rows = [
        _distribution_row(
            DURATION_LABELS.get(key, key.replace("_", " ").capitalize()), durations[key], weeks
        )
        for key in ordered
    ]
    return (
        "<h2>Duration (weeks from study start)</h2>"
        '<p class="note">Calendar weeks, alternative world; one month is 4.35 weeks.</p>'
        + html_table(DISTRIBUTION_HEADER, rows)
    )


def _adverse_event_section(summary: Mapping[str, Any]) -> str:
    events = _mapping(summary.get("adverse_events"))
    if not events:
        return "<h2>Adverse events</h2><p>The scenario lists no adverse events.</p>"
    rows = []
    for name, values in events.items():
        v = _mapping(values)
        rows.append(
            [
                str(name),
                with_error(v.get("mean_patients"), v.get("mean_patients_se"), 2),
                with_error(v.get("any_probability"), v.get("any_probability_se"), 3),
            ]
        )
    return (
        "<h2>Adverse events</h2>"
        '<p class="note">Alternative world, events up to the analysis.</p>'
        + html_table(
            ["Event", "Patients with the event, mean per trial", "Probability of at least one"],
            rows,
        )
    )


STAGE_COUNT_NAMES = (
    "entered",
    "evaluable",
    "responders",
    "turned_away",
    "stopped_early",
    "overrun",
)


def _stage_section(summary: Mapping[str, Any]) -> str:
    stages = _mapping(summary.get("stages"))
    if not stages:
        return ""
    rows = []
    subgroup_rows = []
    for stage_id, values in stages.items():
        v = _mapping(values)
        for world in ("alternative", "null"):
            counts = _mapping(v.get(world))
            rows.append(
                [str(stage_id), world] + [number(counts.get(name), 2) for name in STAGE_COUNT_NAMES]
            )
        for group, group_counts in _mapping(v.get("subgroups")).items():
            g = _mapping(group_counts)
            subgroup_rows.append(
                [str(stage_id), str(group)]
                + [number(g.get(name), 2) for name in STAGE_COUNT_NAMES[:3]]
            )
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


def _image_type(data: bytes) -> str:
    for magic, mime in IMAGE_TYPES:
        if data.startswith(magic):
            return mime
    return "image/png"


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


def figure_section(figures: Mapping[str, bytes], caption: Callable[[str], str] = _caption) -> str:
    """A "Figures" section embedding each image as a ``data:`` URI, captioned by file name."""
    if not figures:
        return ""
    parts = ["<h2>Figures</h2>"]
    for name, data in figures.items():
        encoded = base64.b64encode(data).decode("ascii")
        text = caption(name)
        parts.append(
            f'<figure><img src="data:{_image_type(data)};base64,{encoded}" '
            f'alt="{html.escape(text, quote=True)}">'
            f"<figcaption>{html.escape(text)} <code>{html.escape(name)}</code></figcaption>"
            "</figure>"
        )
    return "".join(parts)


def _how_to_read(summary: Mapping[str, Any]) -> str:
    replicates = _text(summary.get("replicates"))
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


# ---------------------------------------------------------------- page


def render_report(summary: Mapping[str, Any], figures: Mapping[str, bytes]) -> str:
    """A self-contained HTML page describing one run.

    Parameters
    ----------
    summary : dict
        From :func:`trialsim.planning.summary.summarise` (or read back from ``summary.json``:
        missing keys and nulls are shown as "—").
    figures : dict of str to bytes
        File name to image bytes, e.g. from :func:`trialsim.report.plots.all_figures`;
        embedded as ``data:`` URIs in the given order.

    Returns
    -------
    str
        The HTML document. It references no external resource.
    """
    scenario = _mapping(summary.get("scenario"))
    name = scenario.get("name") or "trialsim run"
    title = scenario.get("title") or ""
    heading = str(title or name)
    body = [
        f"<h1>{_text(heading)}</h1>",
        f'<p class="subtitle">Operating characteristics by simulation: scenario '
        f"<code>{_text(name)}</code></p>",
        _run_details(summary),
        _how_to_read(summary),
        _endpoint_sections(summary),
        _enrollment_section(summary),
        _duration_section(summary),
        _adverse_event_section(summary),
        _stage_section(summary),
        figure_section(figures),
    ]
    return html_page(f"{heading} · trialsim report", body)


def html_page(title: str, body: Iterable[str]) -> str:
    """A complete HTML document with this module's inline style.

    Parameters
    ----------
    title : str
        Plain text for the browser tab; escaped here.
    body : iterable of str
        HTML fragments, already escaped; empty ones are left out.
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )
