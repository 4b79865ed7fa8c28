"""Exit codes of the ``trialsim`` command and how Ctrl-C and SIGTERM end it.

Both signals raise an exception in the main thread (``KeyboardInterrupt``,
:class:`Terminated`) so that cleanup runs and one line is printed. Two moments
need care. While the process forks a worker, Python ignores exceptions raised
in its fork hooks, which would swallow the signal: a signal that arrives then
is delivered again once the fork is done. A forked worker ignores both from
its first instruction on: the parent, in the same process group, stops its
workers and does the talking.
"""

from __future__ import annotations

import logging  # noqa: F401 - its fork hooks must run before ours (see install_signal_handlers)
import os
import queue
import signal
import threading
from types import FrameType

EXIT_FAILURE = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM arrived: raised where the program is, so that cleanup runs as for Ctrl-C."""


_forking = False
_held: list[int] = []
_to_send_again: queue.SimpleQueue[int] = queue.SimpleQueue()


def _raise_for(signum: int, frame: FrameType | None) -> None:
    if _forking:
        _held.append(signum)
        return
    if signum == signal.SIGTERM:
        raise Terminated
    raise KeyboardInterrupt


def _before_fork() -> None:
    global _forking
    _forking = True


def _after_fork_in_parent() -> None:
    global _forking
    _forking = False
    while _held:
        # Raised here, inside the fork hook, it would be lost: another thread sends it again.
        _to_send_again.put(_held.pop())


def _send_again() -> None:
    while True:
        os.kill(os.getpid(), _to_send_again.get())


def _after_fork_in_child() -> None:
    global _forking
    # Still "forking": a signal that arrives before the workers ignore it is held, then dropped.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _held.clear()
    _forking = False


def install_signal_handlers() -> None:
    """Make Ctrl-C and SIGTERM raise in this process, and not in the workers it forks.

    Call once, first thing, from the console script, where a signal raised from
    here on is caught. The fork hooks are registered after ``logging``'s, so
    that a signal delivered again after a fork is not raised inside another
    library's hook.
    """
    threading.Thread(target=_send_again, name="signals sent again", daemon=True).start()
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
    signal.signal(signal.SIGINT, _raise_for)
    signal.signal(signal.SIGTERM, _raise_for)
