"""Growing a run: a larger --replicates on an earlier output folder adds replicates that
continue the same random streams; anything else about the folder is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import SCENARIO, runner

from trialsim.cli.app import app
from trialsim.run.runner import CHUNK_REPLICATES


def run(out: Path, replicates: int, *extra: str) -> Any:
    return runner.invoke(
        app,
        ["run", str(SCENARIO), "--replicates", str(replicates), "--out", str(out), "--quiet"]
        + list(extra),
    )


def numbers(folder: Path) -> dict[str, Any]:
    summary = json.loads((folder / "summary.json").read_text())
    for key in ("elapsed_seconds", "jobs"):
        summary.pop(key)
    return summary


@pytest.mark.parametrize("first", [CHUNK_REPLICATES, 310])
def test_grown_run_equals_a_run_of_that_length(tmp_path: Path, first: int) -> None:
    grown, fresh = tmp_path / "grown", tmp_path / "fresh"
    assert run(grown, first, "--jobs", "1").exit_code == 0
    first_rows = (grown / "replicates.csv").read_text().splitlines()
    result = run(grown, 3 * CHUNK_REPLICATES // 2 + 25, "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert run(fresh, 3 * CHUNK_REPLICATES // 2 + 25, "--jobs", "1").exit_code == 0
    rows = (grown / "replicates.csv").read_text().splitlines()
    assert rows == (fresh / "replicates.csv").read_text().splitlines()
    assert rows[: len(first_rows)] == first_rows, "the first replicates are unchanged"
    got, want = numbers(grown), numbers(fresh)
    assert got["replicates"] == 3 * CHUNK_REPLICATES // 2 + 25
    if first % CHUNK_REPLICATES == 0:
        assert got == want, "on the chunk grid a grown run is bit-identical"
    else:
        # Off the chunk grid, sums are added in another grouping: equal up to rounding.
        assert_close(got, want)


def assert_close(got: Any, want: Any, where: str = "summary") -> None:
    if isinstance(want, dict):
        assert got.keys() == want.keys(), where
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), where
    else:
        assert got == want, where


def test_same_or_fewer_replicates_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert run(out, 300, "--jobs", "1").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for replicates in (300, 200):
        result = run(out, replicates, "--jobs", "1")
        assert result.exit_code == 2
        assert "already holds 300 replicates" in result.stderr
        assert "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert run(out, 200, "--jobs", "1", "--force").exit_code == 0
    assert numbers(out)["replicates"] == 200


@pytest.mark.parametrize(
    ("change", "message"),
    [("scenario", "another version of the scenario"), ("seed", "seed 20051210, not 5")],
)
def test_another_scenario_or_seed_is_refused(tmp_path: Path, change: str, message: str) -> None:
    out = tmp_path / "r"
    assert run(out, 250, "--jobs", "1").exit_code == 0
    before = (out / "summary.json").read_bytes()
    if change == "scenario":
        edited = tmp_path / "edited.yaml"
        edited.write_text(SCENARIO.read_text().replace("patients: 43", "patients: 44"))
        words = ["run", str(edited), "--replicates", "500", "--out", str(out)]
        result = runner.invoke(app, words)
    else:
        result = run(out, 500, "--seed", "5")
    assert result.exit_code == 2
    assert message in result.stderr and "--force" in result.stderr
    assert (out / "summary.json").read_bytes() == before


def test_without_replicates_csv_a_run_grows_only_without_it(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert run(out, 250, "--jobs", "1", "--no-replicates-csv").exit_code == 0
    assert not (out / "replicates.csv").exists()
    result = run(out, 500, "--jobs", "1")
    assert result.exit_code == 2
    assert "no replicates.csv to continue" in result.stderr
    assert run(out, 500, "--jobs", "1", "--no-replicates-csv").exit_code == 0
    assert numbers(out)["replicates"] == 500
    assert not (out / "replicates.csv").exists()
