"""Where chunks of replicates run: this process, a local process pool, or a Dask cluster.

A backend only runs ``function(*arguments)`` for each task and hands the results
back as they finish; it knows nothing of trials, seeds or records. Every random
number a task uses comes from its arguments, so results do not depend on the
backend or on the number of workers.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

Result = TypeVar("Result")


def run_tasks(
    function: Callable[..., Result],
    tasks: Sequence[tuple[Any, ...]],
    jobs: int = 1,
    scheduler: str | None = None,
) -> Iterator[tuple[int, Result]]:
    """Run ``function(*task)`` for every task; yield ``(index, result)`` as each finishes.

    Parameters
    ----------
    function : callable
        A module-level function (it is pickled to reach worker processes).
    tasks : sequence of tuple
        The arguments of each call.
    jobs : int
        Worker processes; ``1`` runs every task in this process, in order.
    scheduler : str, optional
        Address of a Dask distributed scheduler; not supported yet.

    Yields
    ------
    (int, result)
        The task's index in ``tasks`` and what the function returned, in the order
        the tasks finish.
    """
    if scheduler is not None:
        raise NotImplementedError("Dask scheduler")
    if jobs == 1:
        for index, arguments in enumerate(tasks):
            yield index, function(*arguments)
        return
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=fork_context(), initializer=leave_interrupts_to_parent
    ) as pool:
        pending: dict[Future[Result], int] = {}
        try:
            for index, arguments in enumerate(tasks):
                pending[pool.submit(function, *arguments)] = index
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield pending.pop(future), future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def leave_interrupts_to_parent() -> None:
    """Worker initializer: Ctrl-C is handled once, by the parent, which stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def fork_context() -> BaseContext | None:
    """The ``fork`` start method where available: workers inherit the parent's imports."""
    return get_context("fork") if "fork" in get_all_start_methods() else None
