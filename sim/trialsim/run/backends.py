"""Where chunks of replicates run: this process, a local process pool, or a Dask cluster.

A backend only runs ``function(*arguments)`` for each task and hands the results
back as they finish; it knows nothing of trials, seeds or records. Every random
number a task uses comes from its arguments, so results do not depend on the
backend or on the number of workers.
"""

from __future__ import annotations

import logging
import signal
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from itertools import islice
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

Result = TypeVar("Result")

TASKS_IN_FLIGHT_PER_WORKER = 3
"""Tasks submitted ahead to each local worker process."""
CONNECT_TIMEOUT_SECONDS = 5.0
"""How long to keep trying to reach a Dask scheduler before giving up, in seconds."""
DASK_RETRIES = 2
"""Times a task that raised on a Dask worker is run again before its error is final."""


class BackendError(RuntimeError):
    """The tasks could not be run where asked: Dask missing, scheduler unreachable or lost."""


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
        Address of a Dask distributed scheduler (``tcp://host:port``). When given,
        the tasks run on its workers and ``jobs`` is ignored; see :func:`run_on_dask`.

    Yields
    ------
    (int, result)
        The task's index in ``tasks`` and what the function returned, in the order
        the tasks finish.

    Raises
    ------
    BackendError
        If the Dask scheduler cannot be used (see :func:`run_on_dask`).
    """
    if scheduler is not None:
        yield from run_on_dask(function, tasks, scheduler)
        return
    if jobs == 1:
        for index, arguments in enumerate(tasks):
            yield index, function(*arguments)
        return
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=fork_context(), initializer=leave_interrupts_to_parent
    ) as pool:
        pending: dict[Future[Result], int] = {}
        waiting = iter(enumerate(tasks))
        try:
            # A few tasks per worker are in flight at a time, so that memory does not
            # grow with the number of tasks.
            for index, arguments in islice(waiting, TASKS_IN_FLIGHT_PER_WORKER * jobs):
                pending[pool.submit(function, *arguments)] = index
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield pending.pop(future), future.result()
                    for index, arguments in islice(waiting, 1):
                        pending[pool.submit(function, *arguments)] = index
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def run_on_dask(
    function: Callable[..., Result], tasks: Sequence[tuple[Any, ...]], scheduler: str
) -> Iterator[tuple[int, Result]]:
    """Run every task on the workers of a Dask distributed scheduler, as :func:`run_tasks`.

    Every task is submitted at once, under a key of its own, so that no two tasks
    are ever merged. A task whose worker dies is run again by the scheduler, and
    one that raises is retried ``DASK_RETRIES`` times; each index is still yielded
    once. On any error, Ctrl-C included, the outstanding tasks are cancelled; the
    client is always closed.

    Parameters
    ----------
    function : callable
        A module-level function importable on the workers (the workers need the
        same ``trialsim`` installed).
    tasks : sequence of tuple
        The arguments of each call, sent with the task.
    scheduler : str
        Scheduler address, e.g. ``tcp://10.0.0.5:8786``.

    Yields
    ------
    (int, result)
        As :func:`run_tasks`.

    Raises
    ------
    BackendError
        If Dask is not installed, the scheduler cannot be reached within
        ``CONNECT_TIMEOUT_SECONDS``, the connection to it is lost, workers keep
        dying while running a task, or the scheduler cannot unpickle the tasks
        (a different environment). An error the function raises on every try is
        raised as it is.

    Notes
    -----
    Arguments are not scattered to the workers ahead of the tasks: the shared
    trial plan pickles to a few kilobytes, and scattered data would be lost with
    the worker holding it, which a rerun cannot recover.
    """
    try:
        from distributed import Client, KilledWorker, as_completed
        from distributed.comm import CommClosedError, resolve_address
    except ImportError as err:
        raise BackendError(
            f'running on the Dask scheduler {scheduler} needs Dask: pip install "trialsim[dask]"'
        ) from err
    import asyncio
    from concurrent.futures import CancelledError

    with quiet_loggers("distributed"):
        try:
            # A malformed address is refused before a Client exists: a Client that fails
            # on one hangs the interpreter's exit while it closes.
            resolve_address(scheduler)
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
        except (OSError, ValueError, TimeoutError, asyncio.TimeoutError) as err:
            raise BackendError(
                f"cannot connect to the Dask scheduler at {scheduler}: {first_line(err)}"
            ) from err
        name = getattr(function, "__name__", "task")
        run = uuid.uuid4().hex
        pending: dict[Any, int] = {}
        try:
            try:
                for index, arguments in enumerate(tasks):
                    future = client.submit(
                        function, *arguments, key=f"{name}-{run}-{index}", retries=DASK_RETRIES
                    )
                    pending[future] = index
                for future in as_completed(list(pending), loop=client.loop):
                    yield pending.pop(future), future.result()
            except BaseException:
                if pending:
                    with suppress(Exception):
                        client.cancel(list(pending))
                raise
            finally:
                client.close()
        except KilledWorker as err:
            raise BackendError(
                f"the workers of the Dask scheduler at {scheduler} kept dying while running "
                f"a task: {first_line(err)}"
            ) from err
        except (CancelledError, CommClosedError) as err:
            raise BackendError(
                f"lost the connection to the Dask scheduler at {scheduler}: {first_line(err)}"
            ) from err
        except RuntimeError as err:
            if "deserializ" not in str(err):
                raise
            raise BackendError(
                f"the Dask scheduler at {scheduler} cannot unpickle the tasks: install the "
                "same trialsim and Python packages on it and its workers as here"
            ) from err


@contextmanager
def quiet_loggers(name: str) -> Iterator[None]:
    """Hold back all but critical log messages of logger ``name`` and its children.

    Dask's client logs lost connections with tracebacks; each such failure is
    raised here as a :class:`BackendError` instead. The levels are restored after.
    """
    names = [
        name,
        *(other for other in logging.root.manager.loggerDict if other.startswith(name + ".")),
    ]
    loggers = [logging.getLogger(other) for other in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def first_line(error: BaseException) -> str:
    """The first line of an error's message, or its type's name if it has none."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def in_task_order(finished: Iterable[tuple[int, Result]]) -> Iterator[Result]:
    """Results of :func:`run_tasks` in the order of the tasks, each as soon as it can be.

    Results that finish early wait for the ones before them, so that what is
    folded over them (floating-point sums) does not depend on the number of
    workers or the backend.
    """
    waiting: dict[int, Result] = {}
    following = 0
    for index, result in finished:
        waiting[index] = result
        while following in waiting:
            yield waiting.pop(following)
            following += 1


def leave_interrupts_to_parent() -> None:
    """Worker initializer: Ctrl-C is handled once, by the parent, which stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def fork_context() -> BaseContext | None:
    """The ``fork`` start method where available: workers inherit the parent's imports."""
    return get_context("fork") if "fork" in get_all_start_methods() else None
