"""The README's Python examples run as written; its API table lists exactly ``trialsim.__all__``;
every figure it quotes is what the commands print, and every scenario value it quotes is the file's.

Each quoted figure is a template below (``{}`` where a number stands) filled from a run, a
scenario file or a constant of the code; the README, its whitespace folded, must contain it. A
decimal number outside the Speed section (measurements of named benchmark runs) and the code
blocks must be inside a checked template or an exempt phrase, so a new figure needs a check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import trialsim
from trialsim.cli.app import app
from trialsim.model.plan import compile_plan
from trialsim.planning.summary import summarise
from trialsim.rules.validation import load_scenario
from trialsim.run.runner import CHUNK_MEMORY_BYTES, CHUNK_REPLICATES, chunk_replicates, run_trials
from trialsim.scenario.variation import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(heading: str) -> str:
    """The README's text under ``## heading``, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {heading!r}"
    return match.group(1)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_python_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(README)
    assert blocks
    monkeypatch.chdir(ROOT)
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own example
        assert "summary" in namespace


def test_both_python_sections_have_examples_that_run_above() -> None:
    run = python_blocks(README)
    for heading in ("From Python", "Python API"):
        examples = python_blocks(section(heading))
        assert examples, heading
        assert all(example in run for example in examples)


def test_the_summary_example_reads_a_typed_summary() -> None:
    (example,) = python_blocks(section("From Python"))
    assert 'summary.endpoints["vk2_response"]' in example
    assert 'summary["' not in example


def test_api_table_lists_exactly_the_public_names() -> None:
    listed = re.findall(r"^\| `(\w+)` \| .+ \|$", section("Python API"), re.M)
    assert len(listed) == len(set(listed)), "a name is listed twice"
    assert sorted(listed) == sorted(trialsim.__all__)


# --- every quoted figure against a run ------------------------------------------------------

SCENARIOS = ROOT / "scenarios"
FLAT = " ".join(README.split())
NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"


def pattern(template: str) -> str:
    """A template as a regular expression: each ``{}`` any number."""
    return NUMBER.join(re.escape(part) for part in template.split("{}"))


def assert_quotes(template: str, *values: str) -> None:
    """The README, whitespace folded, says ``template`` with these numbers."""
    expected = template.format(*values)
    found = re.findall(pattern(template), FLAT)
    if expected not in FLAT:
        pytest.fail(f"README says {found or 'nothing like it'}; the run gives {expected!r}")


def scenario_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
    return data


def stage(data: dict[str, Any], stage_id: str) -> dict[str, Any]:
    return next(s for s in data["stages"] if s["id"] == stage_id)


