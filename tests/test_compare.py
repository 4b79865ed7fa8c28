"""`trialsim compare`: paired differences under common random numbers, outputs, CLI."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli import documented_examples, workdir  # noqa: F401 - workdir: a fixture
from typer.testing import CliRunner

from trialsim.cli import app
from trialsim.cli_compare import compare, default_output_folder
from trialsim.compare import compare_results
from trialsim.compare_plots import comparison_figures, plot_differences, plot_rates
from trialsim.compare_report import comparison_rows, render_comparison_report
from trialsim.runner import SimulationResult, run_trials
from trialsim.scenario import load_scenario
from trialsim.summary import summarise

from conftest import SHIPPED_2005

REPLICATES = 300
runner = CliRunner()


def simulate(path: Path, replicates: int = REPLICATES) -> SimulationResult:
    return run_trials(load_scenario(path), replicates=replicates, jobs=1)


def variant(folder: Path, name: str, *replacements: tuple[str, str]) -> Path:
    """A copy of the 2005 scenario under another name, with text replaced."""
    text = SHIPPED_2005.read_text().replace("name: vk2-d3-2005", f"name: {name}")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def metric_entries(comparison: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every compared metric ({values, differences}) with its dotted name."""
    for group in ("endpoints", "adverse_events"):
        for name, metrics in comparison[group].items():
            for key, metric in metrics.items():
                yield f"{group}.{name}.{key}", metric
    for key, metric in comparison["trial"].items():
        yield f"trial.{key}", metric


@pytest.fixture(scope="module")
def reference() -> SimulationResult:
    return simulate(SHIPPED_2005)


