"""Where chunks of replicates run: this process, a local process pool, or a Dask cluster.

A backend only runs ``function(*arguments)`` for each task and hands the results
back as they finish; it knows nothing of trials, seeds or records. Every random
number a task uses comes from its arguments, so results do not depend on the
backend or on the number of workers.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import struct
import threading
import time
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
PR_SET_PDEATHSIG = 1
"""Linux prctl option: the signal a process receives when its parent exits."""
PARENT_POLL_SECONDS = 1.0
"""Where the kernel cannot signal a parent's death, how often a worker checks, in seconds."""
FRAME_LENGTH = struct.Struct("Q")
"""How Dask's TCP transport writes the length of each message."""
MAX_HANDSHAKE_BYTES = 1 << 20
"""A larger first frame is not a Dask handshake (which is a few hundred bytes)."""


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
        Worker processes, at most one per task and per core; ``1`` runs every
        task in this process, in order.
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
    jobs = min(jobs, len(tasks), available_cores())
    if jobs <= 1:
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
            # Workers finish the task they hold (ending one mid-result would leave the
            # pool waiting for the rest of it) and then exit; queued tasks are dropped.
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
            address = resolve_address(scheduler)
            if address.startswith("tcp://"):
                expect_dask_handshake(scheduler, address)
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


def expect_dask_handshake(scheduler: str, address: str) -> None:
    """Refuse a TCP listener that does not greet as a Dask scheduler does.

    A Dask scheduler writes its handshake, a frame led by its length as an
    unsigned 64-bit integer, as soon as a connection opens. A listener that
    says nothing within ``CONNECT_TIMEOUT_SECONDS`` would leave Dask's client
    waiting for ever, and one that sends a banner would be read as a frame of
    absurd length; both are refused here first.

    Parameters
    ----------
    scheduler : str
        The address as the user gave it, for messages.
    address : str
        The resolved ``tcp://host:port`` address.

    Raises
    ------
    BackendError
        If the listener cannot be reached, says nothing in time, or does not
        start with a plausible frame length.
    """
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    try:
        with socket.create_connection(
            (host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_SECONDS
        ) as connection:
            greeting = b""
            while len(greeting) < FRAME_LENGTH.size:
                received = connection.recv(FRAME_LENGTH.size - len(greeting))
                if not received:
                    break
                greeting += received
    except TimeoutError as err:
        raise BackendError(
            f"{scheduler} does not answer as a Dask scheduler: nothing within "
            f"{CONNECT_TIMEOUT_SECONDS:g} s"
        ) from err
    except OSError as err:
        raise BackendError(
            f"cannot connect to the Dask scheduler at {scheduler}: {first_line(err)}"
        ) from err
    if len(greeting) < FRAME_LENGTH.size or FRAME_LENGTH.unpack(greeting)[0] > MAX_HANDSHAKE_BYTES:
        raise BackendError(f"{scheduler} does not answer as a Dask scheduler")


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


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def leave_interrupts_to_parent() -> None:
    """Worker initializer: signals are handled once, by the parent; a worker dies with it.

    Ctrl-C and SIGTERM are ignored here: the parent, in the same process group,
    stops the pool (each worker exits after its current task) and writes the
    one line. On Linux the
    kernel kills the worker if the parent dies, even by SIGKILL; elsewhere a
    thread watches for the parent's exit.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()
    if not _kill_me_with_parent():
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _kill_me_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent exits; False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0)
    except (OSError, AttributeError):
        return False


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def fork_context() -> BaseContext | None:
    """The ``fork`` start method where available: workers inherit the parent's imports."""
    return get_context("fork") if "fork" in get_all_start_methods() else None
