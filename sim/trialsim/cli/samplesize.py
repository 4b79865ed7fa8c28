"""``trialsim samplesize``: the smallest enrollment (or other value) that reaches a power."""

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

    from trialsim.planning.samplesize import SampleSizeSearch
    from trialsim.scenario.load import LoadedScenario
    from trialsim.scenario.problems import Problem

ENROLLMENT = "enrollment.patients"

EndpointId = Annotated[
    str, typer.Option("--endpoint", help="Endpoint id whose power is targeted.", show_default=False)
]
TargetPower = Annotated[
    float, typer.Option("--power", help="Target power, between 0 and 1.", show_default=False)
]
Vary = Annotated[str, typer.Option(help="The numeric scenario key searched.")]
Range = Annotated[
    str | None,
    typer.Option(
        "--range",
        metavar="LO:HI[:STEP]",
        show_default=False,
        help="Values searched, HI included (at most 1000) [default for enrollment.patients: "
        "a quarter to four times the scenario's].",
    ),
]
Alpha = Annotated[
    float | None,
    typer.Option(
        show_default=False,
        help="Largest type I error for a simon or bayes rule [default: 0.05]; "
        "rules with their own alpha use it.",
    ),
]
SampleSizeFolder = Annotated[
    Path | None,
    typer.Option(help="Output folder [default: results/<name>-samplesize].", file_okay=False),
]


