"""The figure process of ``trialsim run``, forked before anything heavy loads.

Owns :func:`start_figure_process`, :func:`take_figure_process` and
:func:`abandon_figure_process`. Drawing a
run's figures needs matplotlib, which takes about as long to import as the
rest of the command's start-up. Forked first thing, the figure process
imports it on the second core while this process imports, loads and
validates, instead of competing with the simulation's workers later
(:class:`trialsim.report.background.BackgroundFigures` takes it over). On a
one-core machine, or where ``fork`` is missing, nothing is started.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from trialsim.run.backends import available_cores, fork_context, leave_interrupts_to_parent

_started: ProcessPoolExecutor | None = None


def _warm_up() -> None:
    from trialsim.report.background import warm_up

    warm_up()


def start_figure_process(arguments: list[str]) -> None:
    """Fork the figure process if ``arguments`` (after the program name) run a simulation."""
    global _started
    context = fork_context()
    asks_help = any(argument in ("--help", "-h") for argument in arguments)
    if arguments[:1] != ["run"] or asks_help or context is None or available_cores() < 2:
        return
    _started = ProcessPoolExecutor(1, mp_context=context, initializer=leave_interrupts_to_parent)
    _started.submit(_warm_up)


def abandon_figure_process() -> bool:
    """Whether a figure process was started and never taken (it dies with this process)."""
    return take_figure_process() is not None


def take_figure_process() -> ProcessPoolExecutor | None:
    """The process :func:`start_figure_process` forked, if any (once; the taker shuts it down)."""
    global _started
    taken, _started = _started, None
    return taken
