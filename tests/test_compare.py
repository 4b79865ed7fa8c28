"""`trialsim compare`: paired differences under common random numbers, outputs, CLI."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_cli import documented_examples, workdir  # noqa: F401 - workdir: a fixture
from typer.testing import CliRunner

from trialsim.cli.app import app
from trialsim.cli.compare import compare, default_output_folder
from trialsim.planning.compare import compare as compare_scenarios
from trialsim.planning.compare import compare_results
from trialsim.planning.comparison import Comparison
from trialsim.planning.paired import PairedRun, run_paired
from trialsim.planning.summary import summarise
from trialsim.planning.summary_types import Summary
from trialsim.report.compare_html import comparison_rows, render_comparison_report
from trialsim.report.compare_plots import (
    comparison_figures,
    plot_compared_distributions,
    plot_compared_rates,
    plot_paired_differences,
)
from trialsim.rules.validation import load_scenario
from trialsim.run.records import ALTERNATIVE, RecordLayout
from trialsim.run.runner import CHUNK_REPLICATES, run_trials

from conftest import SHIPPED_2005

REPLICATES = 300
ADDON = SHIPPED_2005.parent / "randomised_addon_d3.yaml"
runner = CliRunner()


def simulate(*paths: Path, replicates: int = REPLICATES, jobs: int = 1) -> PairedRun:
    return run_paired([load_scenario(path) for path in paths], replicates=replicates, jobs=jobs)


def variant(folder: Path, name: str, *replacements: tuple[str, str]) -> Path:
    """A copy of the 2005 scenario under another name, with text replaced."""
    text = SHIPPED_2005.read_text().replace("name: vk2-d3-2005", f"name: {name}")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def metric_entries(comparison: Comparison) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every compared metric ({values, differences}) with its dotted name, as in compare.json."""
    document: dict[str, Any] = comparison.to_dict()
    for group in ("endpoints", "adverse_events"):
        for name, metrics in document[group].items():
            for key, metric in metrics.items():
                yield f"{group}.{name}.{key}", metric
    for key, metric in document["trial"].items():
        yield f"trial.{key}", metric


def without_timing(summary: Summary) -> dict[str, Any]:
    document: dict[str, Any] = summary.to_dict()
    return {key: value for key, value in document.items() if key != "elapsed_seconds"}


@pytest.fixture(scope="module")
def itself() -> PairedRun:
    """The 2005 scenario compared with itself."""
    return simulate(SHIPPED_2005, SHIPPED_2005)


@pytest.fixture(scope="module")
def better_vk2(tmp_path_factory: pytest.TempPathFactory) -> PairedRun:
    """The 2005 scenario against itself with a higher VK2 response rate (0.172 -> 0.20)."""
    folder = tmp_path_factory.mktemp("better")
    better = variant(folder, "better-vk2", ("response: 0.172", "response: 0.20"))
    return simulate(SHIPPED_2005, better, replicates=1000)


def test_scenario_compared_with_itself_differs_by_exactly_zero(itself: PairedRun) -> None:
    comparison = compare_results(itself)
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
    assert [s.label for s in comparison.scenarios] == ["vk2-d3-2005 [1]", "vk2-d3-2005 [2]"]


def test_common_random_numbers_sharpen_the_difference_and_agree_with_exact(
    better_vk2: PairedRun,
) -> None:
    comparison = compare_results(better_vk2)
    power = comparison.endpoints["vk2_response"].power
    difference = power.differences[1]
    assert difference is not None
    assert difference.se < 0.6 * difference.se_unpaired
    for endpoint_id, metrics in comparison.endpoints.items():
        d = metrics.power.differences[1]
        assert d is not None and d.exact is not None
        exact = [v.exact for v in metrics.power.values]
        assert d.exact == pytest.approx(exact[1] - exact[0])
        assert abs(d.difference - d.exact) <= 4 * d.se, endpoint_id
    # Only the alternative world changed: the null worlds are identical replicate by replicate.
    type1 = comparison.endpoints["vk2_response"].type1_error.differences[1]
    assert type1 is not None
    assert (type1.difference, type1.se) == (0.0, 0.0)


