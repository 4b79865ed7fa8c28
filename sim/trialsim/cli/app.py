"""The ``trialsim`` command line: the app, its version option, ``validate`` and ``schema``.

The other commands live in their own modules of this package (the only
package that prints) and are registered here. Heavy modules (numpy,
pydantic, simpy, scipy, matplotlib) are imported inside the commands so that
``trialsim --help`` starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from trialsim import __version__
from trialsim.cli.compare import compare
from trialsim.cli.design import design_app
from trialsim.cli.run import run
from trialsim.cli.samplesize import samplesize
from trialsim.cli.support import ScenarioPath, load_or_exit
from trialsim.cli.sweep import sweep

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


# The other commands live in their own modules of this package; they are registered here.
app.command()(run)
app.command()(compare)
app.command()(samplesize)
app.command()(sweep)
app.add_typer(design_app, name="design")
