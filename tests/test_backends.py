"""The Dask backend: same numbers as a local run, dead workers, retries, clean failures.

One small local cluster (two single-threaded worker processes) serves the module.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trialsim.cli.app import app
from trialsim.model.plan import compile_plan
from trialsim.planning.summary import summarise
from trialsim.rules.validation import load_scenario
from trialsim.run import backends
from trialsim.run.backends import BackendError, run_tasks
from trialsim.run.runner import run_trials, simulate_chunk

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "vk2_d3_2005.yaml"
UNREACHABLE = "tcp://127.0.0.1:1"
DOOMED = 3
runner = CliRunner()
# Single-threaded workers, no dashboard, and the scheduler's HTTP server on a free port.
QUIET_CLUSTER = {
    "threads_per_worker": 1,
    "dashboard_address": None,
    "scheduler_kwargs": {"dashboard_address": ":0"},
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    with distributed.LocalCluster(n_workers=2, processes=True, **QUIET_CLUSTER) as local:
        yield local


@pytest.fixture
def quick_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "CONNECT_TIMEOUT_SECONDS", 1.0)


def die_once(marker_folder: str, index: int) -> int:
    """Square ``index``; the task ``DOOMED`` first kills its worker process."""
    marker = Path(marker_folder) / f"{index}.started"
    if index == DOOMED and not marker.exists():
        marker.touch()
        os._exit(1)
    return index * index


def fail_once(marker_folder: str, index: int) -> int:
    """Square ``index``; the task ``DOOMED`` raises the first time it runs."""
    marker = Path(marker_folder) / f"{index}.failed"
    if index == DOOMED and not marker.exists():
        marker.touch()
        raise RuntimeError("transient failure")
    return index * index


def fail_always(index: int) -> int:
    """Square ``index``, except for ``DOOMED``, which always raises."""
    if index == DOOMED:
        raise ValueError(f"task {index} is broken")
    time.sleep(0.2)
    return index * index


def slow_square(index: int) -> int:
    """Square ``index`` after a fifth of a second."""
    time.sleep(0.2)
    return index * index


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def our_clients(cluster: distributed.LocalCluster) -> set[str]:
    """Clients connected to the scheduler, less its own."""
    return {name for name in cluster.scheduler.clients if name != "fire-and-forget"}


def without_timing(summary: dict) -> dict:  # type: ignore[type-arg]
    return {key: value for key, value in summary.items() if key not in ("elapsed_seconds", "jobs")}


def test_chunks_on_the_cluster_equal_local_chunks(cluster: distributed.LocalCluster) -> None:
    plan = compile_plan(load_scenario(SCENARIO).spec)
    chunks = [(plan, 2005, start, start + 200) for start in range(0, 600, 200)]
    local = dict(run_tasks(simulate_chunk, chunks, 1))
    remote = dict(run_tasks(simulate_chunk, chunks, 1, cluster.scheduler_address))
    assert sorted(remote) == [0, 1, 2]
    for index, (records, registrations) in local.items():
        remote_records, remote_registrations = remote[index]
        assert np.array_equal(records, remote_records, equal_nan=True)
        assert np.array_equal(registrations, remote_registrations, equal_nan=True)
    assert eventually(lambda: not our_clients(cluster)), "the client is closed after the run"


def test_run_trials_on_the_cluster_equals_a_local_run(cluster: distributed.LocalCluster) -> None:
    loaded = load_scenario(SCENARIO)
    local = run_trials(loaded, replicates=600, jobs=1)
    remote = run_trials(loaded, replicates=600, jobs=1, scheduler=cluster.scheduler_address)
    if hasattr(local, "records"):
        assert np.array_equal(local.records, remote.records, equal_nan=True)
        assert np.array_equal(local.registration_weeks, remote.registration_weeks, equal_nan=True)
    assert without_timing(summarise(local).to_dict()) == without_timing(summarise(remote).to_dict())


def run_cli(out: Path, *extra: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app,
        ["run", str(SCENARIO), "--replicates", "300", "--out", str(out), "--quiet", *extra],
        env=env,
    )


def endpoints(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "summary.json").read_text())["endpoints"]


def test_cli_scheduler_option_and_variable_give_the_local_numbers(
    cluster: distributed.LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIALSIM_SCHEDULER", raising=False)
    address = cluster.scheduler_address
    local = run_cli(tmp_path / "local", "--jobs", "1")
    assert local.exit_code == 0, local.output + local.stderr
    before = cluster.scheduler.transition_counter
    by_option = run_cli(tmp_path / "option", "--scheduler", address)
    assert by_option.exit_code == 0, by_option.output + by_option.stderr
    after_option = cluster.scheduler.transition_counter
    by_variable = run_cli(tmp_path / "variable", env={"TRIALSIM_SCHEDULER": address})
    assert by_variable.exit_code == 0, by_variable.output + by_variable.stderr
    assert before < after_option < cluster.scheduler.transition_counter, "ran on the cluster"
    assert endpoints(tmp_path / "option") == endpoints(tmp_path / "local")
    assert endpoints(tmp_path / "variable") == endpoints(tmp_path / "local")


@pytest.mark.parametrize("command", ["run", "sweep", "samplesize"])
def test_every_simulating_command_documents_the_scheduler(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "--scheduler" in result.stdout and "TRIALSIM_SCHEDULER" in result.stdout


def test_a_chunk_lost_with_its_worker_is_recomputed_once(
    cluster: distributed.LocalCluster, tmp_path: Path
) -> None:
    tasks = [(str(tmp_path), index) for index in range(8)]
    finished = list(run_tasks(die_once, tasks, 1, cluster.scheduler_address))
    assert (tmp_path / f"{DOOMED}.started").exists(), "a worker was killed"
    assert sorted(index for index, _ in finished) == list(range(8))
    assert all(result == index * index for index, result in finished)


def test_a_task_that_raises_once_is_retried(
    cluster: distributed.LocalCluster, tmp_path: Path
) -> None:
    tasks = [(str(tmp_path), index) for index in range(6)]
    finished = dict(run_tasks(fail_once, tasks, 1, cluster.scheduler_address))
    assert (tmp_path / f"{DOOMED}.failed").exists(), "the task failed once"
    assert finished == {index: index * index for index in range(6)}


def test_a_failing_task_cancels_the_rest_and_closes_the_client(
    cluster: distributed.LocalCluster,
) -> None:
    tasks = [(index,) for index in range(12)]
    with pytest.raises(ValueError, match="task 3 is broken"):
        list(run_tasks(fail_always, tasks, 1, cluster.scheduler_address))
    assert eventually(lambda: not our_clients(cluster))
    assert eventually(lambda: not cluster.scheduler.tasks), "no task is left on the cluster"


def test_an_interrupt_cancels_the_rest_and_closes_the_client(
    cluster: distributed.LocalCluster,
) -> None:
    tasks = [(index,) for index in range(4, 16)]
    finishing = run_tasks(fail_always, tasks, 1, cluster.scheduler_address)
    next(finishing)
    with pytest.raises(KeyboardInterrupt):
        finishing.throw(KeyboardInterrupt())
    assert eventually(lambda: not our_clients(cluster))
    assert eventually(lambda: not cluster.scheduler.tasks)


@pytest.mark.usefixtures("quick_timeout")
def test_losing_the_scheduler_is_a_backend_error_naming_it() -> None:
    doomed = distributed.LocalCluster(n_workers=1, processes=False, **QUIET_CLUSTER)
    address = doomed.scheduler_address
    finishing = run_tasks(slow_square, [(index,) for index in range(20)], 1, address)
    try:
        next(finishing)
        doomed.close()
        with pytest.raises(BackendError, match=re.escape(address)) as raised:
            list(finishing)
        assert "\n" not in str(raised.value)
    finally:
        doomed.close()


@pytest.mark.usefixtures("quick_timeout")
def test_an_unreachable_scheduler_is_a_backend_error_naming_it() -> None:
    with pytest.raises(BackendError, match=re.escape(UNREACHABLE)):
        list(run_tasks(pow, [(2, 3)], 1, UNREACHABLE))


@pytest.mark.usefixtures("quick_timeout")
@pytest.mark.parametrize(
    "command",
    [
        ["run", str(SCENARIO), "--replicates", "300"],
        ["sweep", str(SCENARIO), "--set", "enrollment.patients=40:50:10", "--replicates", "100"],
        ["samplesize", str(SCENARIO), "--endpoint", "vk2_response", "--power", "0.6"]
        + ["--range", "20:60", "--replicates", "100"],
    ],
    ids=lambda words: words[0],
)
def test_cli_with_an_unreachable_scheduler_exits_1_with_one_line_and_writes_nothing(
    command: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, [*command, "--out", str(out), "--scheduler", UNREACHABLE])
    assert result.exit_code == 1, result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and UNREACHABLE in lines[0], lines
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists()


@pytest.mark.usefixtures("quick_timeout")
def test_cli_reads_the_scheduler_from_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(out, env={"TRIALSIM_SCHEDULER": UNREACHABLE})
    assert result.exit_code == 1
    assert UNREACHABLE in result.stderr
    assert not out.exists()


def test_results_come_back_in_task_order_as_soon_as_they_can() -> None:
    from trialsim.run.backends import in_task_order

    seen: list[int] = []

    def finishing() -> Iterator[tuple[int, str]]:
        for index in (2, 0, 3, 1, 4):
            seen.append(index)
            yield index, f"task {index}"

    ordered = in_task_order(finishing())
    assert next(ordered) == "task 0"
    assert seen == [2, 0], "task 0 is handed on before later tasks finish"
    assert list(ordered) == ["task 1", "task 2", "task 3", "task 4"]
