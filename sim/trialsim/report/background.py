"""Drawing a run's figures in a warm background process, in two halves.

Owns :class:`BackgroundFigures`. Importing matplotlib and loading its fonts
takes about as long as drawing a run's figures, and the figures can only be
drawn once the simulation is over. So a process is started (and warmed up)
before the simulation; when the result arrives it forks a copy of itself,
already warm, and the two draw half of the figures each, on the cores the
finished simulation has left free.
"""

from __future__ import annotations

import io
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

from trialsim.report.canvas import new_figure
from trialsim.report.plots import all_figures, draw_figures, figure_names
from trialsim.run.backends import fork_context, leave_interrupts_to_parent

if TYPE_CHECKING:
    from trialsim.run.runner import SimulationResult


def warm_up() -> None:
    """Import matplotlib and load fonts, so the first real figure starts at once."""
    figure = new_figure(2.0, 2.0)
    figure.text(0.5, 0.5, "0")
    figure.savefig(io.BytesIO(), format="png", dpi=20)


def draw_in_two(result: SimulationResult, names: list[str]) -> dict[str, bytes]:
    """Draw the named figures here and in a fork of this process, half each.

    Parameters
    ----------
    result : SimulationResult
    names : list of str
        Figure file names (see :func:`trialsim.report.plots.figure_names`).

    Returns
    -------
    dict of str to bytes
        PNG files by name.
    """
    context = fork_context()
    if context is None or len(names) < 2:
        return draw_figures(result, names)
    with ProcessPoolExecutor(1, mp_context=context, initializer=leave_interrupts_to_parent) as fork:
        other_half = fork.submit(draw_figures, result, names[1::2])
        drawn = draw_figures(result, names[0::2])
        drawn.update(other_half.result())
    return drawn


class BackgroundFigures:
    """A warm process that draws a run's figures while the caller does other work.

    The process starts (and imports matplotlib) when this object is made,
    ideally before the simulation, and draws, in two halves (see
    :func:`draw_in_two`), once :meth:`draw` is called. Use as a context
    manager so the process is always shut down.

    Parameters
    ----------
    background : bool
        Draw in the background; without it, or without ``fork``, figures are
        drawn in this process by :meth:`collect`.
    started : ProcessPoolExecutor, optional
        A one-process pool already warming up (:func:`warm_up`) to draw in
        instead of starting one; this object shuts it down.
    """

    def __init__(self, background: bool = True, started: ProcessPoolExecutor | None = None):
        self._result: SimulationResult | None = None
        self._future: Future[dict[str, bytes]] | None = None
        self._pool: ProcessPoolExecutor | None = started
        context = fork_context()
        if started is None and background and context is not None:
            self._pool = ProcessPoolExecutor(
                1, mp_context=context, initializer=leave_interrupts_to_parent
            )
            self._pool.submit(warm_up)

    def __enter__(self) -> BackgroundFigures:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=exc_info[0] is None, cancel_futures=True)

    def draw(self, result: SimulationResult) -> None:
        """Start drawing every figure of ``result``."""
        self._result = result
        if self._pool is not None:
            self._future = self._pool.submit(draw_in_two, result, figure_names(result))

    def collect(self) -> dict[str, bytes]:
        """``{file name: PNG bytes}`` in :func:`figure_names` order, waiting if needed."""
        if self._result is None:
            raise RuntimeError("call draw() first")
        if self._future is None:
            return all_figures(self._result)
        drawn = self._future.result()
        return {name: drawn[name] for name in figure_names(self._result)}
