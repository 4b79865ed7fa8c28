"""A progress bar over grid points for the planning commands, on stderr when it is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def point_progress(
    description: str, total: int | None, quiet: bool
) -> Iterator[Callable[[int], None] | None]:
    """Yield a callback taking the number of points done, or None when nothing is shown.

    Parameters
    ----------
    description : str
        Shown beside the bar.
    total : int or None
        Points to do; None when not known in advance (a pulsing bar).
    quiet : bool
        Show nothing.
    """
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)
