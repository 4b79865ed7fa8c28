"""The ``trialsim`` command line. The only module that prints.

Heavy modules (numpy, pydantic, simpy, scipy, matplotlib) are imported inside
the commands so that ``trialsim --help`` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trialsim import __version__
from trialsim.cli.compare import compare
from trialsim.cli.samplesize import samplesize
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
from trialsim.cli.sweep import sweep

if TYPE_CHECKING:
    from trialsim.run.resume import EarlierRun
    from trialsim.scenario.load import LoadedScenario

app = typer.Typer(
    help="Simulate sequential phase II trials (VK2, then VK2 + D3 in non-responders) "
    "in calendar time, with exact operating characteristics beside simulated ones.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trialsim {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Simulate sequential phase II trials in calendar time."""


@app.command()
def validate(scenario: ScenarioPath) -> None:
    """Check a scenario file and report every problem, one per line.

    \b
    Example:
      trialsim validate scenarios/vk2_d3_2005.yaml
    """
    loaded = load_or_exit(scenario)
    spec = loaded.spec
    typer.echo(
        f"{scenario}: valid — {spec.name}: {len(spec.stages)} stages, "
        f"{len(spec.endpoints)} endpoints, {spec.enrollment.patients} patients"
    )


@app.command()
def schema(
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown", help="Print the reference of every key as a Markdown table instead."
        ),
    ] = False,
) -> None:
    """Print the JSON Schema of scenario files (for editors and validators).

    With a YAML language server (e.g. the Red Hat YAML extension of VS Code), put
    `# yaml-language-server: $schema=trialsim.scenario.schema.json` as the first line of a
    scenario file to get completion, hover help and checks while typing.

    \b
    Examples:
      trialsim schema > trialsim.scenario.schema.json
      trialsim schema --markdown > docs/scenario-reference.md
    """
    if markdown:
        from trialsim.scenario.reference import scenario_reference

        typer.echo(scenario_reference(), nl=False)
        return
    import json

    from trialsim.scenario.schema import Scenario

    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Scenario.model_json_schema(),
    }
    typer.echo(json.dumps(document, indent=2))


@app.command()
def run(
    scenario: ScenarioPath,
    replicates: Replicates = None,
    seed: Seed = None,
    jobs: Jobs = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder [default: results/<name>].", file_okay=False)
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
    trace: Annotated[
        int | None,
        typer.Option(
            min=0, help="Also write trace.csv: the event log of this replicate (0-based)."
        ),
    ] = None,
    scheduler: Scheduler = None,
    replicates_csv: Annotated[
        bool,
        typer.Option(
            help="Write replicates.csv, one row per replicate and world "
            "(about 480 bytes a replicate for the 2005 scenario)."
        ),
    ] = True,
) -> None:
    """Simulate the scenario's trial many times and write summary, replicates, figures and report.

    Raising --replicates on a folder that holds an earlier run of the same
    scenario and seed adds replicates to it: the first ones are kept, the new
    ones continue the same random streams, and every output is rewritten.

    \b
    Examples:
      trialsim run scenarios/vk2_d3_2005.yaml
      trialsim run scenarios/vk2_d3_2005.yaml --replicates 2000 --seed 7 --out results/demo
      trialsim run scenarios/vk2_d3_2005.yaml --trace 0 --force
    """
    loaded = load_or_exit(scenario)
    from trialsim.run.resume import ResumeError, earlier_run

    folder = out or Path("results") / loaded.spec.name
    total = loaded.spec.simulation.replicates if replicates is None else replicates
    chosen_seed = loaded.spec.simulation.seed if seed is None else seed
    try:
        earlier = None if force else earlier_run(folder, loaded, total, chosen_seed, replicates_csv)
    except ResumeError as err:
        fail([str(err)], EXIT_INVALID)
    if earlier is None:
        usable_output_folder(folder, force)
    with failing_cleanly():
        _run(
            loaded,
            folder,
            earlier,
            replicates=total,
            seed=chosen_seed,
            jobs=jobs,
            scheduler=scheduler,
            quiet=quiet,
            trace=trace,
            with_csv=replicates_csv,
        )


