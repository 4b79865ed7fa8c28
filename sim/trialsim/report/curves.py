"""Operating-characteristic curves: power or type I error against a varied value.

Exact values are drawn as lines, simulated ones as points with ±2 Monte Carlo
standard-error bars. Like :mod:`trialsim.report.plots`, each plotting function takes an
optional matplotlib ``Axes`` and returns it, and matplotlib is imported inside
the functions only.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from trialsim.planning.grid import GridRow
from trialsim.report.canvas import PNG_OPTIONS, set_title
from trialsim.report.plots import ALTERNATIVE_COLOUR, DPI, NULL_COLOUR, new_axes
from trialsim.scenario.grid_values import Number

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Measure = Literal["power", "type1_error"]
MEASURE_LABELS = {"power": "power", "type1_error": "type I error"}
MEASURE_COLOURS = {"power": ALTERNATIVE_COLOUR, "type1_error": NULL_COLOUR}
MARK_STYLES = (":", "-.")
ERROR_BAR_SES = 2
PANEL_INCHES = (5.6, 3.4)
DODGE_SHARE = 0.08
DOTTED_LINE_POINTS = 120  # exact lines with fewer points mark each value


def plot_operating_curve(
    rows: Sequence[GridRow],
    key: str,
    endpoint: str,
    measure: Measure = "power",
    by: Sequence[str] = (),
    target: float | None = None,
    marks: Mapping[str, Number] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One endpoint's power (or type I error) against the value of ``key``.

    Parameters
    ----------
    rows : sequence of GridRow
        From :func:`trialsim.planning.grid.evaluate_grid`.
    key : str
        The varied key on the x-axis.
    endpoint : str
        Endpoint id.
    measure : {"power", "type1_error"}
    by : sequence of str
        Other varied keys: one line per combination of their values.
    target : float, optional
        Dashed horizontal line: the target power, or alpha.
    marks : mapping of str to number, optional
        Dotted vertical lines at named values, e.g. ``{"minimal": 64}``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        x: the key's value; y: probability of rejecting H0.

    Examples
    --------
    >>> from trialsim import load_scenario
    >>> from trialsim.planning.sweep import run_sweep
    >>> from trialsim.scenario.grid_values import parse_setting
    >>> from trialsim.scenario.variation import scenario_grid
    >>> base = load_scenario("scenarios/vk2_d3_2005.yaml")
    >>> points = scenario_grid(base, [parse_setting("stages.vk2.response=0.1:0.3:0.1")])
    >>> rows = run_sweep(base, points, replicates=100, jobs=1).rows
    >>> plot_operating_curve(rows, "stages.vk2.response", "vk2_response").get_xlabel()
    'stages.vk2.response'
    """
    from matplotlib import colormaps

    ax = new_axes(ax)
    groups: dict[tuple[Number, ...], list[GridRow]] = {}
    for row in rows:
        groups.setdefault(tuple(row.settings[k] for k in by), []).append(row)
    palette = colormaps["viridis"]
    dodge = _dodge_step(rows, key, len(groups))
    highest = 0.0
    for number, (values, group) in enumerate(groups.items()):
        colour = (
            MEASURE_COLOURS[measure]
            if len(groups) == 1
            else palette(0.9 * number / (len(groups) - 1))
        )
        name = ", ".join(f"{k} = {v:g}" for k, v in zip(by, values, strict=True))
        shift = dodge * (number - (len(groups) - 1) / 2)
        highest = max(highest, _draw_group(ax, group, key, endpoint, measure, colour, name, shift))
    if target is not None:
        highest = max(highest, target)
        label = f"target {target:g}" if measure == "power" else f"alpha {target:g}"
        ax.axhline(target, color="0.35", linestyle="--", linewidth=1.1, label=label)
    for (label, value), style in zip((marks or {}).items(), MARK_STYLES, strict=False):
        ax.axvline(value, color="0.2", linestyle=style, linewidth=1.2, label=f"{label}: {value:g}")
    ax.set_xlabel(key)
    ax.set_ylabel(MEASURE_LABELS[measure])
    top = 1.02 if measure == "power" else min(1.02, max(highest * 1.25, 0.01))
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    set_title(ax, f"{endpoint}: {MEASURE_LABELS[measure]}", fontsize="medium")
    ax.legend(fontsize="x-small", frameon=False, loc="best")
    return ax


