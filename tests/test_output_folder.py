"""Output folders lose nothing: trialsim replaces only files its manifest lists, grows only an
intact run, refuses folders that are not its own to take (root, home, current folder, mount
points), cleans up only its own stale staging folders, and reads scenario files safely."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import WAIT_SECONDS, needs_proc, wait_until
from test_cli import SCENARIO, runner

from trialsim.cli.app import app
from trialsim.scenario.schema import Simulation

PYTHON_MEMORY_LIMIT = 1 << 30  # a run that reads a device whole fails fast instead of swapping


def run(out: Path, replicates: int, *extra: str) -> Any:
    words = ["run", str(SCENARIO), "--replicates", str(replicates), "--out", str(out)]
    return runner.invoke(app, [*words, "--quiet", "--jobs", "1", *extra])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else b"<folder>"
        for path in sorted(folder.rglob("*"))
    }


def one_line_exit_2(result: Any) -> str:
    assert result.exit_code == 2, (result.output, result.stderr)
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return str(lines[0])


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    assert run(out, 300, "--trace", "3").exit_code == 0
    return out


# --- files trialsim did not write are never deleted ---------------------------------------


def test_manifest_lists_every_file_with_size_and_checksum(earlier: Path) -> None:
    manifest = json.loads((earlier / "manifest.json").read_text())
    files = {p.name for p in earlier.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == files
    for name, entry in manifest["files"].items():
        content = (earlier / name).read_bytes()
        assert entry == {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    assert manifest["counts"] == {"replicates": 300, "trace": 3}
    assert manifest["trialsim_version"] and manifest["command"].startswith("trialsim ")


@pytest.mark.parametrize("force", [True, False], ids=["--force", "growing"])
def test_files_of_the_user_are_never_deleted(earlier: Path, force: bool) -> None:
    (earlier / "thesis.tex").write_text("\\chapter{Results}")
    (earlier / "sub").mkdir()
    (earlier / "sub" / "notes.txt").write_text("mine")
    before = snapshot(earlier)
    line = one_line_exit_2(run(earlier, 600, *(["--force"] if force else [])))
    assert "sub/, thesis.tex" in line and "did not write" in line
    assert "holds results" not in line
    assert snapshot(earlier) == before


def test_force_refuses_a_file_changed_since_trialsim_wrote_it(earlier: Path) -> None:
    (earlier / "summary.json").write_text('{"my": "annotations"}')
    before = snapshot(earlier)
    line = one_line_exit_2(run(earlier, 300, "--force"))
    assert line.startswith(f"{earlier / 'summary.json'}: ")
    assert snapshot(earlier) == before


def test_a_folder_without_a_manifest_is_not_trialsims(tmp_path: Path) -> None:
    out = tmp_path / "old"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    line = one_line_exit_2(run(out, 200, "--force"))
    assert "did not write (summary.json)" in line
    assert (out / "summary.json").read_text() == "{}"


def test_growing_keeps_the_earlier_trace(earlier: Path, tmp_path: Path) -> None:
    trace = (earlier / "trace.csv").read_bytes()
    assert run(earlier, 600).exit_code == 0
    assert (earlier / "trace.csv").read_bytes() == trace
    assert json.loads((earlier / "manifest.json").read_text())["counts"]["trace"] == 3
    fresh = tmp_path / "fresh"
    assert run(fresh, 600, "--trace", "3").exit_code == 0
    assert (fresh / "trace.csv").read_bytes() == trace, "the trace of replicate 3 is the same"


def test_growing_without_replicates_csv_refuses_to_drop_it(earlier: Path) -> None:
    before = snapshot(earlier)
    line = one_line_exit_2(run(earlier, 600, "--no-replicates-csv"))
    assert "replicates.csv" in line and "--no-replicates-csv" in line
    assert snapshot(earlier) == before


# --- a damaged run is refused, never grown ----------------------------------------------------


def half_csv(folder: Path) -> None:
    path = folder / "replicates.csv"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def swapped_tally(folder: Path) -> None:
    other = folder.parent / "other"
    assert run(other, 500).exit_code == 0
    shutil.copyfile(other / "tally.npz", folder / "tally.npz")
    shutil.rmtree(other)


def truncated_tally(folder: Path) -> None:
    path = folder / "tally.npz"
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize(
    ("damage", "name"),
    [(half_csv, "replicates.csv"), (swapped_tally, "tally.npz"), (truncated_tally, "tally.npz")],
    ids=["half replicates.csv", "swapped tally.npz", "truncated tally.npz"],
)
def test_a_damaged_run_is_refused_naming_the_file(earlier: Path, damage: Any, name: str) -> None:
    damage(earlier)
    before = snapshot(earlier)
    line = one_line_exit_2(run(earlier, 2000))
    assert line.startswith(f"{earlier / name}: ")
    assert snapshot(earlier) == before


def test_counts_that_disagree_with_the_manifest_are_refused(earlier: Path) -> None:
    """A manifest rewritten to match a damaged file still has to agree on the counts."""
    half_csv(earlier)
    manifest = json.loads((earlier / "manifest.json").read_text())
    content = (earlier / "replicates.csv").read_bytes()
    manifest["files"]["replicates.csv"] = {
        "bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    (earlier / "manifest.json").write_text(json.dumps(manifest))
    line = one_line_exit_2(run(earlier, 2000))
    assert line.startswith(f"{earlier / 'replicates.csv'}: ") and "rows, not 600" in line


def test_files_are_flushed_before_the_final_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source: Any, target: Any) -> None:
        events.append(("replace", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "r"
    assert run(out, 200).exit_code == 0
    final = events.index(("replace", str(out)))
    synced = {Path(path).name for kind, path in events[:final] if kind == "fsync"}
    assert {p.name for p in out.iterdir()} <= synced, "every file, before the rename"
    assert any(Path(path).name.startswith(".r.staging-") for _, path in events[:final])
    assert ("fsync", str(tmp_path)) in events[final:], "the parent folder, after it"


# --- folders that are not trialsim's to take ------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    (folder / "work").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.chdir(folder / "work")
    (folder / "work" / "notes.txt").write_text("mine")
    return folder


def a_mount_point() -> str:
    return next(p for p in ("/proc", "/sys", "/dev", "/") if os.path.ismount(p))


@pytest.mark.parametrize(
    ("out", "what"),
    [
        (".", "the current folder or one holding it"),
        ("..", "the home folder"),
        ("../..", "the current folder or one holding it"),
        ("/", "the root folder"),
    ],
)
@pytest.mark.parametrize("force", [True, False], ids=["--force", "plain"])
def test_root_home_and_current_folder_are_refused_up_front(
    home: Path, out: str, what: str, force: bool
) -> None:
    before = snapshot(home)
    line = one_line_exit_2(run(Path(out), 200, *(["--force"] if force else [])))
    assert line == f"{out}: is {what}; results go into a folder of their own, choose one with --out"
    assert snapshot(home) == before


def test_a_mount_point_is_refused_up_front(home: Path) -> None:
    mount = a_mount_point()
    line = one_line_exit_2(run(Path(mount), 200))
    assert "is a mount point" in line or "is the root folder" in line


def test_the_final_folder_has_the_permissions_of_a_plain_mkdir(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        assert run(tmp_path / "r", 200).exit_code == 0
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(previous)
    mode = (tmp_path / "r").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777 == 0o750


# --- stale staging folders of a killed run --------------------------------------------------


def made_by_a_process_that_died(folder: Path, kind: str) -> Path:
    """A staging folder made by trialsim's own code in a process that has since exited."""
    code = (
        "import sys; from pathlib import Path; from trialsim.run.staging import marked_folder; "
        f"print(marked_folder(Path(sys.argv[1]), {kind!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True
    )
    return Path(done.stdout.strip())