@pytest.fixture(scope="module")
def better_vk2(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The 2005 scenario with a higher VK2 response rate (0.172 -> 0.20)."""
    folder = tmp_path_factory.mktemp("better")
    return simulate(
        variant(folder, "better-vk2", ("response: 0.172", "response: 0.20")), replicates=1000
    )


def test_scenario_compared_with_itself_differs_by_exactly_zero(
    reference: SimulationResult,
) -> None:
    comparison = compare_results([reference, simulate(SHIPPED_2005)])
    entries = dict(metric_entries(comparison))
    assert {"endpoints.vk2_response.power", "trial.analysis_week"} <= set(entries)
    assert "adverse_events.skin rash.any_probability" in entries
    for name, metric in entries.items():
        assert metric["differences"][0] is None, name
        difference = metric["differences"][1]
        assert difference["difference"] == 0.0, name
        assert difference["se"] == 0.0, name
    power = entries["endpoints.vk2_response.power"]["differences"][1]
    assert power["se_unpaired"] > 0.01
    assert power["exact"] == 0.0
    assert [s["label"] for s in comparison["scenarios"]] == ["vk2-d3-2005 [1]", "vk2-d3-2005 [2]"]


def test_common_random_numbers_sharpen_the_difference_and_agree_with_exact(
    better_vk2: SimulationResult,
) -> None:
    reference = simulate(SHIPPED_2005, replicates=better_vk2.replicates)
    comparison = compare_results([reference, better_vk2])
    power = comparison["endpoints"]["vk2_response"]["power"]
    difference = power["differences"][1]
    assert difference["se"] < 0.6 * difference["se_unpaired"]
    for endpoint_id, metrics in comparison["endpoints"].items():
        d = metrics["power"]["differences"][1]
        exact = [v["exact"] for v in metrics["power"]["values"]]
        assert d["exact"] == pytest.approx(exact[1] - exact[0])
        assert abs(d["difference"] - d["exact"]) <= 4 * d["se"], endpoint_id
    # Only the alternative world changed: the null worlds are identical replicate by replicate.
    type1 = comparison["endpoints"]["vk2_response"]["type1_error"]["differences"][1]
    assert (type1["difference"], type1["se"]) == (0.0, 0.0)


def test_values_equal_the_run_summary(reference: SimulationResult) -> None:
    comparison = compare_results([reference, reference])
    summary = summarise(reference)
    for endpoint_id, endpoint in summary["endpoints"].items():
        value = comparison["endpoints"][endpoint_id]["power"]["values"][0]
        assert value["value"] == endpoint["power"]
        assert value["se"] == endpoint["power_se"]
        assert value["exact"] == endpoint["power_exact"]
    registered = comparison["trial"]["registered"]["values"][0]
    assert registered["value"] == summary["enrollment"]["registered"]["mean"]
    assert registered["p95"] == summary["enrollment"]["registered"]["p95"]
    events = comparison["adverse_events"]["skin rash"]
    assert (
        events["mean_patients"]["values"][0]["value"]
        == (summary["adverse_events"]["skin rash"]["mean_patients"])
    )
    assert comparison["seed"] == reference.seed
    assert comparison["replicates"] == REPLICATES
    assert comparison["scenarios"][0]["sha256"] == reference.scenario.sha256


def test_endpoint_or_event_in_one_scenario_only_has_no_difference(
    reference: SimulationResult, tmp_path: Path
) -> None:
    renamed = variant(
        tmp_path,
        "renamed",
        ("- id: overall ", "- id: overall_any "),
        ("name: skin rash", "name: rash"),
    )
    comparison = compare_results([reference, simulate(renamed)])
    assert list(comparison["endpoints"]) == ["vk2_response", "d3_rescue", "overall", "overall_any"]
    for endpoint_id, present in (("overall", [True, False]), ("overall_any", [False, True])):
        power = comparison["endpoints"][endpoint_id]["power"]
        assert [value is not None for value in power["values"]] == present
        assert power["differences"] == [None, None]
    assert comparison["adverse_events"]["rash"]["mean_patients"]["differences"] == [None, None]
    assert comparison["endpoints"]["d3_rescue"]["power"]["differences"][1]["difference"] == 0.0
    rows = {(row.section, row.label): row for row in comparison_rows(comparison)}
    assert rows["endpoint overall_any", "power"].values[0] == "—"
    assert rows["endpoint overall_any", "power"].differences == ["—"]


def test_results_must_be_paired(reference: SimulationResult) -> None:
    with pytest.raises(ValueError, match="at least two"):
        compare_results([reference])
    other_seed = run_trials(load_scenario(SHIPPED_2005), replicates=REPLICATES, seed=5, jobs=1)
    with pytest.raises(ValueError, match="seed"):
        compare_results([reference, other_seed])


def test_figures_draw_on_the_given_axes(
    reference: SimulationResult, better_vk2: SimulationResult
) -> None:
    from matplotlib.figure import Figure

    comparison = compare_results([reference, reference])
    axes = Figure().subplots(1, 2)
    assert plot_rates(comparison, "power", ax=axes[0]) is axes[0]
    assert plot_differences(comparison, "type1_error", ax=axes[1]) is axes[1]
    endpoints = len(comparison["endpoints"])
    assert len(axes[0].containers) == 2 * endpoints  # one error bar per scenario and endpoint
    figures = comparison_figures(comparison, [reference, reference])
    assert set(figures) == {
        "power.png",
        "type1_error.png",
        "power_difference.png",
        "type1_error_difference.png",
        "analysis_week.png",
        "registered.png",
    }
    assert all(png.startswith(b"\x89PNG") for png in figures.values())


def test_report_is_self_contained(reference: SimulationResult) -> None:
    comparison = compare_results([reference, reference])
    page = render_comparison_report(comparison, {"power.png": b"\x89PNG\r\n\x1a\nfake"})
    assert "http" not in page
    assert re.findall(r'src="(?!data:)', page) == []
    assert 'src="data:image/png;base64,' in page
    assert "vk2-d3-2005 [2] − vk2-d3-2005 [1]" in page


def test_default_output_folder_is_short_and_names_the_scenarios() -> None:
    assert default_output_folder(["a", "b", "a"]) == Path("results/compare-a-b")
    names = [f"scenario-number-{i}" for i in range(8)]
    folder = default_output_folder(names).name
    assert len(folder) <= 60
    assert folder.startswith("compare-scenario-number-0-")
    assert re.fullmatch(r"compare-.*-and-\d+-more", folder)
    kept = folder.count("scenario-number-")
    assert folder.endswith(f"-and-{len(names) - kept}-more")


# ------------------------------------------------------------------ command line


@pytest.mark.usefixtures("workdir")
def test_documented_examples_run() -> None:
    examples = documented_examples(compare)
    assert len(examples) >= 2
    for example in examples:
        words = shlex.split(example)[1:]
        if "--replicates" not in words:
            words += ["--replicates", str(REPLICATES)]
        result = runner.invoke(app, [*words, "--jobs", "1"])
        assert result.exit_code == 0, (example, result.output, result.stderr)
    results = Path("results")
    folder = results / "compare-vk2-d3-2005-followup-capped"
    document = json.loads((folder / "compare.json").read_text())
    assert [s["path"] for s in document["scenarios"]] == [
        "scenarios/vk2_d3_2005.yaml",
        "scenarios/followup_capped.yaml",
    ]
    assert document["seed"] == 7, "the --force example replaced the first one's results"
    assert {"report.html", "power.png", "analysis_week.png"} <= {p.name for p in folder.iterdir()}
    assert (results / "itt" / "compare.json").exists()


def compare_cli(out: Path, *extra: str) -> Any:
    return runner.invoke(
        app,
        [
            "compare",
            str(SHIPPED_2005),
            str(SHIPPED_2005),
            "--replicates",
            "100",
            "--jobs",
            "1",
            "--out",
            str(out),
            *extra,
        ],
    )


def test_cli_table_and_refusal_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "c"
    out.mkdir()
    (out / "precious.txt").write_text("earlier results")
    result = compare_cli(out)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert (out / "precious.txt").read_text() == "earlier results"
    result = compare_cli(out, "--force")
    assert result.exit_code == 0, result.output
    assert not (out / "precious.txt").exists()
    assert "B − A" in result.stdout and "+0.000 ± 0.000" in result.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["c"], "no staging folders left behind"
    assert compare_cli(tmp_path / "quiet", "--quiet").stdout == ""


def test_every_problem_of_every_file_and_nothing_written(tmp_path: Path) -> None:
    first = variant(tmp_path, "first-bad", ("dropout: 0.20", "dropout: 1.5"))
    second = variant(tmp_path, "second-bad", ("weeks: 16\n    entry", "weeks: -16\n    entry"))
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["compare", str(first), str(SHIPPED_2005), str(second), "--out", str(out)]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    problem = rf"{re.escape(str(first))}:\d+: stages\.0\.dropout: .*\[.+\]; got 1\.5"
    assert re.match(problem, lines[0])
    assert lines[1].startswith(f"{second}:") and "stages.1.weeks" in lines[1]
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()


def test_one_scenario_is_an_input_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", str(SHIPPED_2005), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "at least two scenarios" in result.stderr
    assert not (tmp_path / "o").exists()


def test_interrupt_exits_130_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> SimulationResult:
        raise KeyboardInterrupt

    monkeypatch.setattr("trialsim.runner.run_trials", interrupted)
    out = tmp_path / "out"
    result = compare_cli(out)
    assert result.exit_code == 130
    assert "nothing was written" in result.stderr
    assert not out.exists()


def test_modules_do_not_import_matplotlib_or_scipy_stats() -> None:
    code = (
        "import sys, trialsim.cli, trialsim.compare_plots, trialsim.compare_report\n"
        "print(','.join(m for m in ('matplotlib', 'scipy.stats') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == ""
