"""``trialsim sweep``: power and type I error curves over a grid of scenario values."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trialsim.cli.support import (
    EXIT_INVALID,
    Force,
    Jobs,
    Quiet,
    Replicates,
    ScenarioPath,
    Scheduler,
    Seed,
    fail,
    failing_cleanly,
    load_or_exit,
    usable_output_folder,
)

if TYPE_CHECKING:
    from rich.table import Table

    from trialsim.planning.sweep import Sweep

Settings = Annotated[
    list[str],
    typer.Option(
        "--set",
        metavar="KEY=LO:HI:STEP",
        show_default=False,
        help="A scenario key and its values, HI included, e.g. stages.vk2.response=0.05:0.35:0.05. "
        "Repeat for a grid of every combination (at most 200 points).",
    ),
]
SweepFolder = Annotated[
    Path | None,
    typer.Option(help="Output folder [default: results/<name>-sweep].", file_okay=False),
]


def sweep(
    scenario: ScenarioPath,
    settings: Settings,
    replicates: Replicates = None,
    seed: Seed = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    out: SweepFolder = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Power and type I error over a grid of scenario values: sweep.csv, sweep.png, sweep.json.

    KEY addresses the scenario as written: enrollment.patients,
    enrollment.accrual.rate_per_month, stages.<id>.response, stages.<id>.dropout,
    stages.<id>.response.<subgroup>, endpoints.<id>.rule.p0, population.<name>.weight
    (the other subgroups' weights are rescaled); list items by id, name or 0-based
    index. Every point is simulated with the same seed (common random numbers).

    \b
    Examples:
      trialsim sweep scenarios/vk2_d3_2005.yaml --set stages.vk2.response=0.05:0.35:0.1 --replicates 300
      trialsim sweep scenarios/vk2_d3_2005.yaml --set enrollment.accrual.rate_per_month=1:3:1 --set enrollment.patients=30:60:30 --replicates 200 --out results/accrual
    """  # noqa: E501 - example command lines are kept whole
    loaded = load_or_exit(scenario)
    from trialsim.run.outputs import write_folder
    from trialsim.scenario.grid_values import parse_setting
    from trialsim.scenario.problems import ScenarioError
    from trialsim.scenario.variation import scenario_grid

    try:
        points = scenario_grid(loaded, [parse_setting(text) for text in settings], "--set")
    except ScenarioError as err:
        fail([str(problem) for problem in err.problems], EXIT_INVALID)
    folder = usable_output_folder(out or Path("results") / f"{loaded.spec.name}-sweep", force)
    from trialsim.cli.progress import point_progress
    from trialsim.planning.sweep import run_sweep
    from trialsim.report.grid_files import sweep_files

    with failing_cleanly():
        with point_progress("simulating grid points", len(points), quiet) as on_point:
            result = run_sweep(
                loaded, points, replicates, seed, jobs, on_point, scheduler=scheduler
            )
        files = sweep_files(result)
        write_folder(folder, files, force, "trialsim sweep")
    if quiet:
        return
    from rich.console import Console

    console = Console()
    for endpoint in result.endpoints:
        console.print(_endpoint_table(result, endpoint))
    console.print(_enrollment_table(result))
    console.print(
        f"{len(points)} points × {result.replicates} replicates × 2 worlds, seed {result.seed} "
        f"at every point, {result.elapsed_seconds:.1f} s → {folder}/ ({', '.join(sorted(files))})"
    )


def _endpoint_table(result: Sweep, endpoint: str) -> Table:
    """One row per grid point; the early-stop column only where a rule can stop early."""
    outcomes = [row.endpoints[endpoint] for row in result.rows]
    stops = any(outcome.early_stop for outcome in outcomes)
    headers = ["power", "exact", "type I error", "exact", *(["early stop"] * stops)]
    cells = [
        [
            _estimate(outcome.power, outcome.power_se),
            _estimate(outcome.power_exact),
            _estimate(outcome.type1_error, outcome.type1_error_se),
            _estimate(outcome.type1_error_exact),
            *([_estimate(outcome.early_stop)] * stops),
        ]
        for outcome in outcomes
    ]
    title = f"{endpoint}: simulated ± 1 Monte Carlo SE, exact where admitted"
    return _grid_table(result, title, headers, cells)


def _enrollment_table(result: Sweep) -> Table:
    cells = [
        [_estimate(row.registered_mean, digits=1), _estimate(row.analysis_weeks_mean, digits=1)]
        for row in result.rows
    ]
    title = "Patients and weeks (simulated means)"
    return _grid_table(result, title, ["registered", "weeks to analysis"], cells)


def _grid_table(result: Sweep, title: str, headers: list[str], cells: list[list[str]]) -> Table:
    """The grid's keys, then ``headers``; numbers are never cut, long keys wrap at dots."""
    from rich.table import Table

    table = Table(title=title)
    for key in result.keys:
        table.add_column(key.replace(".", ".\n"), justify="right")
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    for row, values in zip(result.rows, cells, strict=True):
        table.add_row(*(f"{row.settings[key]:g}" for key in result.keys), *values)
    return table


def _estimate(value: float | None, se: float | None = None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" + ("" if se is None else f"±{se:.{digits}f}")
