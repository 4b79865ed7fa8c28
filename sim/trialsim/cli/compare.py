"""``trialsim compare``: several scenarios under common random numbers, side by side.

Like every command module, imports nothing heavy at module level.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from string import ascii_uppercase
from typing import TYPE_CHECKING, Annotated

import typer

from trialsim.cli.support import (
    EXIT_INVALID,
    Force,
    Jobs,
    Quiet,
    Replicates,
    Scheduler,
    Seed,
    fail,
    failing_cleanly,
    usable_output_folder,
)

if TYPE_CHECKING:
    from rich.table import Table

    from trialsim.planning.comparison import Comparison
    from trialsim.scenario.load import LoadedScenario

ScenarioPaths = Annotated[
    list[Path],
    typer.Argument(
        help="Scenario YAML files (two or more); the first is the reference.",
        metavar="SCENARIO.yaml...",
        show_default=False,
        dir_okay=False,
    ),
]
Pairs = Annotated[
    list[str] | None,
    typer.Option(
        "--pair",
        help="Compare the reference's endpoint REF with the other scenarios' endpoint OTHER "
        "although their ids differ (repeatable). Both must be one-group tests, or both "
        "two-group comparisons.",
        metavar="REF=OTHER",
        show_default=False,
    ),
]
FOLDER_NAME_LIMIT = 60


def compare(
    scenarios: ScenarioPaths,
    replicates: Replicates = None,
    seed: Seed = None,
    jobs: Jobs = None,
    scheduler: Scheduler = None,
    pair: Pairs = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder [default: results/compare-<names>].", file_okay=False),
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Simulate scenarios with common random numbers and compare each with the first.

    Every scenario runs with the same seed and replicates (default: the first
    scenario's), so replicate r of each uses the same random numbers and the
    differences are paired: their Monte Carlo error is that of the per-trial
    differences. The scenarios run in lockstep, chunk by chunk, so memory does
    not grow with the replicates. Endpoints are compared by id; --pair REF=OTHER
    compares endpoints with different ids. Writes compare.json, figures (PNG) and report.html.

    \b
    Examples:
      trialsim compare scenarios/vk2_d3_2005.yaml scenarios/followup_capped.yaml
      trialsim compare scenarios/vk2_d3_2005.yaml scenarios/followup_capped.yaml --seed 7 --force
      trialsim compare scenarios/vk2_d3_2005.yaml scenarios/followup_itt.yaml --out results/itt
    """
    if len(scenarios) < 2:
        fail(
            [f"compare: needs at least two scenarios, got {len(scenarios)} [too_few_scenarios]"],
            EXIT_INVALID,
        )
    pairs = parse_pairs(pair or [])
    loaded = _load_all(scenarios)
    _check_pairs(loaded, pairs)
    folder = usable_output_folder(
        out or default_output_folder([scenario.spec.name for scenario in loaded]), force
    )
    with failing_cleanly():
        _compare(loaded, folder, replicates, seed, jobs, scheduler, pairs, force, quiet)


def parse_pairs(texts: Sequence[str]) -> dict[str, str]:
    """``["a=b", ...]`` as ``{"a": "b"}``; exit with code 2 on a malformed or repeated pair."""
    pairs: dict[str, str] = {}
    for text in texts:
        reference, sep, other = (part.strip() for part in text.partition("="))
        if not (sep and reference and other):
            fail([f"compare: --pair {text!r} is not REF=OTHER [bad_pair]"], EXIT_INVALID)
        if reference in pairs:
            fail([f"compare: --pair {reference}= given twice [bad_pair]"], EXIT_INVALID)
        pairs[reference] = other
    return pairs


def _load_all(paths: Sequence[Path]) -> list[LoadedScenario]:
    """Load every scenario, or print every problem of every file and exit with code 2."""
    from trialsim.rules.validation import load_scenario
    from trialsim.scenario.problems import ScenarioError

    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(load_scenario(path))
        except ScenarioError as err:
            problems += [str(problem) for problem in err.problems]
    if problems:
        fail(problems, EXIT_INVALID)
    return loaded


