"""The README's performance table, rendered from ``benchmarks/results.json``.

Owns the markdown between ``<!-- bench:start -->`` and ``<!-- bench:end -->``
in README.md: ``render_table`` turns a results dict written by
``benchmarks/bench.py`` into that markdown, ``replace_table`` puts it between
the markers, and ``tests/test_benchmarks.py`` checks that the committed README
holds exactly what ``render_table`` gives for the committed results, so a stale
table fails the tests.

Usage: python benchmarks/readme_table.py [--results PATH] [--write-readme]
(prints the table; with ``--write-readme``, also replaces it in README.md).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
README = ROOT / "README.md"
START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"
OPERATOR_SYMBOLS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}


def format_target(target: dict[str, Any]) -> str:
    """A target as the table shows it, e.g. ``≤ 1 s`` or ``≥ 1.8× faster``.

    Parameters
    ----------
    target : dict
        A target of the results: ``operator``, ``threshold`` and ``unit``
        (``"s"`` for seconds, else a ratio's unit such as ``"× 2005"``).

    Returns
    -------
    str
        The comparison, its threshold and unit.
    """
    symbol = OPERATOR_SYMBOLS[target["operator"]]
    unit = target["unit"]
    separator = " " if unit == "s" else ""
    return f"{symbol} {target['threshold']:g}{separator}{unit}"


def significant(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant figures, trailing zeros kept: 0.800, 0.0412, 225.

    Examples
    --------
    >>> [significant(v) for v in (0.8, 0.041234, 10.51, 225.4, 0.0)]
    ['0.800', '0.0412', '10.5', '225', '0']
    """
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def format_ratio(ratio: dict[str, Any]) -> str:
    """A ratio as the table shows it: ``0.420`` of the 2005 time, or ``1.80× faster``."""
    if ratio["kind"] == "speedup":
        return f"{significant(ratio['value'])}× faster"
    return significant(ratio["value"])


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row of cells per measurement, in the order measured.

    Parameters
    ----------
    results : dict
        The results dict (``measurements``, ``ratios``, ``targets``).

    Returns
    -------
    list of list of str
        Measurement, median, runs, ratio, target, result.
    """
    ratios = {ratio["row"]: ratio for ratio in results["ratios"]}
    targets = {target["row"]: target for target in results["targets"]}
    rows = []
    for measurement in results["measurements"]:
        row_id = measurement["id"]
        if measurement["available"]:
            median = significant(measurement["median"])
            runs = ", ".join(significant(sample) for sample in measurement["samples"])
        else:
            median, runs = "not available", ""
        ratio = format_ratio(ratios[row_id]) if row_id in ratios else ""
        target = targets.get(row_id)
        rows.append(
            [
                measurement["label"],
                median,
                runs,
                ratio,
                format_target(target) if target else "",
                target["status"] if target else "",
            ]
        )
    return rows


def render_table(results: dict[str, Any]) -> str:
    """The README's performance table (markdown) for a results dict.

    Parameters
    ----------
    results : dict
        As written by ``benchmarks/bench.py`` (see ``benchmarks/results.json``).

    Returns
    -------
    str
        A sentence naming the command, machine and date, the table, and a note
        on the ratio column; no trailing newline.
    """
    machine = results["machine"]
    settings = results["settings"]
    runs = settings["samples"]
    lines = [
        f"Measured by `python benchmarks/bench.py{' --quick' if results['quick'] else ''}` "
        f"on {machine['date']}: {machine['cores']} cores, Python {machine['python']}, "
        f"numpy {machine['numpy']}, numba {machine['numba']}; "
        f"median of {runs} run{'s' if runs != 1 else ''} in seconds "
        f"(load average {machine['load_average_start']:.2f} at the start, "
        f"{machine['load_average_end']:.2f} at the end).",
        "",
        "| measurement | median (s) | runs (s) | ratio | target | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(results)]
    lines += [
        "",
        "Ratio: the median over the 2005 scenario's whole-process median; for 2 workers, "
        "the speed-up over 1 worker. In-process rows time the simulation alone.",
    ]
    return "\n".join(lines)


def marked_block(readme_text: str) -> str:
    """The text strictly between the README's two markers, without surrounding newlines.

    Parameters
    ----------
    readme_text : str
        The README.

    Returns
    -------
    str
        What lies between ``<!-- bench:start -->`` and ``<!-- bench:end -->``.

    Raises
    ------
    ValueError
        If either marker is missing, repeated or out of order.
    """
    if readme_text.count(START_MARKER) != 1 or readme_text.count(END_MARKER) != 1:
        raise ValueError(f"README needs exactly one {START_MARKER} and one {END_MARKER}")
    start = readme_text.index(START_MARKER) + len(START_MARKER)
    end = readme_text.index(END_MARKER)
    if end < start:
        raise ValueError(f"{END_MARKER} comes before {START_MARKER}")
    return readme_text[start:end].strip("\n")


def replace_table(readme_text: str, table: str) -> str:
    """The README with ``table`` between the markers (one blank line either side).

    Parameters
    ----------
    readme_text : str
        The README.
    table : str
        Markdown to put between the markers.

    Returns
    -------
    str
        The README, unchanged outside the markers.
    """
    marked_block(readme_text)  # checks the markers
    before, rest = readme_text.split(START_MARKER)
    _, after = rest.split(END_MARKER)
    return f"{before}{START_MARKER}\n\n{table}\n\n{END_MARKER}{after}"


def write_readme(results_path: Path = RESULTS, readme_path: Path = README) -> str:
    """Replace the README's table by the one rendered from ``results_path``; return it.

    Raises
    ------
    ValueError
        If the results are from a ``--quick`` smoke run, which the README never shows.
    """
    results = json.loads(results_path.read_text())
    if results["quick"]:
        raise ValueError(f"{results_path} holds a --quick smoke run, not README material")
    table = render_table(results)
    readme_path.write_text(replace_table(readme_path.read_text(), table))
    return table


def main() -> None:
    """Print the table from a results file; with ``--write-readme``, also update README.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="results JSON")
    parser.add_argument(
        "--write-readme", action="store_true", help="replace the table in README.md"
    )
    args = parser.parse_args()
    if args.write_readme:
        print(write_readme(args.results))
    else:
        print(render_table(json.loads(args.results.read_text())))


if __name__ == "__main__":
    main()