def test_paired_se_is_that_of_the_per_replicate_differences(better_vk2: PairedRun) -> None:
    records = []
    for result in better_vk2.results:
        chunks: list[np.ndarray] = []
        run_trials(result.scenario, better_vk2.replicates, jobs=1, on_records=chunks.append)
        alternative = np.concatenate(chunks)[ALTERNATIVE::2]
        records.append((RecordLayout.for_plan(result.plan), alternative))
    for column, key in (
        ("endpoint.vk2_response.reject", ("endpoints", "vk2_response", "power")),
        ("analysis_week", ("trial", "analysis_week")),
    ):
        reference, other = (layout.column(rows, column) for layout, rows in records)
        differences = other - reference
        expected = np.std(differences, ddof=1) / np.sqrt(len(differences))
        assert expected > 0, column
        assert better_vk2.paired_se(1, key) == pytest.approx(expected, rel=1e-9), column


def test_lockstep_results_do_not_depend_on_the_number_of_workers(tmp_path: Path) -> None:
    better = variant(tmp_path, "better-vk2", ("response: 0.172", "response: 0.20"))
    replicates = 3 * CHUNK_REPLICATES + 17
    serial, parallel = (
        simulate(SHIPPED_2005, better, replicates=replicates, jobs=jobs) for jobs in (1, 2)
    )
    assert (serial.results[0].jobs, parallel.results[0].jobs) == (1, 2)
    for name in ("count", "mean", "squares"):
        np.testing.assert_array_equal(
            getattr(serial.differences, name), getattr(parallel.differences, name)
        )
    for one, two in zip(serial.results, parallel.results, strict=True):
        assert without_timing(summarise(one)) == {**without_timing(summarise(two)), "jobs": 1}
    assert compare_results(serial).to_json() == compare_results(parallel).to_json()


def test_values_equal_the_summary_of_a_plain_run(better_vk2: PairedRun) -> None:
    comparison = compare_results(better_vk2)
    for k, paired in enumerate(better_vk2.results):
        plain = run_trials(paired.scenario, better_vk2.replicates, better_vk2.seed, jobs=1)
        summary = summarise(plain)
        assert without_timing(summarise(paired)) == without_timing(summary)
        for endpoint_id, endpoint in summary.endpoints.items():
            value = comparison.endpoints[endpoint_id].power.values[k]
            assert value is not None
            assert value.value == endpoint.power
            assert value.se == endpoint.power_se
            assert value.exact == endpoint.power_exact
            early = comparison.endpoints[endpoint_id].early_stop_null.values[k]
            assert early is not None
            assert early.value == endpoint.early_stop_null
        registered = comparison.trial.registered.values[k]
        assert registered is not None
        assert registered.value == summary.enrollment.registered.mean
        assert registered.p95 == summary.enrollment.registered.p95
        analysis = comparison.trial.analysis_week.values[k]
        assert analysis is not None
        assert analysis.p50 == summary.duration_weeks.analysis.p50
        events = comparison.adverse_events["skin rash"]
        expected = summary.adverse_events["skin rash"]
        patients, anyone = events.mean_patients.values[k], events.any_probability.values[k]
        assert patients is not None and anyone is not None
        assert patients.value == expected.mean_patients
        assert anyone.value == expected.any_probability
        assert comparison.scenarios[k].sha256 == plain.scenario.sha256
    assert comparison.seed == better_vk2.seed
    assert comparison.replicates == 1000


