"""The output folders of ``trialsim sweep`` and ``trialsim samplesize``.

Planning computes a :class:`~trialsim.planning.sweep.Sweep` or a
:class:`~trialsim.planning.samplesize.SampleSizeSearch`; this module turns
either into the files of its folder: the grid as CSV, the whole result as
JSON, and the power and type I error curves as PNG (drawn by
:func:`trialsim.report.curves.curves_png`).
"""

from __future__ import annotations

from trialsim.planning.grid import grid_csv
from trialsim.planning.samplesize import SampleSizeSearch
from trialsim.planning.sweep import Sweep, endpoint_alphas
from trialsim.report.curves import curves_png
from trialsim.run.outputs import summary_json


def sweep_files(sweep: Sweep) -> dict[str, bytes]:
    """``sweep.csv``, ``sweep.json`` and ``sweep.png`` of a sweep.

    Parameters
    ----------
    sweep : Sweep
        From :func:`trialsim.planning.sweep.run_sweep`.

    Returns
    -------
    dict of str to bytes
        File name to contents, for :func:`trialsim.run.outputs.write_folder`.
    """
    spec = sweep.scenario.spec
    return {
        "sweep.csv": grid_csv(sweep.rows, sweep.endpoints),
        "sweep.json": summary_json(sweep.as_dict()),
        "sweep.png": curves_png(
            sweep.rows,
            sweep.keys[0],
            sweep.endpoints,
            by=sweep.keys[1:],
            alphas=endpoint_alphas(sweep.scenario),
            title=f"{spec.name}: {sweep.replicates} simulated trials per point, seed {sweep.seed}",
        ),
    }


def samplesize_files(search: SampleSizeSearch) -> dict[str, bytes]:
    """``samplesize.json``, ``samplesize.csv`` and ``power.png`` of a search.

    Parameters
    ----------
    search : SampleSizeSearch
        From :func:`trialsim.planning.samplesize.find_sample_size`.

    Returns
    -------
    dict of str to bytes
        File name to contents, for :func:`trialsim.run.outputs.write_folder`.
    """
    marks = {"minimal": search.minimal, "conservative": search.conservative}
    if search.minimal == search.conservative:
        marks = {"minimal = conservative": search.minimal}
    how = "exact screen, simulated confirmation" if search.method == "exact" else "simulated"
    return {
        "samplesize.json": summary_json(search.as_dict()),
        "samplesize.csv": grid_csv(search.rows, [search.endpoint]),
        "power.png": curves_png(
            search.rows,
            search.key,
            [search.endpoint],
            power_target=search.power,
            alphas={search.endpoint: search.alpha},
            marks={name: value for name, value in marks.items() if value is not None},
            title=f"{search.scenario.spec.name}: {search.key} for power {search.power:g} ({how})",
        ),
    }
