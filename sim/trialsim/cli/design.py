"""``trialsim design simon``, ``single`` and ``bop2``: exact phase II designs."""

from __future__ import annotations

from typing import Annotated

import typer

from trialsim.cli.support import EXIT_INVALID, fail

design_app = typer.Typer(
    help="Exact phase II designs: Simon two-stage, exact one-stage and BOP2.",
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


def _numbers(text: str, option: str, integer: bool = False) -> list[float]:
    """Comma-separated numbers, or a grid ``start:stop:step`` (both ends included)."""
    import numpy as np

    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = int(round((stop - start) / step)) + 1
            return np.round(start + step * np.arange(count), 10).tolist()
        values = [float(part) for part in text.split(",")]
    except ValueError:
        fail(
            [f"design bop2: {option} {text!r}: give numbers a,b,c or start:stop:step"], EXIT_INVALID
        )
    if integer and any(value != int(value) for value in values):
        fail([f"design bop2: {option} {text!r}: give whole numbers"], EXIT_INVALID)
    return values


@design_app.command("bop2")
def design_bop2(
    p0: NullRate,
    p1: AlternativeRate,
    n: Annotated[
        int,
        typer.Option("--n", min=2, max=1000, help="Evaluable patients in all.", show_default=False),
    ],
    looks: Annotated[
        str,
        typer.Option(help="Evaluable patients at the looks, e.g. 10,20,30.", show_default=False),
    ],
    alpha: Annotated[float, typer.Option(help="Largest type I error.")] = 0.10,
    lam: Annotated[
        float | None, typer.Option("--lambda", help="Give this lambda (with --gamma): no search.")
    ] = None,
    gamma: Annotated[float | None, typer.Option(help="Give this gamma (with --lambda).")] = None,
    lambdas: Annotated[str, typer.Option(help="lambda grid searched.")] = "0.50:0.99:0.01",
    gammas: Annotated[str, typer.Option(help="gamma grid searched.")] = "0:1:0.01",
    as_json: AsJson = False,
) -> None:
    """BOP2 (Zhou, Lee & Yuan 2017): Bayesian optimal futility monitoring, binary endpoint.

    At a look after n_k of N patients stop if P(p <= p0 | data) > 1 - lambda (n_k/N)^gamma;
    at N reject H0 if P(p > p0 | data) >= lambda (prior Beta(p0, 1 - p0)). The search keeps
    the (lambda, gamma) of the grid with the highest power and type I error <= alpha
    (exact: each distinct boundary table is enumerated once).

    \b
    Examples:
      trialsim design bop2 --p0 0.2 --p1 0.4 --n 40 --looks 10,20,30 --alpha 0.1
      trialsim design bop2 --p0 0.2 --p1 0.4 --n 40 --looks 10,20,30 --lambda 0.95 --gamma 1
      trialsim design bop2 --p0 0.1 --p1 0.3 --n 30 --looks 10,20 --alpha 0.05 --json
    """
    import json

    from trialsim.exact.bop2_design import bop2_design, find_bop2_design
    from trialsim.exact.designs import DesignError

    look_counts = [int(value) for value in _numbers(looks, "--looks", integer=True)]
    if (lam is None) != (gamma is None):
        fail(
            ["design bop2: give both --lambda and --gamma, or neither [lambda_gamma]"], EXIT_INVALID
        )
    try:
        if lam is not None and gamma is not None:
            design = bop2_design(p0, p1, n, look_counts, lam, gamma)
        else:
            design = find_bop2_design(
                p0,
                p1,
                n,
                look_counts,
                alpha,
                _numbers(lambdas, "--lambdas"),
                _numbers(gammas, "--gammas"),
            )
    except DesignError as err:
        fail([f"design bop2: {err} [{err.rule}]"], EXIT_INVALID)
    if as_json:
        searched = lam is None
        typer.echo(
            json.dumps(
                {"p0": p0, "p1": p1, "alpha": alpha if searched else None, "searched": searched}
                | {"design": design.as_dict()},
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    how = "given" if lam is not None else f"best of the grid, alpha <= {alpha}"
    table = Table(
        title=f"BOP2: p0 {p0}, p1 {p1}, N {n}, lambda {design.lam:g}, "
        f"gamma {design.gamma:g} ({how})"
    )
    table.add_column("after n evaluable", justify="right")
    table.add_column("decision", justify="left")
    for look in design.table.looks:
        most = look.futility_max
        table.add_row(str(look.n), "never stop" if most is None else f"stop if ≤ {most} respond")
    table.add_row(str(design.table.n), f"reject H0 if ≥ {design.table.final_min} respond")
    characteristics = Table(title="Exact characteristics")
    for header in ("rate", "P(reject H0)", "P(early stop)", "E(n)"):
        characteristics.add_column(header, justify="right")
    for name, rate, values in (("p0", p0, design.null), ("p1", p1, design.alternative)):
        characteristics.add_row(
            f"{name} = {rate:g}",
            f"{values.rejection:.4f}",
            f"{values.early_termination:.4f}",
            f"{values.expected_n:.1f}",
        )
    console = Console()
    console.print(table)
    console.print(characteristics)