def _run(
    loaded: LoadedScenario,
    folder: Path,
    earlier: EarlierRun | None,
    *,
    replicates: int,
    seed: int,
    jobs: int | None,
    scheduler: str | None,
    quiet: bool,
    trace: int | None,
    with_csv: bool,
) -> None:
    import shutil
    from contextlib import ExitStack

    from rich.console import Console

    from trialsim.cli.progress import point_progress
    from trialsim.model.plan import compile_plan
    from trialsim.planning.summary import summarise
    from trialsim.report.html import render_report
    from trialsim.report.plots import BackgroundFigures
    from trialsim.report.tables import (
        adverse_event_table,
        endpoint_table,
        enrollment_table,
        estimate_table,
    )
    from trialsim.run.outputs import ReplicatesCsv, StagedFolder, summary_json, trace_csv
    from trialsim.run.records import RecordLayout
    from trialsim.run.resume import REPLICATES_CSV, TALLY
    from trialsim.run.runner import default_jobs, run_trials, trace_replicate
    from trialsim.run.tally import tally_npz

    workers = default_jobs() if jobs is None else jobs
    # A grown run replaces the folder it grows, whole, once everything is written.
    with (
        StagedFolder(folder, force=True) as staged,
        BackgroundFigures(workers=1 if workers > 1 else 0) as figure_workers,
    ):
        with ExitStack() as stack:
            csv = None
            if with_csv:
                csv_path = staged.path / REPLICATES_CSV
                if earlier is not None:
                    shutil.copyfile(earlier.replicates_csv, csv_path)
                layout = RecordLayout.for_plan(compile_plan(loaded.spec))
                csv = stack.enter_context(ReplicatesCsv(csv_path, layout, earlier is not None))
            on_progress = stack.enter_context(point_progress("simulating", replicates, quiet))
            result = run_trials(
                loaded,
                replicates,
                seed,
                jobs,
                on_progress=on_progress,
                scheduler=scheduler,
                on_records=csv,
                records_as=None if csv is None else csv.rows_of,
                resume=None if earlier is None else earlier.tally,
            )
        figure_workers.draw(result)
        summary = summarise(result)
        files = {"summary.json": summary_json(summary), TALLY: tally_npz(result.tally)}
        figures = figure_workers.collect()
        files.update(figures)
        files["report.html"] = render_report(summary, figures).encode()
        if trace is not None:
            files["trace.csv"] = trace_csv(trace_replicate(loaded, trace, result.seed))
        staged.write(files)
        staged.commit()
    if quiet:
        return
    console = Console()
    console.print(endpoint_table(summary))
    console.print(estimate_table(summary))
    console.print(enrollment_table(summary))
    events = adverse_event_table(summary)
    if events is not None:
        console.print(events)
    grown = "" if earlier is None else f" (grown from {earlier.replicates})"
    written = ", ".join(sorted([*files, *([REPLICATES_CSV] if with_csv else [])]))
    console.print(
        f"{result.replicates} replicates{grown} × 2 worlds, seed {result.seed}, "
        f"{result.jobs} jobs, {result.elapsed_seconds:.1f} s → {folder}/ ({written})"
    )