def test_endpoint_or_event_in_one_scenario_only_has_no_difference(tmp_path: Path) -> None:
    renamed = variant(
        tmp_path,
        "renamed",
        ("- id: overall ", "- id: overall_any "),
        ("name: skin rash", "name: rash"),
    )
    comparison = compare_results(simulate(SHIPPED_2005, renamed))
    assert list(comparison.endpoints) == ["vk2_response", "d3_rescue", "overall", "overall_any"]
    for endpoint_id, present in (("overall", [True, False]), ("overall_any", [False, True])):
        power = comparison.endpoints[endpoint_id].power
        assert [value is not None for value in power.values] == present
        assert power.differences == (None, None)
    assert comparison.adverse_events["rash"].mean_patients.differences == (None, None)
    d3_rescue = comparison.endpoints["d3_rescue"].power.differences[1]
    assert d3_rescue is not None and d3_rescue.difference == 0.0
    rows = {(row.section, row.label): row for row in comparison_rows(comparison)}
    assert rows["endpoint overall_any", "power"].values[0] == "—"
    assert rows["endpoint overall_any", "power"].differences == ["—"]


def test_results_must_be_paired(itself: PairedRun) -> None:
    with pytest.raises(ValueError, match="at least two"):
        run_paired([load_scenario(SHIPPED_2005)], replicates=REPLICATES, jobs=1)
    with pytest.raises(ValueError, match="at least two"):
        compare_results(replace(itself, results=itself.results[:1]))
    other_seed = run_trials(load_scenario(SHIPPED_2005), replicates=REPLICATES, seed=5, jobs=1)
    with pytest.raises(ValueError, match="seed"):
        compare_results(replace(itself, results=(itself.results[0], other_seed)))


def test_figures_draw_on_the_given_axes(itself: PairedRun) -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import StepPatch

    comparison = compare_results(itself)
    axes = Figure().subplots(1, 3)
    assert plot_compared_rates(comparison, "power", ax=axes[0]) is axes[0]
    assert plot_paired_differences(comparison, "type1_error", ax=axes[1]) is axes[1]
    assert plot_compared_distributions(comparison, "registered", ax=axes[2]) is axes[2]
    endpoints = len(comparison.endpoints)
    assert len(axes[0].containers) == 2 * endpoints  # one error bar per scenario and endpoint
    # One bin per patient count; each scenario's bars add up to 100% of its trials.
    registered = itself.results[0].histogram(ALTERNATIVE, "registered").values_and_counts()[0]
    assert len(axes[2].patches) == 2
    for patch in axes[2].patches:
        assert isinstance(patch, StepPatch)
        heights = patch.get_data().values
        assert len(heights) == registered.max() - registered.min() + 1
        assert heights.sum() == pytest.approx(100.0)
    figures = comparison_figures(comparison)
    assert set(figures) == {
        "power.png",
        "type1_error.png",
        "power_difference.png",
        "type1_error_difference.png",
        "analysis_week.png",
        "registered.png",
    }
    assert all(png.startswith(b"\x89PNG") for png in figures.values())


def test_report_is_self_contained(itself: PairedRun) -> None:
    comparison = compare_results(itself)
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
    for force in ([], ["--force"]):
        result = compare_cli(out, *force)
        assert result.exit_code == 2
        assert "did not write (precious.txt)" in result.stderr
        assert (out / "precious.txt").read_text() == "earlier results"
    (out / "precious.txt").unlink()
    assert compare_cli(out, "--quiet").exit_code == 0
    result = compare_cli(out)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    result = compare_cli(out, "--force")
    assert result.exit_code == 0, result.output
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
    def interrupted(*args: Any, **kwargs: Any) -> PairedRun:
        raise KeyboardInterrupt

    monkeypatch.setattr("trialsim.planning.compare.run_paired", interrupted)
    out = tmp_path / "out"
    result = compare_cli(out)
    assert result.exit_code == 130
    assert "nothing was written" in result.stderr
    assert not out.exists()