def endpoint_rule(data: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
    rule: dict[str, Any] = next(e for e in data["endpoints"] if e["id"] == endpoint_id)["rule"]
    return rule


def percent(rate: float) -> str:
    return f"{100 * rate:g}"


def f3(value: float) -> str:
    return f"{value:.3f}"


SAMPLE_SIZE = (
    "both are {} registered patients: exact power {}, simulated {} [{}, {}], exact type I error {}."
)
SAMPLE_SIZE_INPUTS = "For the 2005 scenario ({}% dropout, {}% not evaluable, p0 = {}, true rate {})"
RUN_2005 = (
    "The 2005 scenario gives ({} replicates, seed {}): VK2 response {} evaluable and {} "
    "responders per trial (observed 29 and 5), {} re-registered (observed 20), {} evaluable and "
    "{} responders on VK2 + D3 (observed 11 and 4); power of the single-stage exact test of VK2 "
    "alone {} ± {} against an exact {}."
)
TWO_COMMANDS = "Install and run the 2005 scenario ({} simulated trials"
CSV_BYTES = "(about {} bytes a replicate for the 2005 scenario;"
D3_RESCUE = "(`d3_rescue`: H0 p ≤ {}%)"
D3_RATE = "whether the {}% comes from D3"
ADDON = (
    "Assuming a {}% late response to continued VK2 and {}% with D3, {} patients give a power of "
    "{} ± {} (exact {}) at one-sided α = {}, with a type I error of {} ± {} (exact {}) when D3 "
    "adds nothing. Only about {} patients per group reach an evaluable second stage"
)
UPFRONT = "alone: {} patients give a power of {} ± {} (exact {})."
CHUNKS = (
    "A chunk holds {} replicates, or as many as an estimate of their arrays (patients × stages "
    "× the arrays drawn and simulated for each) puts within {} MiB, at least one: a trial of "
    "{} patients and two stages runs about {} at a time"
)
GOLDEN = "for a fixed seed ({} replicates, seed {})"
BOP2 = (
    "`trialsim design bop2 --p0 {} --p1 {} --n {} --looks {},{} --alpha {}` searches λ and γ "
    "for the VK2 + D3 step of the follow-up and picks λ = {} and γ = {}: stop the stage if at "
    "most {} of the first {} or {} of the first {} evaluable patients respond, reject H0 with at "
    "least {} of {}; exact type I error {} and power {}, stopping early with probability {} when "
    "the add-on does nothing."
)
CHECKED = (
    SAMPLE_SIZE,
    SAMPLE_SIZE_INPUTS,
    RUN_2005,
    TWO_COMMANDS,
    CSV_BYTES,
    D3_RESCUE,
    D3_RATE,
    ADDON,
    UPFRONT,
    CHUNKS,
    GOLDEN,
    BOP2,
)
EXEMPT = {
    "Python 3.10 or newer": "a requirement",
    "--power 0.8": "the command's input",
    "power reaches 0.8": "the command's input",
    "response=0.05:0.35:0.05": "the command's input",
    "0.01 week for weeks, 0.001 for rates": "histogram resolutions, tested in test_tally",
    "exact to 0.01 week": "histogram resolution",
    "365.25/12/7": "a definition",
    "error of 0.005 on a power of 0.66 means that another seed would give a value within about "
    "±0.01": "an illustration of what an error means, not a result",
    "accrual below 0.001 a month": "a schema limit, tested in the hostile-input tests",
}


def test_every_decimal_figure_is_checked_or_exempt() -> None:
    text = re.sub(r"```.*?```", "", README, flags=re.S)
    text = re.sub(r"^## Speed\n.*?(?=^## )", "", text, flags=re.S | re.M)
    flat = " ".join(text.split())
    for phrase in EXEMPT:
        assert phrase in flat, f"exempt phrase no longer in README: {phrase!r}"
    covered = [m.span() for t in CHECKED for m in re.finditer(pattern(t), flat)]
    covered += [m.span() for p in EXEMPT for m in re.finditer(re.escape(p), flat)]
    for template in CHECKED:
        assert re.search(pattern(template), flat), f"README no longer says {template!r}"
    unchecked = [
        flat[max(0, m.start() - 40) : m.end() + 10]
        for m in re.finditer(r"(?<![\w.])\d+\.\d+", flat)
        if not any(start <= m.start() and m.end() <= stop for start, stop in covered)
    ]
    assert unchecked == [], "figures no test checks: add a template or an exemption"


def test_the_speed_section_is_labelled_as_measurements() -> None:
    assert section("Speed").lstrip().startswith("Every figure in this section is a measurement")


def cli(*words: str) -> None:
    result = CliRunner().invoke(app, [*words, "--quiet", "--jobs", "1"])
    assert result.exit_code == 0, result.output + result.stderr


@pytest.fixture(scope="module")
def run_2005(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], float]:
    """``trialsim run scenarios/vk2_d3_2005.yaml``: its summary.json and CSV bytes per replicate."""
    out = tmp_path_factory.mktemp("readme") / "vk2-d3-2005"
    cli("run", str(SCENARIOS / "vk2_d3_2005.yaml"), "--out", str(out))
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary, (out / "replicates.csv").stat().st_size / summary["replicates"]


def test_the_2005_run(run_2005: tuple[dict[str, Any], float]) -> None:
    summary, csv_bytes = run_2005
    vk2, d3 = summary["endpoints"]["vk2_response"], summary["endpoints"]["d3_rescue"]
    assert_quotes(
        RUN_2005,
        f"{summary['replicates']:,}",
        str(summary["seed"]),
        f"{vk2['evaluable_mean']:.1f}",
        f"{vk2['responders_mean']:.1f}",
        f"{summary['enrollment']['stage_entries']['vk2_d3']['mean']:.1f}",
        f"{d3['evaluable_mean']:.1f}",
        f"{d3['responders_mean']:.1f}",
        f3(vk2["power"]),
        f3(vk2["power_se"]),
        f3(vk2["power_exact"]),
    )
    assert_quotes(TWO_COMMANDS, f"{summary['replicates']:,}")
    assert_quotes(CSV_BYTES, str(int(round(csv_bytes, -1))))


