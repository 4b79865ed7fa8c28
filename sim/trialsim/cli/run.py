"""``trialsim run``: simulate a scenario and write its summary, replicates, figures and report.

Like every command module, imports nothing heavy at module level.
"""

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
    from trialsim.run.resume import EarlierRun
    from trialsim.scenario.load import LoadedScenario


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
    ones continue the same random streams, and every output is rewritten (an
    earlier trace.csv is kept unless --trace asks for another). The earlier
    files are checked against the folder's manifest.json first.

    \b
    Examples:
      trialsim run scenarios/vk2_d3_2005.yaml
      trialsim run scenarios/vk2_d3_2005.yaml --replicates 2000 --seed 7 --out results/demo
      trialsim run scenarios/vk2_d3_2005.yaml --trace 0 --force
    """
    loaded = load_or_exit(scenario)
    from trialsim.run.outputs import OutputFolderError
    from trialsim.run.resume import ResumeError, earlier_run

    folder = out or Path("results") / loaded.spec.name
    total = loaded.spec.simulation.replicates if replicates is None else replicates
    chosen_seed = loaded.spec.simulation.seed if seed is None else seed
    if trace is not None and trace >= total:
        fail([f"--trace {trace}: there are {total} replicates, 0 to {total - 1}"], EXIT_INVALID)
    try:
        earlier = None if force else earlier_run(folder, loaded, total, chosen_seed, replicates_csv)
    except (ResumeError, OutputFolderError) as err:
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
            replace=force or earlier is not None,
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
    replace: bool,
) -> None:
    from trialsim.cli.early import take_figure_process
    from trialsim.report.background import BackgroundFigures
    from trialsim.run.backends import available_cores

    # Forked when the command started (or now): it imports matplotlib meanwhile.
    figure_workers = BackgroundFigures(available_cores() > 1, started=take_figure_process())

    import shutil
    from contextlib import ExitStack

    from rich.console import Console

    from trialsim.cli.progress import point_progress
    from trialsim.model.plan import compile_plan
    from trialsim.planning.summary import summarise
    from trialsim.report.html import render_report
    from trialsim.report.tables import (
        adverse_event_table,
        endpoint_table,
        enrollment_table,
        estimate_table,
    )
    from trialsim.run.outputs import ReplicatesCsv, StagedFolder, trace_csv
    from trialsim.run.records import RecordLayout
    from trialsim.run.resume import REPLICATES, REPLICATES_CSV, TALLY, TRACE, TRACE_CSV
    from trialsim.run.runner import run_trials, trace_replicate
    from trialsim.run.tally import tally_npz

    # A grown run replaces the folder it grows, whole, once everything is written.
    with (
        figure_workers,
        StagedFolder(folder, force=replace, command="trialsim run") as staged,
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
        files = {"summary.json": summary.to_json().encode(), TALLY: tally_npz(result.tally)}
        figures = figure_workers.collect()
        files.update(figures)
        files["report.html"] = render_report(summary, figures).encode()
        if trace is None and earlier is not None and earlier.trace is not None:
            trace = earlier.trace
            shutil.copyfile(earlier.folder / TRACE_CSV, staged.path / TRACE_CSV)
        elif trace is not None:
            files[TRACE_CSV] = trace_csv(trace_replicate(loaded, trace, result.seed))
        staged.write(files)
        staged.commit({REPLICATES: result.replicates} | ({} if trace is None else {TRACE: trace}))
    if quiet:
        return
    console = Console()
    console.print(endpoint_table(summary))
    console.print(estimate_table(summary))
    console.print(enrollment_table(summary))
    events = adverse_event_table(summary)
    if events is not None:
        console.print(events)
    for endpoint_id, endpoint in summary.endpoints.items():
        for warning in endpoint.warnings:
            console.print(f"[bold yellow]warning[/]: {endpoint_id}: {warning}", highlight=False)
    grown = "" if earlier is None else f" (grown from {earlier.replicates})"
    written = ", ".join(sorted(path.name for path in folder.iterdir()))
    console.print(
        f"{result.replicates} replicates{grown} × 2 worlds, seed {result.seed}, "
        f"{result.jobs} jobs, {result.elapsed_seconds:.1f} s → {folder}/ ({written})"
    )