def test_modules_do_not_import_matplotlib_or_scipy_stats() -> None:
    code = (
        "import sys, trialsim.cli.app, trialsim.report.compare_plots\n"
        "import trialsim.report.compare_html\n"
        "print(','.join(m for m in ('matplotlib', 'scipy.stats') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == ""


def test_a_one_group_endpoint_is_not_paired_with_a_two_group_one_of_the_same_id() -> None:
    run = run_paired([load_scenario(SHIPPED_2005), load_scenario(ADDON)], replicates=200, jobs=1)
    kinds = [
        {e.id: e.compares_arms for e in result.plan.endpoints}.get("overall")
        for result in run.results
    ]
    assert kinds == [False, True], "the shipped files must keep this case"
    power = compare_results(run).endpoints["overall"].power
    assert all(value is not None for value in power.values)
    assert power.differences == (None, None)
    rows = {(row.section, row.label): row for row in comparison_rows(compare_results(run))}
    assert rows["endpoint overall", "power"].differences == ["unlike test"]


def test_pair_compares_endpoints_whose_ids_differ(tmp_path: Path) -> None:
    renamed = variant(tmp_path, "renamed-rescue", ("- id: d3_rescue ", "- id: rescue "))
    scenarios = [load_scenario(SHIPPED_2005), load_scenario(renamed)]
    comparison = compare_scenarios(scenarios, replicates=200, jobs=1, pairs={"d3_rescue": "rescue"})
    assert list(comparison.endpoints) == ["vk2_response", "d3_rescue", "overall"]
    assert comparison.endpoint_ids["d3_rescue"] == ("d3_rescue", "rescue")
    assert comparison.pairs == comparison.to_dict()["pairs"] == {"d3_rescue": "rescue"}
    power = comparison.endpoints["d3_rescue"].power
    assert power.values[0] == power.values[1]
    difference = power.differences[1]
    assert difference is not None and (difference.difference, difference.se) == (0.0, 0.0)
    assert difference.exact == 0.0
    sections = {row.section for row in comparison_rows(comparison)}
    assert "endpoint d3_rescue = rescue" in sections
    unpaired = compare_scenarios(scenarios, replicates=200, jobs=1)
    assert unpaired.endpoints["d3_rescue"].power.differences == (None, None)
    assert unpaired.endpoints["rescue"].power.values[0] is None


def test_pairs_of_unlike_or_missing_endpoints_are_refused(tmp_path: Path) -> None:
    scenarios = [load_scenario(SHIPPED_2005), load_scenario(ADDON)]
    with pytest.raises(ValueError, match="one-group test but d3_effect .* compares two groups"):
        compare_scenarios(scenarios, replicates=20, jobs=1, pairs={"d3_rescue": "d3_effect"})
    with pytest.raises(ValueError, match="reference randomised-addon-d3 has no endpoint d3_rescue"):
        run_paired(scenarios[::-1], replicates=20, jobs=1, pairs={"d3_rescue": "d3_rescue"})
    out = tmp_path / "out"
    for pair, message in (
        ("d3_rescue=d3_effect", "only endpoints that ask alike questions can be paired"),
        ("d3_rescue=missing", "no other scenario has an endpoint missing"),
        ("d3_rescue", "is not REF=OTHER"),
    ):
        result = runner.invoke(
            app, ["compare", str(SHIPPED_2005), str(ADDON), "--pair", pair, "--out", str(out)]
        )
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
        assert "[bad_pair]" in result.stderr and "Traceback" not in result.output
        assert not out.exists()


def test_cli_pair_writes_the_pairing(tmp_path: Path) -> None:
    out = tmp_path / "paired"
    result = compare_cli(out, "--pair", "overall=overall")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "compare.json").read_text())["pairs"] == {}
    itt = SHIPPED_2005.parent / "followup_itt.yaml"
    result = runner.invoke(
        app,
        ["compare", str(SHIPPED_2005), str(itt), "--pair", "d3_rescue=d3_rescue_itt"]
        + ["--replicates", "100", "--jobs", "1", "--out", str(out / "itt")],
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "itt" / "compare.json").read_text())
    assert document["pairs"] == {"d3_rescue": "d3_rescue_itt"}
    assert "d3_rescue_itt" not in document["endpoints"]
    assert document["endpoints"]["d3_rescue"]["power"]["differences"][1] is not None
    assert "Endpoint d3_rescue = d3_rescue_itt" in (out / "itt" / "report.html").read_text()