def test_the_sample_size_paragraph(tmp_path: Path) -> None:
    out = tmp_path / "samplesize"
    cli(
        "samplesize",
        str(SCENARIOS / "vk2_d3_2005.yaml"),
        "--endpoint",
        "vk2_response",
        "--power",
        "0.8",
        "--out",
        str(out),
    )
    search = json.loads((out / "samplesize.json").read_text())
    minimal, conservative = search["minimal"], search["conservative"]
    assert minimal["value"] == conservative["value"], "README says both answers are one value"
    low, high = minimal["power_interval"]
    assert_quotes(
        SAMPLE_SIZE,
        str(minimal["value"]),
        f3(minimal["power_exact"]),
        f3(minimal["power"]),
        f3(low),
        f3(high),
        f3(minimal["type1_error_exact"]),
    )
    data = scenario_yaml("vk2_d3_2005")
    vk2 = stage(data, "vk2")
    assert_quotes(
        SAMPLE_SIZE_INPUTS,
        percent(vk2["dropout"]),
        percent(vk2["not_evaluable"]),
        str(endpoint_rule(data, "vk2_response")["p0"]),
        str(vk2["response"]),
    )


def endpoint(path: Path, endpoint_id: str) -> Any:
    """One endpoint of the scenario's summary at its own replicates and seed."""
    return summarise(run_trials(load_scenario(path), jobs=1)).endpoints[endpoint_id]


def test_the_randomised_designs() -> None:
    addon = scenario_yaml("randomised_addon_d3")
    effect = endpoint(SCENARIOS / "randomised_addon_d3.yaml", "d3_effect")
    assert effect.control is not None
    per_group = (effect.evaluable_mean + effect.control.evaluable_mean) / 2
    assert_quotes(
        ADDON,
        percent(stage(addon, "vk2_continued")["response"]),
        percent(stage(addon, "vk2_d3")["response"]),
        str(addon["enrollment"]["patients"]),
        f3(effect.power),
        f3(effect.power_se),
        f3(effect.power_exact),
        f"{endpoint_rule(addon, 'd3_effect')['alpha']:.2f}",
        f3(effect.type1_error),
        f3(effect.type1_error_se),
        f3(effect.type1_error_exact),
        str(round(per_group)),
    )
    upfront = endpoint(SCENARIOS / "randomised_upfront_d3.yaml", "d3_upfront")
    assert_quotes(
        UPFRONT,
        str(scenario_yaml("randomised_upfront_d3")["enrollment"]["patients"]),
        f3(upfront.power),
        f3(upfront.power_se),
        f3(upfront.power_exact),
    )
    data = scenario_yaml("vk2_d3_2005")
    assert_quotes(D3_RESCUE, percent(endpoint_rule(data, "d3_rescue")["p0"]))
    assert_quotes(D3_RATE, percent(stage(data, "vk2_d3")["response"]))


def test_chunk_sizes_and_the_golden_run() -> None:
    from golden.regenerate import REPLICATES, SEED

    large = apply_overrides(
        load_scenario(SCENARIOS / "vk2_d3_2005.yaml"), {"enrollment.patients": 10_000}
    )
    assert_quotes(
        CHUNKS,
        str(CHUNK_REPLICATES),
        str(CHUNK_MEMORY_BYTES // 2**20),
        "10,000",
        str(round(chunk_replicates(compile_plan(large.spec)), -1)),
    )
    assert_quotes(GOLDEN, f"{REPLICATES:,}", str(SEED))


def test_the_bop2_paragraph_quotes_the_design_search_and_the_shipped_scenario() -> None:
    from trialsim.exact.bop2_design import find_bop2_design

    rule = endpoint_rule(scenario_yaml("followup_bop2"), "d3_rescue")
    p0, p1, n, looks, alpha = 0.1, 0.3, rule["n"], rule["looks"], 0.05
    design = find_bop2_design(p0=p0, p1=p1, n=n, looks=looks, alpha=alpha)
    assert (design.lam, design.gamma) == (rule["lambda"], rule["gamma"]), "the scenario's design"
    first, second = design.table.looks
    assert_quotes(
        BOP2,
        f"{p0:g}", f"{p1:g}", str(n), str(looks[0]), str(looks[1]), f"{alpha:g}",
        f"{design.lam:.2f}", f"{design.gamma:.2f}",
        str(first.futility_max), str(first.n), str(second.futility_max), str(second.n),
        str(design.table.final_min), str(design.table.n),
        f"{design.null.rejection:.4f}", f"{design.alternative.rejection:.4f}",
        f"{design.null.early_termination:.4f}",
    )  # fmt: skip