design_app = typer.Typer(
    help="Exact phase II designs: Simon two-stage and exact one-stage.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(design_app, name="design")


NullRate = Annotated[float, typer.Option(help="Response rate under H0.", show_default=False)]
AlternativeRate = Annotated[
    float, typer.Option(help="Response rate under the alternative.", show_default=False)
]
Alpha = Annotated[float, typer.Option(help="Largest type I error.")]
Power = Annotated[float, typer.Option(help="Smallest power at p1.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@design_app.command("simon")
def design_simon(
    p0: NullRate,
    p1: AlternativeRate,
    alpha: Alpha = 0.05,
    power: Power = 0.80,
    nmax: Annotated[int, typer.Option(min=2, max=500, help="Largest total n searched.")] = 100,
    as_json: AsJson = False,
) -> None:
    """Simon two-stage designs: minimax, optimal and admissible (Jung et al. 2004).

    Stop after n1 patients if at most r1 respond; reject H0 if more than r of n respond.

    \b
    Examples:
      trialsim design simon --p0 0.10 --p1 0.30 --alpha 0.05 --power 0.80
      trialsim design simon --p0 0.05 --p1 0.25 --nmax 60 --json
    """
    import json

    from trialsim.exact.designs import DesignError, SimonDesign, find_simon_designs

    try:
        search = find_simon_designs(p0, p1, alpha, power, nmax)
    except DesignError as err:
        fail([f"design simon: {err} [{err.rule}]"], EXIT_INVALID)
    rows: list[tuple[str, SimonDesign, tuple[float, float] | None]] = [
        ("minimax", search.minimax, None),
        ("optimal", search.optimal, None),
    ]
    rows += [("admissible", design, (low, high)) for design, low, high in search.admissible]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "p0": p0,
                    "p1": p1,
                    "alpha": alpha,
                    "power": power,
                    "nmax": nmax,
                    "minimax": search.minimax.as_dict(),
                    "optimal": search.optimal.as_dict(),
                    "admissible": [
                        {**d.as_dict(), "q_low": low, "q_high": high}
                        for d, low, high in search.admissible
                    ],
                },
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Simon two-stage designs: p0 {p0}, p1 {p1}, alpha {alpha}, "
        f"power {power}, n <= {nmax}"
    )
    for header in ("design", "q", "r1/n1", "r/n", "EN(p0)", "PET(p0)", "alpha", "power"):
        table.add_column(header, justify="left" if header == "design" else "right")
    for name, d, weights in rows:
        q = "" if weights is None else f"{weights[0]:.2f}–{weights[1]:.2f}"
        table.add_row(
            name,
            q,
            f"{d.r1}/{d.n1}",
            f"{d.r}/{d.n}",
            f"{d.expected_n_null:.1f}",
            f"{d.early_termination_null:.3f}",
            f"{d.alpha:.4f}",
            f"{d.power:.4f}",
        )
    Console().print(table)


@design_app.command("single")
def design_single(
    p0: NullRate,
    p1: AlternativeRate,
    alpha: Alpha = 0.05,
    power: Power = 0.80,
    nmax: Annotated[int, typer.Option(min=1, max=10_000, help="Largest n searched.")] = 500,
    as_json: AsJson = False,
) -> None:
    """Exact one-stage design: reject H0 if at least r of n respond.

    Gives the minimal n, and the conservative n beyond which the power never falls
    below target again (exact binomial power is saw-toothed in n).

    \b
    Examples:
      trialsim design single --p0 0.10 --p1 0.30 --alpha 0.05 --power 0.80
      trialsim design single --p0 0.05 --p1 0.20 --json
    """
    import json

    from trialsim.exact.designs import DesignError, single_stage_design

    try:
        search = single_stage_design(p0, p1, alpha, power, nmax)
    except DesignError as err:
        fail([f"design single: {err} [{err.rule}]"], EXIT_INVALID)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "p0": p0,
                    "p1": p1,
                    "alpha": alpha,
                    "power": power,
                    "nmax": nmax,
                    "minimal": search.minimal.as_dict(),
                    "conservative": search.conservative.as_dict(),
                },
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Exact one-stage designs: p0 {p0}, p1 {p1}, alpha {alpha}, power {power}")
    for header in ("design", "reject if ≥ r of n", "alpha", "power"):
        table.add_column(header, justify="left" if header == "design" else "right")
    for name, d in (("minimal", search.minimal), ("conservative", search.conservative)):
        table.add_row(name, f"{d.r}/{d.n}", f"{d.alpha:.4f}", f"{d.power:.4f}")
    Console().print(table)


# Planning commands live in their own modules of this package; they are registered here.
app.command()(compare)
app.command()(samplesize)
app.command()(sweep)
