"""What every ``trialsim`` command shares: argument types, loading, failing cleanly.

Imports nothing heavy, so that ``trialsim --help`` starts fast; commands
import numpy, pydantic and the rest inside their bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from trialsim.cli.exits import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_TERMINATED,
    Terminated,
)
from trialsim.scenario.limits import MAX_REPLICATES, MAX_SEED

if TYPE_CHECKING:
    from trialsim.scenario.load import LoadedScenario

ScenarioPath = Annotated[
    Path,
    typer.Argument(
        help="Scenario YAML file (- reads it from standard input).",
        metavar="SCENARIO.yaml",
        show_default=False,
        dir_okay=False,
        allow_dash=True,
    ),
]
Replicates = Annotated[
    int | None, typer.Option(min=1, max=MAX_REPLICATES, help="Simulated trials per world.")
]
Seed = Annotated[int | None, typer.Option(min=0, max=MAX_SEED, help="Base random seed.")]
Jobs = Annotated[
    int | None, typer.Option(min=1, max=1024, help="Worker processes [default: all cores].")
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace an output folder that holds trialsim's results (never other files).",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
Scheduler = Annotated[
    str | None,
    typer.Option(
        envvar="TRIALSIM_SCHEDULER",
        metavar="ADDRESS",
        show_default=False,
        help="Run the simulations on the workers of the Dask scheduler at ADDRESS, e.g. "
        'tcp://10.0.0.5:8786 (needs pip install "trialsim[dask]"); same numbers as a local run.',
    ),
]


def fail(lines: list[str], code: int) -> NoReturn:
    """Print ``lines`` to stderr and exit with ``code``."""
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def load_or_exit(path: Path) -> LoadedScenario:
    """Load and validate a scenario, or print its problems and exit with code 2."""
    from trialsim.rules.validation import load_scenario
    from trialsim.scenario.problems import ScenarioError

    try:
        return load_scenario(path)
    except ScenarioError as err:
        fail([str(problem) for problem in err.problems], EXIT_INVALID)


def usable_output_folder(folder: Path, force: bool) -> Path:
    """Return ``folder`` if results may be written there, else exit with code 2.

    See :func:`trialsim.run.outputs.check_output_folder`: trialsim replaces
    only its own unchanged results, and only with ``force``.
    """
    from trialsim.run.outputs import OutputFolderError, check_output_folder

    try:
        check_output_folder(folder, force)
    except OutputFolderError as err:
        fail([str(err)], EXIT_INVALID)
    return folder


@contextmanager
def failing_cleanly() -> Iterator[None]:
    """Turn a failed write or backend into exit code 1, Ctrl-C into 130 and SIGTERM into 143.

    One line on stderr. Output folders are written whole or not at all, so
    either way nothing is half-written and earlier results are kept.
    """
    from trialsim.run.backends import BackendError
    from trialsim.run.outputs import OutputFolderError

    try:
        yield
    except (OutputFolderError, BackendError) as err:
        fail([str(err)], EXIT_FAILURE)
    except KeyboardInterrupt:
        fail(["interrupted: nothing was written"], EXIT_INTERRUPTED)
    except Terminated:
        fail(["terminated: nothing was written"], EXIT_TERMINATED)
