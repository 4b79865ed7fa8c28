"""Observing a running trialsim process from outside, by events rather than by waiting a while.

Linux's /proc says which signals a process catches (its handlers are installed)
and which children it has (its worker processes have started). Tests signal a
run when such an event has happened, never after a fixed delay.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

WAIT_SECONDS = 60
POLL_SECONDS = 0.01

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").exists() or sys.platform != "linux",
    reason="watching a process's handlers and children needs Linux's /proc",
)


def wait_until(
    event: Callable[[], bool], what: str, process: subprocess.Popen[str] | None = None
) -> None:
    """Return once ``event()`` holds; fail if ``process`` ends first or after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not event():
        assert process is None or process.poll() is None, f"the process ended before {what}"
        assert time.monotonic() < deadline, f"no sign that {what}"
        time.sleep(POLL_SECONDS)


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has installed a handler for ``signum``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def children(pid: int) -> list[int]:
    """Process ids of the children of ``pid`` (all its threads')."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited (a zombie has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


def ready_for_signals(pid: int) -> bool:
    """Whether trialsim's console script has taken over SIGINT and SIGTERM."""
    try:
        return catches(pid, signal.SIGINT) and catches(pid, signal.SIGTERM)
    except FileNotFoundError:
        return False
