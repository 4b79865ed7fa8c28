"""``trialsim design simon`` and ``trialsim design single``: exact phase II designs."""

from __future__ import annotations

from typing import Annotated

import typer

from trialsim.cli.support import EXIT_INVALID, fail

design_app = typer.Typer(
    help="Exact phase II designs: Simon two-stage and exact one-stage.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


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
