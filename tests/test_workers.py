"""Worker processes and schedulers: workers never outlive the run, a SIGTERM to the process group
shows no worker traceback, no more workers start than there are tasks or cores, and a listener
that is not a Dask scheduler is refused instead of hanging."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import WAIT_SECONDS, alive, children, needs_proc, ready_for_signals, wait_until

from trialsim.run import backends
from trialsim.run.backends import BackendError, available_cores, run_tasks

from conftest import SHIPPED_2005


def worker_pid(index: int) -> int:
    return os.getpid()


def test_no_more_workers_than_tasks_or_cores() -> None:
    pids = {pid for _, pid in run_tasks(worker_pid, [(i,) for i in range(3)], jobs=1024)}
    assert 1 <= len(pids) <= min(3, available_cores())


def test_one_task_runs_in_this_process() -> None:
    assert dict(run_tasks(worker_pid, [(0,)], jobs=8)) == {0: os.getpid()}


@pytest.fixture
def listener(request: pytest.FixtureRequest) -> Iterator[str]:
    """A TCP listener on loopback that says ``request.param`` (bytes) to each connection."""
    greeting: bytes = request.param
    server = socket.create_server(("127.0.0.1", 0))
    connections: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            connections.append(connection)
            if greeting:
                connection.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in connections:
            connection.close()
        server.close()


@pytest.mark.parametrize(
    "listener",
    [b"", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", b"HTTP/1.1 400 Bad Request\r\n\r\n"],
    ids=["silent", "ssh banner", "http"],
    indirect=True,
)
def test_a_listener_that_is_not_dask_is_refused(
    listener: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "CONNECT_TIMEOUT_SECONDS", 0.5)
    with pytest.raises(BackendError, match="does not answer as a Dask scheduler") as raised:
        list(run_tasks(pow, [(2, 3)], 1, listener))
    assert listener in str(raised.value) and "\n" not in str(raised.value)


BLOCKING_RUN = """
import os, sys, threading
from pathlib import Path
from trialsim.run.backends import run_tasks

def block(folder, index):
    Path(folder, f"{os.getpid()}.worker").touch()
    threading.Event().wait()

if __name__ == "__main__":
    list(run_tasks(block, [(sys.argv[1], i) for i in range(2)], jobs=2))
"""


@needs_proc
@pytest.mark.skipif(available_cores() < 2, reason="needs two cores for two workers")
def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "blocking_run.py"
    script.write_text(textwrap.dedent(BLOCKING_RUN))
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path)], text=True)
    started = lambda: len(list(tmp_path.glob("*.worker"))) == 2  # noqa: E731
    wait_until(started, "both workers started", parent)
    workers = [int(path.stem) for path in tmp_path.glob("*.worker")]
    parent.kill()
    parent.wait(timeout=WAIT_SECONDS)
    orphans_gone = lambda: not any(alive(pid) for pid in workers)  # noqa: E731
    wait_until(orphans_gone, "the workers exited")


@needs_proc
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_process_group_is_one_line_without_traceback(
    tmp_path: Path, signum: int
) -> None:
    words = ["run", str(SHIPPED_2005), "--replicates", "2000000", "--jobs", "2", "--quiet"]
    process = subprocess.Popen(
        [sys.executable, "-m", "trialsim", *words, "--out", str(tmp_path / "out")],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_until(lambda: len(children(process.pid)) >= 2, "workers started", process)
    workers = children(process.pid)
    os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "out").exists()
    wait_until(lambda: not any(alive(pid) for pid in workers), "the workers exited")


@needs_proc
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_start_up_exits_with_its_code(tmp_path: Path, signum: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "trialsim", "run", str(SHIPPED_2005), "--out", str(tmp_path / "o")],
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: ready_for_signals(process.pid), "signal handlers installed", process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "o").exists()


def processes_with_argument(argument: str) -> list[int]:
    """Process ids whose command line holds ``argument`` (forked children keep the parent's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            if argument.encode() in words and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


@needs_proc
@pytest.mark.skipif(available_cores() < 2, reason="the figure process needs a second core")
def test_an_invalid_run_exits_at_once_and_its_figure_process_with_it(tmp_path: Path) -> None:
    """``trialsim run`` forks its figure process first; a refused scenario takes it along."""
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(SHIPPED_2005.read_text().replace("patients: 43", "patients: -1"))
    out = str(tmp_path / "never")
    completed = subprocess.run(
        [sys.executable, "-m", "trialsim", "run", str(invalid), "--out", out],
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert completed.returncode == 2, completed.stderr
    assert "patients" in completed.stderr and "Traceback" not in completed.stderr
    wait_until(lambda: not processes_with_argument(out), "the figure process exited")


def test_only_a_simulation_starts_the_figure_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from trialsim.cli import early

    monkeypatch.setattr(early, "available_cores", lambda: 2)
    for words in (["validate", "x.yaml"], ["run", "--help"], ["design", "simon"], []):
        early.start_figure_process(words)
        assert early.take_figure_process() is None, words
    early.start_figure_process(["run", "x.yaml"])
    started = early.take_figure_process()
    assert started is not None and not early.abandon_figure_process()
    started.shutdown(wait=True)