def test_stale_staging_folders_are_removed_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "results"
    stale = made_by_a_process_that_died(out, "staging")
    (stale / "summary.json").write_text("half")
    unmarked = tmp_path / ".results.staging-0123abcd"
    unmarked.mkdir()
    misnamed = tmp_path / ".results.mine"
    shutil.copytree(stale, misnamed)
    alive = tmp_path / ".results.staging-89abcdef"
    shutil.copytree(stale, alive)
    owner = {"pid": os.getppid(), "host": json.loads((stale / ".trialsim-staging").read_text())}
    (alive / ".trialsim-staging").write_text(json.dumps({**owner, "host": owner["host"]["host"]}))
    assert run(out, 200).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [unmarked.name, misnamed.name, alive.name, "results"]
    ), "only the marked staging folder of a dead run is removed"


def test_results_set_aside_by_a_run_killed_mid_swap_are_put_back(earlier: Path) -> None:
    before = snapshot(earlier)
    retired = made_by_a_process_that_died(earlier, "retired")
    os.replace(earlier, retired / earlier.name)
    assert run(earlier, 600).exit_code == 0, "found again, and grown"
    assert json.loads((earlier / "summary.json").read_text())["replicates"] == 600
    assert (earlier / "trace.csv").read_bytes() == before["trace.csv"]
    assert [p.name for p in earlier.parent.iterdir()] == ["results"]


