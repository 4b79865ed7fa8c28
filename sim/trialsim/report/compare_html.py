"""Tables and the HTML report of a scenario comparison.

:func:`comparison_rows` formats a comparison once, for the terminal table and
for the report alike; :func:`render_comparison_report` makes the
self-contained page with the figures of :mod:`trialsim.report.compare_plots`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from trialsim.planning.comparison import (
    Comparison,
    Difference,
    EndpointRateComparison,
    MetricComparison,
    ScenarioValue,
)
from trialsim.report.page import MISSING, figure_section, html_page, html_table, number, with_error

PROPORTION_DECIMALS = 3
MEAN_DECIMALS = 2  # means of patients and weeks: paired errors are often hundredths
UNLIKE = "unlike test"  # a one-group test beside a two-group comparison: no difference
FIGURE_CAPTIONS = {
    "power.png": "Power per endpoint and scenario, ± 2 Monte Carlo SE; black ticks: exact values.",
    "type1_error.png": "Type I error per endpoint and scenario, ± 2 Monte Carlo SE; black "
    "ticks: exact values.",
    "power_difference.png": "Power of each scenario minus the reference's, in percentage "
    "points: thick bars ± 2 paired SE (common random numbers), thin grey bars ± 2 unpaired SE "
    "(what independent runs would give); black ticks: exact differences.",
    "type1_error_difference.png": "Type I error of each scenario minus the reference's, in "
    "percentage points; paired (thick) and unpaired (thin grey) ± 2 SE; black ticks: exact "
    "differences.",
    "analysis_week.png": "Weeks from study start to the analysis across simulated trials "
    "(alternative world); dashed lines: medians.",
    "registered.png": "Patients registered per simulated trial (alternative world); dashed "
    "lines: medians.",
}


@dataclass(frozen=True)
class ComparisonRow:
    """One quantity of a comparison, formatted.

    Attributes
    ----------
    section : str
        ``endpoint <id>``, ``trial`` or ``adverse events``.
    label : str
        The quantity, e.g. ``power`` or ``power, exact``.
    values : list of str
        One per scenario: value ± one Monte Carlo SE.
    differences : list of str
        One per scenario after the reference: difference ± paired SE, "—" when
        absent, "unlike test" where one endpoint is a one-group test and the
        other a two-group comparison.
    unpaired : list of str
        One per scenario after the reference: the unpaired SE of the difference.
    """

    section: str
    label: str
    values: list[str]
    differences: list[str]
    unpaired: list[str]

    def cells(self, with_unpaired: bool) -> list[str]:
        """Label, reference value, then per other scenario: value, difference (, unpaired SE)."""
        cells = [self.label, self.values[0]]
        for value, difference, unpaired in zip(
            self.values[1:], self.differences, self.unpaired, strict=True
        ):
            cells += [value, difference, unpaired] if with_unpaired else [value, difference]
        return cells


def comparison_header(labels: Sequence[str], with_unpaired: bool) -> list[str]:
    """Column headings matching :meth:`ComparisonRow.cells`, given one label per scenario."""
    header = ["", labels[0]]
    for label in labels[1:]:
        header += [label, f"{label} − {labels[0]}"]
        if with_unpaired:
            header.append("unpaired SE")
    return header


def _row(
    section: str,
    label: str,
    metric: MetricComparison[ScenarioValue, Difference],
    decimals: int,
    unlike: Sequence[bool] = (),
) -> ComparisonRow:
    differences = metric.differences[1:]
    unlike = unlike or [False] * len(differences)
    return ComparisonRow(
        section,
        label,
        [MISSING if v is None else with_error(v.value, v.se, decimals) for v in metric.values],
        [
            (UNLIKE if other else MISSING)
            if d is None
            else with_error(d.difference, d.se, decimals, signed=True)
            for d, other in zip(differences, unlike, strict=True)
        ],
        [MISSING if d is None else number(d.se_unpaired, decimals) for d in differences],
    )


def _exact_row(section: str, label: str, metric: EndpointRateComparison) -> ComparisonRow:
    differences = metric.differences[1:]
    return ComparisonRow(
        section,
        f"{label}, exact",
        [number(None if v is None else v.exact, PROPORTION_DECIMALS) for v in metric.values],
        [
            number(None if d is None else d.exact, PROPORTION_DECIMALS, signed=True)
            for d in differences
        ],
        ["" for _ in differences],
    )


def comparison_rows(comparison: Comparison) -> list[ComparisonRow]:
    """Every quantity of a comparison as formatted rows, grouped by section.

    Exact rows appear where some scenario has an exact value; early-stop rows
    where some scenario stops early at all.

    Parameters
    ----------
    comparison : Comparison
        From :func:`trialsim.compare`.

    Returns
    -------
    list of ComparisonRow
        Proportions to three decimals, patients and weeks to two, as are mean
        patients with an adverse event.
    """
    rows = []
    for endpoint_id, endpoint in comparison.endpoints.items():
        section = f"endpoint {comparison.endpoint_label(endpoint_id)}"
        unlike = _unlike(comparison, endpoint_id)
        for rate, label in ((endpoint.power, "power"), (endpoint.type1_error, "type I error")):
            rows.append(_row(section, label, rate, PROPORTION_DECIMALS, unlike))
            if any(v is not None and v.exact is not None for v in rate.values):
                rows.append(_exact_row(section, label, rate))
        for stop, label in (
            (endpoint.early_stop, "early stop"),
            (endpoint.early_stop_null, "early stop, null world"),
        ):
            if any(v is not None and v.value for v in stop.values):
                rows.append(_row(section, label, stop, PROPORTION_DECIMALS, unlike))
    trial = comparison.trial
    for mean, label in (
        (trial.registered, "patients registered, mean"),
        (trial.analysis_week, "weeks to the analysis, mean"),
        (trial.last_patient_off_week, "weeks to the last patient off, mean"),
    ):
        rows.append(_row("trial", label, mean, MEAN_DECIMALS))
    for name, event in comparison.adverse_events.items():
        rows.append(
            _row("adverse events", f"{name}: patients, mean", event.mean_patients, MEAN_DECIMALS)
        )
        rows.append(
            _row(
                "adverse events",
                f"{name}: P(at least one)",
                event.any_probability,
                PROPORTION_DECIMALS,
            )
        )
    return rows


def _unlike(comparison: Comparison, endpoint_id: str) -> list[bool]:
    """Per scenario after the reference: whether its endpoint is of another kind.

    One is a one-group test and the other a two-group comparison
    (:attr:`~trialsim.model.plan.EndpointPlan.compares_arms`).
    """
    kinds = [
        None if other is None else {e.id: e.compares_arms for e in result.plan.endpoints}.get(other)
        for other, result in zip(
            comparison.endpoint_ids[endpoint_id], comparison.results, strict=True
        )
    ]
    return [None not in (kinds[0], kind) and kind != kinds[0] for kind in kinds[1:]]


SECTION_NOTES = {
    "trial": "Per simulated trial, alternative world (response rates as written).",
    "adverse events": "Alternative world, events up to the analysis.",
}


def _scenario_section(comparison: Comparison) -> str:
    rows = [
        [
            scenario.label + (" (reference)" if index == 0 else ""),
            scenario.title or MISSING,
            scenario.path,
            scenario.sha256,
        ]
        for index, scenario in enumerate(comparison.scenarios)
    ]
    details = [
        ("Reference", comparison.reference),
        ("Seed", comparison.seed),
        ("Replicates", f"{comparison.replicates} per world and scenario"),
        ("trialsim", comparison.trialsim_version),
    ]
    items = "".join(
        f"<dt>{html.escape(term)}</dt><dd>{html.escape(str(value))}</dd>" for term, value in details
    )
    return (
        "<h2>Scenarios</h2>"
        + html_table(["Scenario", "Title", "File", "SHA-256"], rows, ["", "text", "text", "text"])
        + f'<dl class="run">{items}</dl>'
    )


def _how_to_read(comparison: Comparison) -> str:
    return (
        "<h2>How to read this</h2>"
        '<div class="reading"><p>Every scenario was simulated with the same seed and '
        f"{html.escape(str(comparison.replicates))} replicates, and replicate r of each drew "
        "from the same random-number stream (common random numbers). A difference is therefore "
        "estimated trial by trial, and its ± (the paired Monte Carlo standard error: the standard "
        "deviation of the per-trial differences over √R) is usually much smaller than the errors "
        "of the two values it compares. The <em>unpaired SE</em> is what two independent runs "
        "would give; the ratio of the two shows what common random numbers gained.</p>"
        "<p>Power: share of simulated trials that reject H0 with the response rates as written; "
        "type I error: the same in the null world, every stage at its null response rate. "
        "Early-stop rows appear where some scenario stops at an interim analysis. — marks a "
        "quantity the scenario does not have (an endpoint or adverse event missing from it or "
        "from the reference). <em>unlike test</em> marks an endpoint that is a one-group test "
        "in one scenario and a two-group comparison in the other: they answer different "
        "questions, so no difference is given. A section named <code>a = b</code> compares "
        "endpoint a of the reference with endpoint b of the others (<code>--pair a=b</code>)."
        "</p></div>"
    )


def render_comparison_report(comparison: Comparison, figures: Mapping[str, bytes]) -> str:
    """A self-contained HTML page describing a comparison.

    Parameters
    ----------
    comparison : Comparison
        From :func:`trialsim.compare`.
    figures : dict of str to bytes
        File name to image bytes, e.g. from
        :func:`trialsim.report.compare_plots.comparison_figures`; embedded as ``data:`` URIs.

    Returns
    -------
    str
        The HTML document. It references no external resource.
    """
    labels = comparison.labels
    heading = "Comparison: " + " vs ".join(labels)
    header = comparison_header(labels, with_unpaired=True)
    tables = []
    for section, rows in groupby(comparison_rows(comparison), key=lambda row: row.section):
        note = SECTION_NOTES.get(section)
        tables.append(
            f"<h2>{html.escape(section[:1].upper() + section[1:])}</h2>"
            + (f'<p class="note">{html.escape(note)}</p>' if note else "")
            + html_table(header, [row.cells(with_unpaired=True) for row in rows])
        )
    body = [
        f"<h1>{html.escape(heading)}</h1>",
        f'<p class="subtitle">Operating characteristics of {len(labels)} scenarios, '
        f"simulated with common random numbers; reference: {html.escape(labels[0])}</p>",
        _scenario_section(comparison),
        _how_to_read(comparison),
        *tables,
        figure_section(figures, lambda name: FIGURE_CAPTIONS.get(name, name)),
    ]
    return html_page(f"{heading} · trialsim comparison", body)
