"""Where a run's figures are drawn: sizes, colours, margins, new axes, PNG files.

matplotlib is imported inside the functions only.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trialsim.run.records import ALTERNATIVE, NULL

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 110
# zlib level 1 instead of Pillow's 6: files about 3% larger, encoding several times faster.
PNG_OPTIONS = {"compress_level": 1}
ALTERNATIVE_COLOUR = "#1f77b4"
NULL_COLOUR = "#e07b00"
BAND_QUANTILES = (0.05, 0.50, 0.95)
LARGEST_MARKER_AREA = 160.0  # points², for the most frequent (denominator, responders) pair
WORLD_IDS = (ALTERNATIVE, NULL)
MAX_GRID_WEEKS = 2000  # points of the registration curve, at most
LEGEND_HEADROOM = 1.45  # y-axis stretch that keeps the legend clear of the data
MARGINS_INCHES = {"left": 0.75, "right": 0.2, "bottom": 0.6, "top": 0.4}


def new_figure(width: float, height: float, shown: bool = False) -> Figure:
    """A figure with room for one axes, with fixed margins in inches.

    Fixed margins instead of a layout engine: drawing is about three times
    faster, and every figure of a run has the same plot area. A ``shown``
    figure is made by pyplot, so that Jupyter and ``plt.show()`` display it;
    the others are drawn straight to files.
    """
    if shown:
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(width, height))
    else:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=MARGINS_INCHES["left"] / width,
        right=1 - MARGINS_INCHES["right"] / width,
        bottom=MARGINS_INCHES["bottom"] / height,
        top=1 - MARGINS_INCHES["top"] / height,
    )
    return figure


def set_title(ax: Axes, text: str, **kwargs: Any) -> None:
    """Title ``ax`` at the top of its plot area (``kwargs`` as for ``Axes.set_title``).

    A fixed position: otherwise matplotlib measures every tick label to place
    the title, about a sixth of the time to draw a figure. These axes have
    nothing above the plot area, so the title lands where it would anyway.
    """
    ax.set_title(text, y=1.0, **kwargs)


def new_axes(ax: Axes | None) -> Axes:
    """``ax`` itself, or the axes of a new pyplot figure (shown by Jupyter and ``plt.show``)."""
    return ax if ax is not None else new_figure(6.4, 4.0, shown=True).add_subplot()


def figure_png(
    plot: Callable[..., Axes],
    *args: Any,
    width: float = 6.4,
    height: float = 4.0,
    dpi: int = DPI,
    **kwargs: Any,
) -> bytes:
    """Draw one plot on a new figure and return it as PNG.

    Parameters
    ----------
    plot : callable
        A plotting function (anything that accepts ``ax=``).
    *args, **kwargs
        Passed to ``plot``.
    width, height : float
        Figure size in inches.
    dpi : int
        Resolution in dots per inch.

    Returns
    -------
    bytes
        The PNG file.

    Examples
    --------
    >>> from trialsim.report.plots import plot_duration
    >>> png = figure_png(plot_duration, result)  # doctest: +SKIP
    """
    figure = new_figure(width, height)
    plot(*args, ax=figure.add_subplot(), **kwargs)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, pil_kwargs=PNG_OPTIONS)
    return buffer.getvalue()
