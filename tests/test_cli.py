"""The command line, through typer's CliRunner, including every documented example."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trialsim import __version__
from trialsim.cli.app import app, schema, validate
from trialsim.cli.design import design_bop2, design_simon, design_single
from trialsim.cli.run import run

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "vk2_d3_2005.yaml"
runner = CliRunner()

SPEC_ENDPOINT_KEYS = {
    "power",
    "power_se",
    "power_exact",
    "type1_error",
    "type1_error_se",
    "type1_error_exact",
    "early_stop",
    "early_stop_null",
    "evaluable_mean",
    "responders_mean",
    "estimate_mean",
    "estimate_bias",
    "ci_coverage",
}
QUANTILE_KEYS = {"mean", "p05", "p50", "p95"}


def documented_examples(command) -> list[str]:  # type: ignore[no-untyped-def]
    """Example command lines from a command's docstring (after 'Example')."""
    lines = (command.__doc__ or "").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Example"))
    return [line.strip() for line in lines[start + 1 :] if line.strip().startswith("trialsim ")]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding a copy of the shipped scenarios."""
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "command",
    [validate, schema, run, design_simon, design_single, design_bop2],
    ids=lambda c: c.__name__,
)
def test_documented_examples_run(command, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    examples = documented_examples(command)
    assert examples, "every command documents at least one example"
    for example in examples:
        words = shlex.split(example.split(">")[0])[1:]
        if words[0] == "run" and "--replicates" not in words:
            words += ["--replicates", "300"]
        result = runner.invoke(app, words)
        assert result.exit_code == 0, (example, result.output, result.stderr)


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"trialsim {__version__}"


@pytest.mark.parametrize(
    "words", [["--help"], ["run", "--help"], ["validate", "--help"], ["schema", "--help"]]
)
def test_help(words: list[str]) -> None:
    result = runner.invoke(app, words)
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_validate_reports_each_problem_with_file_line_key_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (
        SCENARIO.read_text()
        .replace("dropout: 0.20", "dropout: 1.5")
        .replace("weeks: 16\n    entry", "weeks: -16\n    entry")
    )
    bad.write_text(text)
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    dropout_line = text.splitlines().index(
        next(x for x in text.splitlines() if "dropout: 1.5" in x)
    )
    assert lines[0].startswith(f"{bad}:{dropout_line + 1}: stages.0.dropout:")
    assert "1.5" in lines[0]
    assert "stages.1.weeks" in lines[1] and "-16" in lines[1]
    assert "Traceback" not in result.output + result.stderr


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2


def test_schema_is_json_schema_refusing_unknown_keys() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["additionalProperties"] is False
    assert {"enrollment", "stages", "endpoints"} <= set(document["required"])


def run_cli(out: Path, *extra: str) -> CliRunner:
    return runner.invoke(
        app, ["run", str(SCENARIO), "--replicates", "400", "--out", str(out), *extra]
    )


def test_run_writes_every_output_with_spec_fields(tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = run_cli(out, "--jobs", "1", "--trace", "3")
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "replicates.csv", "report.html", "trace.csv"} <= names
    assert any(name.endswith(".png") for name in names)
    summary = json.loads((out / "summary.json").read_text())
    assert {
        "trialsim_version",
        "scenario",
        "seed",
        "replicates",
        "jobs",
        "elapsed_seconds",
        "endpoints",
        "enrollment",
        "duration_weeks",
        "adverse_events",
    } <= set(summary)
    assert set(summary["scenario"]) >= {"name", "path", "sha256"}
    for endpoint in summary["endpoints"].values():
        assert set(endpoint) >= SPEC_ENDPOINT_KEYS
    for key in ("registered", "screened", "turned_away"):
        assert set(summary["enrollment"][key]) >= QUANTILE_KEYS
    assert set(summary["enrollment"]["stage_entries"]) == {"vk2", "vk2_d3"}
    for key in ("analysis", "last_patient_off"):
        assert set(summary["duration_weeks"][key]) >= QUANTILE_KEYS
    assert set(summary["adverse_events"]["skin rash"]) >= {"mean_patients", "any_probability"}
    rows = (out / "replicates.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 400
    trace = (out / "trace.csv").read_text().splitlines()
    assert trace[0] == "world,week,patient,stage,event,detail"
    assert any(",registered," in line for line in trace)
    assert "power" in result.stdout


def test_run_refuses_to_overwrite_and_keeps_earlier_results(tmp_path: Path) -> None:
    out = tmp_path / "r"
    out.mkdir()
    (out / "precious.txt").write_text("earlier results")
    for force in ([], ["--force"]):
        result = run_cli(out, "--quiet", *force)
        assert result.exit_code == 2
        assert "trialsim did not write (precious.txt)" in result.stderr
        assert (out / "precious.txt").read_text() == "earlier results"
    (out / "precious.txt").unlink()
    assert run_cli(out, "--quiet").exit_code == 0
    result = run_cli(out, "--quiet", "--seed", "3")
    assert result.exit_code == 2
    assert "--force" in result.stderr
    result = run_cli(out, "--quiet", "--seed", "3", "--force")
    assert result.exit_code == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["r"], "no staging folders left behind"


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "r", "--quiet")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_same_seed_same_numbers_for_any_jobs(tmp_path: Path) -> None:
    for jobs in ("1", "2"):
        assert run_cli(tmp_path / jobs, "--jobs", jobs, "--quiet", "--seed", "11").exit_code == 0
    one, two = (json.loads((tmp_path / j / "summary.json").read_text()) for j in ("1", "2"))
    for volatile in ("elapsed_seconds", "jobs"):
        one.pop(volatile), two.pop(volatile)
    assert one == two
    assert (tmp_path / "1" / "replicates.csv").read_bytes() == (
        tmp_path / "2" / "replicates.csv"
    ).read_bytes()


def test_console_script_exit_code_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstages: [\n")
    completed = subprocess.run(
        [sys.executable, "-m", "trialsim", "run", str(bad)], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert str(bad) in completed.stderr


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from trialsim.cli.app import app\n"
        "heavy = [m for m in ('numpy', 'scipy.stats', 'matplotlib', 'pydantic', 'simpy')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == ""


def test_design_simon_json_and_bad_rates() -> None:
    result = runner.invoke(
        app, ["design", "simon", "--p0", "0.1", "--p1", "0.3", "--nmax", "35", "--json"]
    )
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    optimal = document["optimal"]
    assert (optimal["r1"], optimal["n1"], optimal["r"], optimal["n"]) == (1, 10, 5, 29)
    assert document["admissible"][0]["q_high"] == 1.0
    result = runner.invoke(app, ["design", "simon", "--p0", "0.3", "--p1", "0.1"])
    assert result.exit_code == 2
    assert "p0" in result.stderr and "Traceback" not in result.stderr


def test_design_without_solution_is_exit_2() -> None:
    result = runner.invoke(app, ["design", "single", "--p0", "0.1", "--p1", "0.12", "--nmax", "20"])
    assert result.exit_code == 2
    assert "no_design" in result.stderr


def test_design_bop2_json_is_the_given_design() -> None:
    words = ["design", "bop2", "--p0", "0.1", "--p1", "0.3", "--n", "29", "--looks", "10,20"]
    result = runner.invoke(app, [*words, "--alpha", "0.05", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["searched"] is True and document["alpha"] == 0.05
    design = document["design"]
    assert design["looks"] == [10, 20] and design["n"] == 29 and design["alpha"] <= 0.05
    given = runner.invoke(
        app, [*words, "--lambda", str(design["lambda"]), "--gamma", str(design["gamma"]), "--json"]
    )
    assert json.loads(given.stdout)["design"] | {"distinct_tables": 0} == design | {
        "distinct_tables": 0
    }