def _draw_group(
    ax: Axes,
    rows: list[GridRow],
    key: str,
    endpoint: str,
    measure: Measure,
    colour: object,
    name: str,
    shift: float,
) -> float:
    """Draw one line of exact values and its simulated points; return the highest y.

    The points are shifted right by ``shift`` (x units) so that groups do not hide
    each other's error bars.
    """
    rows = sorted(rows, key=lambda row: row.settings[key])
    outcomes = [row.endpoints[endpoint] for row in rows]
    x = [row.settings[key] for row in rows]
    exact = [_or_nan(getattr(o, f"{measure}_exact")) for o in outcomes]
    highest = max((y for y in exact if not math.isnan(y)), default=0.0)
    has_exact = any(not math.isnan(y) for y in exact)
    if has_exact:
        dots = "." if len(x) <= DOTTED_LINE_POINTS else None
        ax.plot(x, exact, color=colour, linewidth=1.6, marker=dots, label=name or "exact")
    simulated = [
        (xi, o) for xi, o in zip(x, outcomes, strict=True) if getattr(o, measure) is not None
    ]
    if simulated:
        y = [getattr(o, measure) for _, o in simulated]
        bars = [ERROR_BAR_SES * getattr(o, f"{measure}_se") for _, o in simulated]
        highest = max(highest, *(yi + bar for yi, bar in zip(y, bars, strict=True)))
        points_label = (None if has_exact else name) if name else f"simulated ± {ERROR_BAR_SES} SE"
        ax.errorbar(
            [xi + shift for xi, _ in simulated],
            y,
            yerr=bars,
            fmt="o",
            markersize=3.5,
            capsize=2,
            elinewidth=1,
            color=colour,
            label=points_label,
        )
    return highest


def _dodge_step(rows: Sequence[GridRow], key: str, groups: int) -> float:
    """Shift between neighbouring groups' points: a small share of the x spacing."""
    values = sorted({row.settings[key] for row in rows})
    if groups < 2 or len(values) < 2:
        return 0.0
    spacing = min(b - a for a, b in zip(values, values[1:], strict=False))
    return DODGE_SHARE * spacing / (groups - 1)


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def curves_png(
    rows: Sequence[GridRow],
    key: str,
    endpoints: Sequence[str],
    by: Sequence[str] = (),
    power_target: float | None = None,
    alphas: Mapping[str, float | None] | None = None,
    marks: Mapping[str, Number] | None = None,
    title: str = "",
) -> bytes:
    """A PNG with one row of panels per endpoint: power, and type I error.

    Parameters
    ----------
    rows, key, by, marks
        As for :func:`plot_operating_curve`.
    endpoints : sequence of str
        Endpoint ids, one row of panels each.
    power_target : float, optional
        Target line on the power panels.
    alphas : mapping of str to float or None, optional
        Each endpoint's alpha: the target line on its type I error panel.
    title : str
        Figure title.

    Returns
    -------
    bytes
        The PNG file.
    """
    from matplotlib.figure import Figure

    width, height = PANEL_INCHES
    figure = Figure(figsize=(2 * width, height * len(endpoints) + 0.5), layout="constrained")
    axes = figure.subplots(len(endpoints), 2, squeeze=False)
    for (power_ax, size_ax), endpoint in zip(axes, endpoints, strict=True):
        plot_operating_curve(rows, key, endpoint, "power", by, power_target, marks, power_ax)
        alpha = (alphas or {}).get(endpoint)
        plot_operating_curve(rows, key, endpoint, "type1_error", by, alpha, marks, size_ax)
    note = f"lines: exact; points: simulated ± {ERROR_BAR_SES} Monte Carlo SE"
    figure.suptitle(f"{title}\n{note}" if title else note, fontsize="medium")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs=PNG_OPTIONS)
    return buffer.getvalue()