def _check_pairs(loaded: Sequence[LoadedScenario], pairs: dict[str, str]) -> None:
    """Exit with code 2 and one line if a pair names a missing endpoint or unlike endpoints."""
    from trialsim.model.plan import compile_plan
    from trialsim.planning.pairs import check_pairs

    try:
        check_pairs(
            [compile_plan(scenario.spec) for scenario in loaded],
            [scenario.spec.name for scenario in loaded],
            pairs,
        )
    except ValueError as err:
        fail([f"compare: {err} [bad_pair]"], EXIT_INVALID)


def default_output_folder(names: Sequence[str]) -> Path:
    """``results/compare-<name>-<name>...``: distinct names in order, cut to about 60 characters.

    Names that do not fit are counted instead: ``compare-a-b-and-3-more``.
    """
    distinct = list(dict.fromkeys(names))
    folder = "compare-" + "-".join(distinct)
    if len(folder) > FOLDER_NAME_LIMIT:
        kept = distinct[:1]
        for name in distinct[1:]:
            # room for the longest possible "-and-N-more"
            longer = "compare-" + "-".join([*kept, name]) + f"-and-{len(distinct)}-more"
            if len(longer) > FOLDER_NAME_LIMIT:
                break
            kept.append(name)
        folder = f"compare-{'-'.join(kept)}-and-{len(distinct) - len(kept)}-more"
    return Path("results") / folder


def _compare(
    loaded: Sequence[LoadedScenario],
    folder: Path,
    replicates: int | None,
    seed: int | None,
    jobs: int | None,
    scheduler: str | None,
    pairs: dict[str, str],
    force: bool,
    quiet: bool,
) -> None:
    from rich.console import Console

    from trialsim.cli.progress import point_progress
    from trialsim.planning.compare import compare as compare_scenarios
    from trialsim.report.compare_html import render_comparison_report
    from trialsim.report.compare_plots import comparison_figures
    from trialsim.run.outputs import write_folder

    total = loaded[0].spec.simulation.replicates if replicates is None else replicates
    with point_progress("simulating", total, quiet) as report:
        comparison = compare_scenarios(
            loaded, replicates, seed, jobs, scheduler, on_progress=report, pairs=pairs
        )
    figures = comparison_figures(comparison)
    files = {"compare.json": comparison.to_json().encode(), **figures}
    files["report.html"] = render_comparison_report(comparison, figures).encode()
    write_folder(folder, files, force, "trialsim compare")
    if quiet:
        return
    console = Console()
    console.print(_terminal_table(comparison))
    console.print(
        f"{len(comparison.scenarios)} scenarios × {comparison.replicates} replicates × 2 worlds, "
        f"seed {comparison.seed} → {folder}/ ({', '.join(sorted(files))})"
    )


def _terminal_table(comparison: Comparison) -> Table:
    """All rows of the comparison; scenarios are lettered A (the reference), B, ..."""
    from rich.table import Table
    from rich.text import Text

    from trialsim.report.compare_html import comparison_header, comparison_rows

    labels = comparison.labels
    letters = [_letter(index) for index in range(len(labels))]
    legend = [f"{letter} = {label}" for letter, label in zip(letters, labels, strict=True)]
    legend[0] += " (reference)"
    table = Table(
        title=f"Comparison ({comparison.replicates} replicates, common random numbers; "
        "± 1 Monte Carlo SE, differences paired)",
        caption=", ".join(legend),
    )
    for index, header in enumerate(comparison_header(letters, with_unpaired=False)):
        if index == 0:
            table.add_column(Text(header), overflow="fold")
        else:
            table.add_column(Text(header), justify="right")
    for section, rows in groupby(comparison_rows(comparison), key=lambda row: row.section):
        table.add_row(Text(section, style="bold"))
        for row in rows:
            table.add_row(*(Text(cell) for cell in row.cells(with_unpaired=False)))
    return table


def _letter(index: int) -> str:
    """A, B, ..., Z, then 27, 28, ...: short names for table columns."""
    return ascii_uppercase[index] if index < len(ascii_uppercase) else str(index + 1)
