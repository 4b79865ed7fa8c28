"""Killing a run (SIGINT, SIGTERM) once its handlers are installed or while it simulates or
grows, a full disk or a folder that cannot be made: each ends with one line, and the earlier
results in the output folder stay as they were, with no half-written files or folders. Signals
are sent when an event shows the moment has come (see tests/processes.py), never after a delay."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from processes import WAIT_SECONDS, children, needs_proc, ready_for_signals, wait_until

from conftest import SHIPPED_2005

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def trialsim(*words: str) -> list[str]:
    return [sys.executable, "-m", "trialsim", "run", str(SHIPPED_2005), *words]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    subprocess.run(trialsim("--replicates", "500", "--out", str(out), "--quiet"), check=True)
    return out


def staging_folder_exists(parent: Path) -> bool:
    return any(p.name.startswith(".results.") for p in parent.iterdir())


@needs_proc
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("moment", ["while simulating", "while growing", "at start-up"])
def test_killed_run_keeps_earlier_results(earlier: Path, signum: int, moment: str) -> None:
    before = snapshot(earlier)
    words = ["--out", str(earlier), "--jobs", "2", "--replicates", "2000000", "--quiet"]
    if moment != "while growing":
        words.append("--force")
    process = subprocess.Popen(trialsim(*words), stderr=subprocess.PIPE, text=True)
    if moment == "at start-up":
        wait_until(lambda: ready_for_signals(process.pid), "signal handlers installed", process)
    else:
        wait_until(lambda: staging_folder_exists(earlier.parent), "a staging folder", process)
        wait_until(lambda: len(children(process.pid)) >= 2, "workers started", process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == EXIT_CODES[signum], stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == [
        "interrupted: nothing was written"
        if signum == signal.SIGINT
        else "terminated: nothing was written"
    ]
    assert snapshot(earlier) == before
    assert [p.name for p in earlier.parent.iterdir()] == ["results"], "no staging folder is left"


def test_full_disk_mid_run_is_one_line_and_keeps_earlier_results(
    earlier: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from trialsim.cli.app import app
    from trialsim.run.outputs import ReplicatesCsv

    def disk_full(self: ReplicatesCsv, rows: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ReplicatesCsv, "__call__", disk_full)
    before = snapshot(earlier)
    words = ["run", str(SHIPPED_2005), "--replicates", "600", "--jobs", "1", "--force"]
    result = CliRunner().invoke(app, [*words, "--out", str(earlier)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"cannot write {earlier}: No space left on device"
    ]
    assert snapshot(earlier) == before
    assert [p.name for p in earlier.parent.iterdir()] == ["results"]


def test_output_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = subprocess.run(
        trialsim("--replicates", "50", "--out", str(blocker / "results")),
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{blocker / 'results'}: {blocker} is a file, not a folder"
    ], done.stderr
    assert blocker.read_text() == "not a folder"
