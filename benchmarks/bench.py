"""The benchmark command: every timing the project has a target for, in one run, as ratios.

Owns ``benchmarks/results.json`` (written by a full run) and the targets.
One run on one machine times:

1. each shipped scenario (``scenarios/*.yaml``) as a whole process,
   ``trialsim run SCENARIO --replicates 10000 --jobs 2 --quiet --force --out <tmp>``
   (every output written, ``replicates.csv`` included), after one untimed warm-up of each (the
   first use compiles a numba kernel into a cache), the runs interleaved round
   robin so that machine noise spreads over all scenarios alike; and its ratio
   to the 2005 scenario ``scenarios/vk2_d3_2005.yaml``;
2. the 2005 scenario at 100,000 replicates with ``--jobs 1`` and ``--jobs 2``,
   interleaved: the speed-up from 1 to 2 workers;
3. in this process (simulation only): the minimal numpy model of the 2005
   design (``benchmarks/minimal_numpy.py``, the vectorised limit), the minimal
   SimPy model (``benchmarks/minimal_simpy.py``) and trialsim's own simulation
   of the 2005 scenario (``run_trials(...).elapsed_seconds``), all with one
   worker and 10,000 replicates, each as a ratio to the 2005 whole process;
4. ``trialsim design simon``, ``trialsim samplesize`` on the Fisher endpoint of
   ``scenarios/randomised_upfront_d3.yaml``, and ``trialsim design bop2`` when
   that command exists (its exit code on ``--help`` says so), else listed as
   not available.

Each timing is the median of 3 runs (every run kept in the results); within
each group the runs go round robin, the order reversed every other round.
Commands with a target under a second (the design commands) get an untimed
warm-up; ``samplesize`` does not (its kernels are those the scenario runs
already compiled, and one run can take minutes). Beside each line the target
and whether it is met: 2005 whole process <= 1.0 s; every other shipped
scenario <= 1.5x the 2005 time; 2 workers >= 1.8x faster than 1 at 100,000
replicates; ``design simon`` < 1 s; ``design bop2`` < 1 s; ``samplesize``
(Fisher) < 30 s.

Usage::

    python benchmarks/bench.py [--write-readme]      # full run -> benchmarks/results.json
    python benchmarks/bench.py --quick --out PATH    # smoke run: 1 run each, fewer replicates

``--write-readme`` then replaces the table between ``<!-- bench:start -->`` and
``<!-- bench:end -->`` in README.md (``benchmarks/readme_table.py`` renders it).
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import readme_table
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SCENARIO_2005 = SCENARIOS / "vk2_d3_2005.yaml"
UPFRONT = SCENARIOS / "randomised_upfront_d3.yaml"
RESULTS = ROOT / "benchmarks" / "results.json"
BASELINE = "run/vk2_d3_2005"
JOBS_ONE, JOBS_TWO = "jobs/1", "jobs/2"
SIMON, BOP2, SAMPLESIZE = "design/simon", "design/bop2", "samplesize/fisher"
START_UP = "start-up/help"
SIMON_ARGUMENTS = ["--p0", "0.1", "--p1", "0.3", "--nmax", "150"]
BOP2_ARGUMENTS = ["--p0", "0.2", "--p1", "0.4", "--n", "40", "--looks", "10,20,30"]
BOP2_ARGUMENTS += ["--alpha", "0.1"]
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Settings:
    """How much a run measures.

    Attributes
    ----------
    samples : int
        Timed runs of each measurement (the median is reported).
    replicates : int
        Replicates of the scenario runs and of the in-process models.
    jobs_replicates : int
        Replicates of the 1-worker against 2-worker comparison.
    quick : bool
        A smoke run: few replicates, a narrow sample-size range.
    """

    samples: int
    replicates: int
    jobs_replicates: int
    quick: bool


FULL = Settings(samples=3, replicates=10_000, jobs_replicates=100_000, quick=False)
QUICK = Settings(samples=1, replicates=1_000, jobs_replicates=10_000, quick=True)


@dataclass
class Measurement:
    """One timed line of the table.

    Attributes
    ----------
    id : str
        Key of the line in the results (``run/<scenario>``, ``jobs/1``, ...).
    label : str
        What was timed, as the table says it (markdown).
    command : str
        The command or call timed.
    kind : str
        ``"whole process"`` or ``"in-process"``.
    timer : callable or None
        Runs the thing once and returns its seconds; None if not available.
    warm_up : callable or None
        Run once, untimed, before the timed runs.
    samples : list of float
        The timed runs, in seconds.
    """

    id: str
    label: str
    command: str
    kind: str
    timer: Callable[[], float] | None
    warm_up: Callable[[], object] | None = None
    samples: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The measurement as results.json holds it."""
        available = self.timer is not None
        return {
            "id": self.id,
            "label": self.label,
            "command": self.command,
            "kind": self.kind,
            "available": available,
            "samples": [round(sample, 4) for sample in self.samples],
            "median": round(statistics.median(self.samples), 4) if available else None,
        }


