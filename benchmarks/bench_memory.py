"""Benchmark: peak memory of `trialsim run` against the number of replicates.

Runs `trialsim run scenarios/vk2_d3_2005.yaml --replicates N --jobs 2
--no-replicates-csv` in a fresh process for each N and reports the largest
resident set size of any process of the run (the main process or a worker),
with the wall time. Memory should stay flat: chunks are reduced to tallies as
they finish. Beside it, for scale: what the per-replicate records alone would
take if they were kept in memory (8 bytes per column, both worlds, plus the
registration weeks).

Usage: python benchmarks/bench_memory.py [--replicates 10000 100000 1000000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "vk2_d3_2005.yaml"
# Runs the command and prints the peak RSS (KiB) of its process tree and the wall time (s):
# the kernel folds each reaped descendant's peak into RUSAGE_CHILDREN.
MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
subprocess.run(sys.argv[1:], check=True)
print(json.dumps({
    "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "seconds": time.perf_counter() - started,
}))
"""


def measure(replicates: int, jobs: int, out: Path) -> dict[str, float]:
    """Peak RSS (KiB) and wall time (s) of one run in a fresh process."""
    command = [
        sys.executable,
        "-m",
        "trialsim",
        "run",
        str(SCENARIO),
        "--replicates",
        str(replicates),
        "--jobs",
        str(jobs),
        "--no-replicates-csv",
        "--quiet",
        "--force",
        "--out",
        str(out),
    ]
    printed = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(printed.splitlines()[-1])


def records_mib(replicates: int) -> float:
    """Memory the per-replicate records and registration weeks would take (MiB)."""
    from trialsim.model.plan import compile_plan
    from trialsim.rules.validation import load_scenario
    from trialsim.run.records import RecordLayout

    plan = compile_plan(load_scenario(SCENARIO).spec)
    columns = len(RecordLayout.for_plan(plan))
    return (2 * replicates * columns + replicates * plan.patients) * 8 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"{SCENARIO.name}, {args.jobs} workers, no replicates.csv")
    print(f"  {'replicates':>10}  {'peak RSS':>9}  {'wall':>8}  {'records if kept':>15}")
    with tempfile.TemporaryDirectory() as folder:
        for replicates in args.replicates:
            got = measure(replicates, args.jobs, Path(folder) / "run")
            print(
                f"  {replicates:>10}  {got['peak_kib'] / 1024:>6.0f} MiB  {got['seconds']:>6.1f} s"
                f"  {records_mib(replicates):>11.0f} MiB"
            )


if __name__ == "__main__":
    main()
