"""The HTML report: complete, self-contained and safe."""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest

from trialsim.planning.summary import summarise
from trialsim.report.html import render_report
from trialsim.report.plots import all_figures
from trialsim.rules.validation import load_scenario
from trialsim.run.runner import run_trials

SCENARIO = "scenarios/vk2_d3_2005.yaml"
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def run():
    result = run_trials(load_scenario(SCENARIO), replicates=200, jobs=1)
    return summarise(result), all_figures(result)


@pytest.fixture(scope="module")
def page(run) -> str:
    summary, figures = run
    return render_report(summary, figures)


def test_starts_as_an_html_document(page):
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    assert page.rstrip().endswith("</html>")


def test_run_details(run, page):
    summary, _ = run
    for value in (
        summary.scenario.name,
        summary.scenario.path,
        summary.scenario.sha256,
        str(summary.seed),
        str(summary.replicates),
    ):
        assert value in page


def test_every_endpoint_with_its_power(run, page):
    summary, _ = run
    assert summary.endpoints
    for endpoint_id, endpoint in summary.endpoints.items():
        assert endpoint_id in page
        assert f"{endpoint.power:.3f} ± {endpoint.power_se:.3f}" in page
        assert f"{endpoint.power_exact:.3f}" in page
        assert f"{endpoint.type1_error:.3f} ± {endpoint.type1_error_se:.3f}" in page


def test_durations_in_weeks_to_one_decimal(run, page):
    summary, _ = run
    analysis = summary.duration_weeks.analysis
    for value in (analysis.p05, analysis.p50, analysis.p95):
        assert f"{value:.1f}" in page


def test_adverse_events_and_stages(run, page):
    summary, _ = run
    for name in summary.adverse_events:
        assert name in page
    for stage_id in summary.stages:
        assert f"<td>{stage_id}</td>" in page


def test_figures_are_embedded(run, page):
    _, figures = run
    embedded = DATA_URI.findall(page)
    assert len(embedded) == len(figures)
    for data in embedded:
        assert base64.b64decode(data).startswith(b"\x89PNG")


def test_no_external_resources(page):
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "url(" not in page
    assert "@import" not in page
    assert "http://" not in page
    assert "https://" not in page


def test_explains_monte_carlo_error_and_exact_values(page):
    text = page.lower()
    assert "monte carlo standard error" in text
    assert "exact" in text


def test_escapes_user_text(run):
    summary, figures = run
    (event,) = summary.adverse_events.values()
    hostile = dataclasses.replace(
        summary,
        scenario=dataclasses.replace(
            summary.scenario,
            title="<script>alert('title')</script>",
            path='x"><img src=x onerror=alert(1)>.yaml',
        ),
        adverse_events={"<b>rash</b>": event},
    )
    page = render_report(hostile, figures)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "<b>rash</b>" not in page
    assert "&lt;b&gt;rash&lt;/b&gt;" in page


def test_missing_values_show_a_dash(run):
    summary, _ = run
    endpoint_id, endpoint = next(iter(summary.endpoints.items()))
    missing = dataclasses.replace(
        endpoint, power_exact=None, estimate_mean=None, power_se=float("nan")
    )
    page = render_report(
        dataclasses.replace(summary, endpoints={**summary.endpoints, endpoint_id: missing}), {}
    )
    assert "—" in page
    assert "None" not in page
    assert not re.search(r"\bnan\b", page, re.IGNORECASE)
    assert f"{endpoint.power:.3f}" in page


def test_no_figures_no_figure_section(run):
    summary, _ = run
    assert "data:image" not in render_report(summary, {})
