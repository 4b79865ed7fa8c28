"""Benchmark: whole-process wall time of `trialsim run` on the 2005 scenario.

Measures, in one run on this machine (times vary between runs on a shared
machine; compare the ratios):

* `trialsim run scenarios/vk2_d3_2005.yaml --replicates N` with 1 and 2 workers,
  start-up, summary, figures and report included;
* the minimal hand-written SimPy model of the same events
  (`benchmarks/minimal_simpy.py`) with 2 workers, and the ratio of the two;
* `trialsim --help`;
* the simulation alone (`run_trials`, in this process: no start-up, summary or
  outputs), with 1 and 2 workers.

Usage: python benchmarks/bench_run.py [--replicates 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "vk2_d3_2005.yaml"
TRIALSIM = [sys.executable, "-m", "trialsim"]


def wall_seconds(command: list[str], repeats: int) -> float:
    """Median wall time of ``command`` over ``repeats`` runs (seconds)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def engine_seconds(replicates: int, repeats: int) -> list[tuple[str, float]]:
    """Median wall time of the simulation alone, with 1 and 2 workers (seconds)."""
    from trialsim.rules.validation import load_scenario
    from trialsim.run.runner import run_trials

    scenario = load_scenario(SCENARIO)
    return [
        (
            f"simulation only, {jobs} worker(s)",
            statistics.median(
                run_trials(scenario, replicates=replicates, jobs=jobs).elapsed_seconds
                for _ in range(repeats)
            ),
        )
        for jobs in (1, 2)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--scaling-replicates",
        type=int,
        default=100_000,
        help="replicates for the simulation-only scaling, where start-up no longer counts",
    )
    args = parser.parse_args()
    n, repeats = args.replicates, args.repeats
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for jobs in (1, 2):
            command = [
                *TRIALSIM,
                "run",
                str(SCENARIO),
                "--replicates",
                str(n),
                "--jobs",
                str(jobs),
                "--quiet",
                "--force",
                "--out",
                str(Path(out) / "run"),
            ]
            rows.append((f"trialsim run, {jobs} worker(s)", wall_seconds(command, repeats)))
    minimal = [sys.executable, str(ROOT / "benchmarks" / "minimal_simpy.py"), str(n), "2"]
    rows.append(("minimal SimPy model, 2 workers", wall_seconds(minimal, repeats)))
    rows.append(("trialsim --help", wall_seconds([*TRIALSIM, "--help"], max(repeats, 5))))
    rows += engine_seconds(n, repeats)
    print(f"{n} replicates of {SCENARIO.name} (x 2 worlds), median of {repeats} runs")
    for name, seconds in rows:
        print(f"  {name:<34} {seconds:7.2f} s")
    one, two, minimal_two = rows[0][1], rows[1][1], rows[2][1]
    print(f"  scaling 1 -> 2 workers             {one / two:7.2f} x")
    print(f"  scaling 1 -> 2, simulation only    {rows[-2][1] / rows[-1][1]:7.2f} x")
    large = engine_seconds(args.scaling_replicates, repeats)
    print(
        f"  scaling 1 -> 2, simulation only, {args.scaling_replicates} replicates "
        f"({large[0][1]:.2f} s / {large[1][1]:.2f} s): {large[0][1] / large[1][1]:.2f} x"
    )
    print(f"  ratio to minimal SimPy model       {two / minimal_two:7.2f}")


if __name__ == "__main__":
    main()
