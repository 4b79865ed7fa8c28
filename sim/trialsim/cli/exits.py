"""Exit codes of the ``trialsim`` command and the exception that SIGTERM raises."""

from __future__ import annotations

import signal

EXIT_FAILURE = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM arrived: raised where the program is, so that cleanup runs as for Ctrl-C."""


def terminate_cleanly_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in this process (and in processes it forks)."""

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, terminate)