@needs_proc
def test_staging_folder_of_a_sigkilled_run_is_removed_by_the_next_run(earlier: Path) -> None:
    words = ["run", str(SCENARIO), "--replicates", "2000000", "--out", str(earlier), "-q"]

    def staging() -> list[Path]:
        return [
            p
            for p in earlier.parent.iterdir()
            if p.name.startswith(".results.staging-") and (p / ".trialsim-staging").exists()
        ]

    command = [sys.executable, "-m", "trialsim", *words, "--jobs", "1"]
    with subprocess.Popen(command, text=True) as process:
        try:
            wait_until(lambda: bool(staging()), "a marked staging folder", process)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=WAIT_SECONDS)
    assert staging(), "a SIGKILLed run leaves its staging folder"
    before = snapshot(earlier)
    assert run(earlier, 300, "--force").exit_code == 0
    assert [p.name for p in earlier.parent.iterdir()] == ["results"]
    assert snapshot(earlier).keys() == before.keys() - {"trace.csv"}


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize("trace", ["200", "5000"])
def test_trace_beyond_the_replicates_is_refused(tmp_path: Path, trace: str) -> None:
    line = one_line_exit_2(run(tmp_path / "r", 200, "--trace", trace))
    assert line == f"--trace {trace}: there are 200 replicates, 0 to 199"
    assert not (tmp_path / "r").exists()


def test_seed_option_has_the_schemas_cap(tmp_path: Path) -> None:
    cap = next(m.le for m in Simulation.model_fields["seed"].metadata if hasattr(m, "le"))
    result = run(tmp_path / "r", 200, "--seed", str(cap + 1))
    assert result.exit_code == 2 and "--seed" in result.stderr
    assert not (tmp_path / "r").exists()
    assert run(tmp_path / "r", 200, "--seed", str(cap)).exit_code == 0


# --- reading a scenario file ------------------------------------------------------------------


def trialsim(*words: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (PYTHON_MEMORY_LIMIT, PYTHON_MEMORY_LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "trialsim", *words],
        input=stdin,
        capture_output=True,
        timeout=WAIT_SECONDS,
        preexec_fn=limit_memory,
    )


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "scenario.yaml"
    os.mkfifo(path)
    yield path


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "sparse 3 GB"])
def test_scenario_that_is_not_a_small_regular_file_is_refused_unread(
    tmp_path: Path, fifo: Path, kind: str
) -> None:
    if kind == "fifo":
        path, rule = str(fifo), "not_a_file"
    elif kind == "sparse 3 GB":
        path, rule = str(tmp_path / "huge.yaml"), "too_large"
        with open(path, "wb") as file:
            file.truncate(3 << 30)
    else:
        path, rule = kind, "not_a_file"
    done = trialsim("validate", path)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and f"[{rule}]" in lines[0]


def test_dash_reads_the_scenario_from_standard_input(tmp_path: Path) -> None:
    done = trialsim("validate", "-", stdin=SCENARIO.read_bytes())
    assert done.returncode == 0, done.stderr
    out = tmp_path / "r"
    words = ["run", "-", "--replicates", "200", "--jobs", "1", "--out", str(out), "-q"]
    done = trialsim(*words, stdin=SCENARIO.read_bytes())
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"]["sha256"] == hashlib.sha256(SCENARIO.read_bytes()).hexdigest()


def test_standard_input_has_the_same_size_limit() -> None:
    done = trialsim("validate", "-", stdin=b"#" * 1_000_001)
    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        "-: (file): scenario files are limited to 1000000 bytes [too_large]"
    )