class BenchmarkError(RuntimeError):
    """A timed command failed."""


def trialsim_executable() -> list[str]:
    """The ``trialsim`` console script beside this Python, else ``python -m trialsim``."""
    script = Path(sys.executable).with_name("trialsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "trialsim"]


def run_process(command: Sequence[str]) -> float:
    """Run ``command`` from the repository root and return its wall-clock seconds.

    Raises
    ------
    BenchmarkError
        If the command exits with a non-zero code (its stderr is in the message).
    """
    started = time.perf_counter()
    completed = subprocess.run(
        list(command), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchmarkError(
            f"{' '.join(command)} exited with {completed.returncode}: {completed.stderr.strip()}"
        )
    return elapsed


def command_exists(words: Sequence[str]) -> bool:
    """Whether ``trialsim WORDS --help`` succeeds, i.e. the command exists."""
    completed = subprocess.run(
        [*trialsim_executable(), *words, "--help"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return completed.returncode == 0


class OutputFolders:
    """A fresh output folder for every run, all under one temporary directory."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self.count = 0

    def next(self, name: str) -> Path:
        """A path that does not exist yet, named after ``name``."""
        self.count += 1
        return self.parent / f"{name}-{self.count}"


def process_measurement(
    measurement_id: str,
    label: str,
    words: Sequence[str],
    folders: OutputFolders | None = None,
    warm_up: bool = True,
) -> Measurement:
    """A whole-process measurement of ``trialsim WORDS`` (plus ``--out <fresh folder>``)."""
    executable = trialsim_executable()

    def command() -> list[str]:
        out = (
            []
            if folders is None
            else ["--out", str(folders.next(measurement_id.replace("/", "-")))]
        )
        return [*executable, *words, *out]

    def timer() -> float:
        return run_process(command())

    shown = ["trialsim", *words, *([] if folders is None else ["--out", "<tmp>"])]
    return Measurement(
        id=measurement_id,
        label=label,
        command=" ".join(shown),
        kind="whole process",
        timer=timer,
        warm_up=timer if warm_up else None,
    )


def relative(path: Path) -> str:
    """``path`` relative to the repository root, as the commands are given it."""
    return str(path.relative_to(ROOT))


def scenario_measurements(settings: Settings, folders: OutputFolders) -> list[Measurement]:
    """Whole ``trialsim run`` of each shipped scenario, 2 workers, warm-up included."""
    measurements = []
    for scenario in sorted(SCENARIOS.glob("*.yaml")):
        words = ["run", relative(scenario), "--replicates", str(settings.replicates)]
        words += ["--jobs", "2", "--quiet", "--force"]
        label = f"`trialsim run {scenario.name}`, {settings.replicates:,} replicates, 2 workers"
        measurements.append(process_measurement(f"run/{scenario.stem}", label, words, folders))
    baseline = next(m for m in measurements if m.id == BASELINE)
    return [baseline] + [m for m in measurements if m is not baseline]


def jobs_measurements(settings: Settings, folders: OutputFolders) -> list[Measurement]:
    """The 2005 scenario at many replicates with 1 and with 2 workers (already warm)."""
    measurements = []
    for jobs, measurement_id in ((1, JOBS_ONE), (2, JOBS_TWO)):
        words = ["run", relative(SCENARIO_2005), "--replicates", str(settings.jobs_replicates)]
        words += ["--jobs", str(jobs), "--quiet", "--force"]
        workers = "1 worker" if jobs == 1 else f"{jobs} workers"
        label = (
            f"`trialsim run {SCENARIO_2005.name}`, {settings.jobs_replicates:,} replicates, "
            f"{workers}"
        )
        measurements.append(
            process_measurement(measurement_id, label, words, folders, warm_up=False)
        )
    return measurements


def in_process_measurements(settings: Settings) -> list[Measurement]:
    """The minimal numpy and SimPy models and trialsim's own simulation, 1 worker, in-process."""
    import minimal_numpy
    import minimal_simpy

    import trialsim

    replicates = settings.replicates
    scenario = trialsim.load_scenario(SCENARIO_2005)

    def seconds_of(call: Callable[[], object]) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    return [
        Measurement(
            id="inprocess/minimal_numpy",
            label=f"minimal numpy model of the 2005 design, {replicates:,} replicates (in-process)",
            command=f"minimal_numpy.simulate({replicates})",
            kind="in-process",
            timer=lambda: seconds_of(lambda: minimal_numpy.simulate(replicates)),
            warm_up=lambda: minimal_numpy.simulate(1_000),
        ),
        Measurement(
            id="inprocess/minimal_simpy",
            label=(
                f"minimal SimPy model of the 2005 design, {replicates:,} replicates, 1 worker "
                "(in-process)"
            ),
            command=f"minimal_simpy.simulate({replicates}, jobs=1)",
            kind="in-process",
            timer=lambda: seconds_of(lambda: minimal_simpy.simulate(replicates, jobs=1)),
            warm_up=lambda: minimal_simpy.simulate(100, jobs=1),
        ),
        Measurement(
            id="inprocess/run_trials",
            label=(
                f"trialsim's simulation of `{SCENARIO_2005.name}` (`run_trials`), "
                f"{replicates:,} replicates, 1 worker (in-process)"
            ),
            command=(
                f"trialsim.run_trials(trialsim.load_scenario('{relative(SCENARIO_2005)}'), "
                f"replicates={replicates}, jobs=1).elapsed_seconds"
            ),
            kind="in-process",
            timer=lambda: (
                trialsim.run_trials(scenario, replicates=replicates, jobs=1).elapsed_seconds
            ),
            warm_up=lambda: trialsim.run_trials(scenario, replicates=200, jobs=1),
        ),
    ]


def fisher_endpoint(scenario_path: Path) -> str:
    """The id of the scenario's first endpoint with a Fisher rule."""
    scenario = yaml.safe_load(scenario_path.read_text())
    return next(
        endpoint["id"] for endpoint in scenario["endpoints"] if endpoint["rule"]["test"] == "fisher"
    )


def tool_measurements(settings: Settings, folders: OutputFolders) -> list[Measurement]:
    """``trialsim --help`` (start-up), ``design simon``, ``design bop2`` (or not available) and
    ``samplesize`` on a Fisher test."""
    start_up = process_measurement(START_UP, "`trialsim --help` (start-up)", ["--help"])
    simon_words = ["design", "simon", *SIMON_ARGUMENTS]
    simon = process_measurement(SIMON, f"`trialsim {' '.join(simon_words)}`", simon_words)
    bop2_words = ["design", "bop2", *BOP2_ARGUMENTS]
    bop2_label = f"`trialsim {' '.join(bop2_words)}`"
    if command_exists(["design", "bop2"]):
        bop2 = process_measurement(BOP2, bop2_label, bop2_words)
    else:
        bop2 = Measurement(
            BOP2, bop2_label, f"trialsim {' '.join(bop2_words)}", "whole process", timer=None
        )
    endpoint = fisher_endpoint(UPFRONT)
    words = ["samplesize", relative(UPFRONT), "--endpoint", endpoint, "--power", "0.8"]
    label_words = ["samplesize", UPFRONT.name, "--endpoint", endpoint, "--power", "0.8"]
    if settings.quick:
        words += ["--replicates", "1000", "--range", "160:180"]
        label_words += ["--replicates", "1000", "--range", "160:180"]
    words += ["--quiet", "--force"]
    samplesize = process_measurement(
        SAMPLESIZE,
        f"`trialsim {' '.join(label_words)}` (Fisher)",
        words,
        folders,
        warm_up=False,
    )
    return [start_up, simon, bop2, samplesize]


def measure(group: Sequence[Measurement], samples: int, name: str) -> None:
    """Warm up, then time every measurement of ``group`` ``samples`` times, round robin.

    The order is reversed every other round (A B C, C B A, A B C), so that a
    drift in the machine's load falls on every measurement alike.
    """
    available = [m for m in group if m.timer is not None]
    for m in available:
        if m.warm_up is not None:
            progress(f"{name}: warm-up {m.id}")
            m.warm_up()
    for round_number in range(samples):
        ordered = available if round_number % 2 == 0 else available[::-1]
        for m in ordered:
            assert m.timer is not None
            m.samples.append(m.timer())
            progress(f"{name}: run {round_number + 1}/{samples} {m.id} {m.samples[-1]:.2f} s")


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def medians(measurements: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Median of each measurement by id (None where not available)."""
    return {m["id"]: m["median"] for m in measurements}


def compute_ratios(measurements: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ratios of the table, from the measurements' medians.

    Parameters
    ----------
    measurements : sequence of dict
        Measurements as results.json holds them.

    Returns
    -------
    list of dict
        For each scenario run and each in-process row, its median over the 2005
        scenario's whole-process median (``kind: "of_2005"``); for the 2-worker
        run, the 1-worker median over the 2-worker one (``kind: "speedup"``).
    """
    median = medians(measurements)
    baseline = median.get(BASELINE)
    ratios = []
    for measurement_id, value in median.items():
        relative_row = measurement_id.startswith(("run/", "inprocess/"))
        if relative_row and value is not None and baseline:
            ratios.append(
                {
                    "row": measurement_id,
                    "kind": "of_2005",
                    "numerator": measurement_id,
                    "denominator": BASELINE,
                    "value": round(value / baseline, 4),
                }
            )
    one, two = median.get(JOBS_ONE), median.get(JOBS_TWO)
    if one is not None and two:
        ratios.append(
            {
                "row": JOBS_TWO,
                "kind": "speedup",
                "numerator": JOBS_ONE,
                "denominator": JOBS_TWO,
                "value": round(one / two, 4),
            }
        )
    return ratios


def target_specs(measurement_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The targets that apply to these measurements (quantity, comparison, threshold, unit).

    Parameters
    ----------
    measurement_ids : sequence of str
        The ids measured.

    Returns
    -------
    list of dict
        One per target whose row was measured: ``row``, ``quantity`` (``median``
        or ``ratio``), ``operator``, ``threshold`` and ``unit``.
    """
    specs = [
        {"row": BASELINE, "quantity": "median", "operator": "<=", "threshold": 1.0, "unit": "s"}
    ]
    specs += [
        {"row": row, "quantity": "ratio", "operator": "<=", "threshold": 1.5, "unit": "× 2005"}
        for row in measurement_ids
        if row.startswith("run/") and row != BASELINE
    ]
    specs += [
        {
            "row": JOBS_TWO,
            "quantity": "ratio",
            "operator": ">=",
            "threshold": 1.8,
            "unit": "× faster",
        },
        {"row": SIMON, "quantity": "median", "operator": "<", "threshold": 1.0, "unit": "s"},
        {"row": BOP2, "quantity": "median", "operator": "<", "threshold": 1.0, "unit": "s"},
        {"row": SAMPLESIZE, "quantity": "median", "operator": "<", "threshold": 30.0, "unit": "s"},
    ]
    return [spec for spec in specs if spec["row"] in measurement_ids]


def evaluate_targets(
    measurements: Sequence[dict[str, Any]], ratios: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each target with the value measured and its status: pass, fail or not available.

    Parameters
    ----------
    measurements : sequence of dict
        Measurements as results.json holds them.
    ratios : sequence of dict
        As ``compute_ratios`` returns them.

    Returns
    -------
    list of dict
        The target specs of ``target_specs`` with ``value`` (None where the
        measurement or ratio is missing) and ``status``.
    """
    median = medians(measurements)
    ratio_of = {ratio["row"]: ratio["value"] for ratio in ratios}
    targets = []
    for spec in target_specs(list(median)):
        source = median if spec["quantity"] == "median" else ratio_of
        value = source.get(spec["row"])
        if value is None:
            status = "not available"
        else:
            met = COMPARISONS[spec["operator"]](value, spec["threshold"])
            status = "pass" if met else "fail"
        targets.append({**spec, "value": value, "status": status})
    return targets


def machine_info() -> dict[str, Any]:
    """Cores, platform and the versions that matter for speed, and the date."""
    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "numba": version("numba"),
        "simpy": version("simpy"),
        "trialsim": version("trialsim"),
        "date": datetime.now().astimezone().date().isoformat(),
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average_start": round(os.getloadavg()[0], 2),
    }


def run_benchmarks(settings: Settings) -> dict[str, Any]:
    """Measure everything once and return the results dict (see results.json)."""
    machine = machine_info()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="trialsim-bench-") as scratch:
        folders = OutputFolders(Path(scratch))
        groups = [
            ("scenarios", scenario_measurements(settings, folders)),
            ("workers", jobs_measurements(settings, folders)),
            ("in-process", in_process_measurements(settings)),
            ("tools", tool_measurements(settings, folders)),
        ]
        for name, group in groups:
            measure(group, settings.samples, name)
    machine["load_average_end"] = round(os.getloadavg()[0], 2)
    machine["finished"] = datetime.now().astimezone().isoformat(timespec="seconds")
    measurements = [m.as_dict() for _, group in groups for m in group]
    ratios = compute_ratios(measurements)
    return {
        "quick": settings.quick,
        "machine": machine,
        "settings": {
            "samples": settings.samples,
            "replicates": settings.replicates,
            "jobs_replicates": settings.jobs_replicates,
        },
        "elapsed_seconds": round(time.perf_counter() - started, 1),
        "measurements": measurements,
        "ratios": ratios,
        "targets": evaluate_targets(measurements, ratios),
    }


def main() -> None:
    """Parse the options, run the benchmarks, write the results and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 run each, 1,000 replicates (10,000 for the workers), to --out",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"results file [default: {relative(RESULTS)}; required with --quick]",
    )
    parser.add_argument(
        "--write-readme",
        action="store_true",
        help="replace the table between the bench markers in README.md",
    )
    args = parser.parse_args()
    if args.quick and args.out is None:
        parser.error("--quick writes its results to --out PATH, never to results.json")
    if args.quick and args.write_readme:
        parser.error("--write-readme takes a full run, not --quick")
    out: Path = args.out or RESULTS
    results = run_benchmarks(QUICK if args.quick else FULL)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(readme_table.render_table(results))
    print(f"\nwrote {out}")
    if args.write_readme:
        readme_table.write_readme(out)
        print(f"replaced the table in {relative(readme_table.README)}")


if __name__ == "__main__":
    main()