def samplesize(
    scenario: ScenarioPath,
    endpoint: EndpointId,
    power: TargetPower,
    vary: Vary = ENROLLMENT,
    range_: Range = None,
    alpha: Alpha = None,
    replicates: Replicates = None,
    seed: Seed = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    out: SampleSizeFolder = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Smallest enrollment (or other --vary key) reaching a power, type I error <= alpha.

    Dropout, non-evaluable patients, re-registration and accrual limits count as
    in `trialsim run`. Where the exact engine applies, every value is screened
    exactly and the answer confirmed by simulation; elsewhere the search
    simulates a coarse grid and refines it (same seed at every value). Reports
    the minimal value and the conservative one (every larger value qualifies
    too: power is saw-toothed in N). Writes samplesize.json, samplesize.csv and
    power.png.

    \b
    Examples:
      trialsim samplesize scenarios/vk2_d3_2005.yaml --endpoint vk2_response --power 0.8 --range 20:120 --replicates 500
      trialsim samplesize scenarios/followup_calendar_cut.yaml --endpoint vk2_response --power 0.6 --range 20:80 --replicates 200
    """  # noqa: E501 - example command lines are kept whole
    loaded = load_or_exit(scenario)
    from trialsim.planning.api import default_search_values, search_alpha
    from trialsim.planning.samplesize import MAX_SEARCH_VALUES
    from trialsim.run.outputs import write_folder
    from trialsim.scenario.grid_values import Setting, parse_values
    from trialsim.scenario.problems import ScenarioError
    from trialsim.scenario.variation import scenario_grid

    spec = loaded.spec
    problems = _option_problems(loaded, endpoint, power, alpha)
    if problems:
        fail([str(problem) for problem in problems], EXIT_INVALID)
    alpha = search_alpha(loaded, endpoint, alpha)
    range_ = range_ or default_search_values(loaded, vary)
    if range_ is None:
        fail([f"--range: {vary}: give the values to search as LO:HI or LO:HI:STEP"], EXIT_INVALID)
    try:
        values = parse_values(range_, "--range", vary, MAX_SEARCH_VALUES)
        points = scenario_grid(
            loaded, [Setting(vary, values)], "--vary", "--range", MAX_SEARCH_VALUES
        )
    except ScenarioError as err:
        fail([str(problem) for problem in err.problems], EXIT_INVALID)
    folder = usable_output_folder(out or Path("results") / f"{spec.name}-samplesize", force)
    from trialsim.cli.progress import point_progress
    from trialsim.planning.samplesize import find_sample_size
    from trialsim.report.grid_files import samplesize_files

    with failing_cleanly(), point_progress("simulating", None, quiet) as on_point:
        search = find_sample_size(
            loaded,
            points,
            endpoint,
            power,
            alpha,
            replicates,
            seed,
            jobs,
            on_point,
            scheduler=scheduler,
        )
        files = samplesize_files(search)
        write_folder(folder, files, force, "trialsim samplesize")
    if quiet:
        return
    from rich.console import Console

    console = Console()
    console.print(_answer_table(search))
    for line in _notes(search):
        console.print(line)
    console.print(f"{search.elapsed_seconds:.1f} s → {folder}/ ({', '.join(sorted(files))})")


def _option_problems(
    loaded: LoadedScenario, endpoint: str, power: float, alpha: float | None
) -> list[Problem]:
    from trialsim.planning.samplesize import rule_alpha
    from trialsim.scenario.problems import Problem

    ids = [e.id for e in loaded.spec.endpoints]
    problems = []
    if endpoint not in ids:
        message = f"the scenario has no such endpoint; endpoints: {', '.join(ids)}"
        problems.append(
            Problem("--endpoint", None, "endpoints", "unknown_endpoint", message, endpoint)
        )
    elif alpha is not None and rule_alpha(loaded.spec, endpoint) is not None:
        message = "this endpoint's rule has its own alpha: change it in the scenario"
        problems.append(Problem("--alpha", None, "rule.alpha", "alpha_of_rule", message, alpha))
    if not 0 < power < 1:
        problems.append(
            Problem("--power", None, "power", "probability", "give 0 < power < 1", power)
        )
    if alpha is not None and not 0 < alpha < 1:
        problems.append(
            Problem("--alpha", None, "alpha", "probability", "give 0 < alpha < 1", alpha)
        )
    return problems


def _answer_table(search: SampleSizeSearch) -> Table:
    from rich.table import Table

    how = "exact screen, simulated check" if search.method == "exact" else "SIMULATED"
    table = Table(
        title=f"{search.endpoint}: {search.key} for power ≥ {search.power:g} "
        f"with type I error ≤ {search.alpha:g} ({how})"
    )
    table.add_column("")
    answers = {"minimal": search.answer(search.minimal)}
    answers["conservative"] = search.answer(search.conservative)
    for name in answers:
        table.add_column(name, justify="right")
    rows = (
        (search.key, lambda a: f"{a['value']:g}"),
        ("power, exact", lambda a: _number(a["power_exact"])),
        ("power, simulated [95% MC]", lambda a: _interval(a["power"], a["power_interval"])),
        ("type I, exact", lambda a: _number(a["type1_error_exact"])),
        (
            "type I, simulated [95% MC]",
            lambda a: _interval(a["type1_error"], a["type1_error_interval"]),
        ),
        ("registered (mean)", lambda a: _number(a["registered_mean"], 1)),
        ("weeks to analysis (mean)", lambda a: _number(a["analysis_weeks_mean"], 1)),
    )
    for label, shown in rows:
        table.add_row(label, *(shown(a) if a else "none in range" for a in answers.values()))
    return table


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _interval(value: float | None, interval: tuple[float, float] | None) -> str:
    if value is None or interval is None:
        return "—"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def _notes(search: SampleSizeSearch) -> list[str]:
    """What the answer rests on, and what to do when it is not in the range."""
    values = [row.settings[search.key] for row in search.rows]
    low, high = values[0], values[-1]
    simulation = f"{search.replicates} trials per world, seed {search.seed} at every value"
    if search.method == "exact":
        notes = [
            f"Exact screen of {len(values)} values of {search.key} from {low:g} to {high:g}; "
            f"answers confirmed by simulation ({simulation})."
        ]
    else:
        notes = [
            "The answer is SIMULATED: the exact engine gives no value for this design "
            "(calendar cutoff, stage caps, Beta priors or an interim-monitoring rule). "
            f"{len(values)} values of {search.key} from {low:g} to {high:g} simulated "
            f"({simulation}). Values whose power lies within the Monte Carlo error of the "
            "target are uncertain; more --replicates narrow the interval."
        ]
        for name, value in (("minimal", search.minimal), ("conservative", search.conservative)):
            answer = search.answer(value)
            if answer is not None and answer["target_within_mc_interval"]:
                notes.append(
                    f"Uncertain: the target lies inside the 95% Monte Carlo interval of the "
                    f"power at the {name} value {value:g}."
                )
    if search.minimal is None:
        notes.append(
            f"No value of {search.key} from {low:g} to {high:g} reaches power {search.power:g} "
            f"with type I error ≤ {search.alpha:g}: {search.shortfall()}. Widen --range"
            + ("." if search.method == "exact" else ", or add --replicates.")
        )
    elif search.conservative is None:
        notes.append(
            f"Power falls below the target again at the top of the range ({high:g}): "
            "no conservative value in range; widen --range."
        )
    if search.minimal is not None and search.minimal == low:
        notes.append("The minimal value is the start of the range: smaller values may qualify.")
    return notes
