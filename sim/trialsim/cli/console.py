"""The ``trialsim`` console script: signals are taken care of before anything heavy loads.

Ctrl-C (SIGINT) and SIGTERM end the program with one line on stderr and exit
code 130 or 143, at any moment, start-up included; output folders are written
whole or not at all, so earlier results are never lost.
"""

from __future__ import annotations

import os
import sys

from trialsim.cli.exits import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Terminated,
    install_signal_handlers,
)


def main() -> None:
    """Entry point of the ``trialsim`` console script: no traceback reaches the user."""
    try:
        install_signal_handlers()
        from trialsim.cli.early import start_figure_process

        start_figure_process(sys.argv[1:])
        from trialsim.cli.app import app

        app()
    except SystemExit as exit_:
        code = exit_.code
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except Terminated:
        print("terminated: nothing was written", file=sys.stderr)
        code = EXIT_TERMINATED
    except Exception as err:  # noqa: BLE001 - the command line never shows a traceback
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        code = EXIT_FAILURE
    else:
        code = 0
    from trialsim.cli.early import abandon_figure_process

    stopped = code in (EXIT_INTERRUPTED, EXIT_TERMINATED)
    if isinstance(code, int) and (stopped or abandon_figure_process()):
        # Cleanup has run while the exception unwound. Exit now rather than wait for
        # worker processes a stopped pool (or an unused figure process) may still
        # hold: they die with this process.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
