"""HTML building blocks of the run and comparison reports.

Number formatting (fixed decimals, ± one Monte Carlo standard error, "—" for
missing values), escaped tables, figures embedded as ``data:`` URIs, and the
page with its inline style: a report loads nothing, so it can be mailed,
archived or opened offline. Every piece of text is HTML-escaped here.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Iterable, Mapping

MISSING = "—"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1d1d1f; margin: 2rem auto; max-width: 72rem; padding: 0 1.5rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d0d5;
     padding-bottom: 0.2rem; }
.subtitle { color: #55555a; margin-top: 0; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1.2rem; }
dl.run dt { color: #55555a; }
dl.run dd { margin: 0; }
code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 0.9em;
       word-break: break-all; }
table { border-collapse: collapse; margin: 0.6rem 0 0.4rem; font-size: 0.92rem; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #e3e3e8; text-align: right;
         vertical-align: top; }
th { background: #f4f4f7; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
td { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.exact { color: #3c4fa0; }
td.text { white-space: normal; text-align: left; min-width: 8rem; }
.scroll { overflow-x: auto; }
.note { color: #55555a; font-size: 0.88rem; max-width: 60rem; }
.reading { background: #f7f7fa; border-left: 3px solid #8a8fb5; padding: 0.6rem 1rem;
           max-width: 60rem; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e3e8; }
figcaption { color: #55555a; font-size: 0.88rem; }
@media print { body { margin: 0; max-width: none; } figure { break-inside: avoid; } }
"""

IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"<svg", "image/svg+xml"),
    (b"<?xml", "image/svg+xml"),
)


# ---------------------------------------------------------------- formatting


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None when it is missing or not a finite number."""
    if value is None or isinstance(value, bool):
        return None
    return value if math.isfinite(value) else None


def number(value: float | None, decimals: int, signed: bool = False) -> str:
    """A number with fixed decimals, or "—" when it is missing or not finite."""
    shown = finite(value)
    if shown is None:
        return MISSING
    if shown == 0:
        shown = 0.0  # no "-0.000"
    return f"{shown:+.{decimals}f}" if signed else f"{shown:.{decimals}f}"


def with_error(
    value: float | None, error: float | None, decimals: int, signed: bool = False
) -> str:
    """``value ± error`` (one Monte Carlo standard error); the error is left out when unknown."""
    shown = number(value, decimals, signed)
    if shown == MISSING or finite(error) is None:
        return shown
    return f"{shown} ± {number(error, decimals)}"


def probability(value: float | None) -> str:
    """A probability to three decimals."""
    return number(value, 3)


def weeks(value: float | None) -> str:
    """A time in weeks to one decimal."""
    return number(value, 1)


def text(value: object) -> str:
    """``value`` as escaped HTML text; None as "—"."""
    return html.escape(MISSING if value is None else str(value))


def html_table(
    header: Iterable[str], rows: Iterable[Iterable[str]], classes: Iterable[str] = ()
) -> str:
    """An HTML table; every cell is escaped here. ``classes`` name each column's CSS class."""
    column_classes = list(classes)
    head = "".join(f"<th>{text(cell)}</th>" for cell in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            css = column_classes[i] if i < len(column_classes) and column_classes[i] else ""
            attribute = f' class="{css}"' if css else ""
            cells.append(f"<td{attribute}>{text(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _image_type(data: bytes) -> str:
    for magic, mime in IMAGE_TYPES:
        if data.startswith(magic):
            return mime
    return "image/png"


def figure_section(figures: Mapping[str, bytes], caption: Callable[[str], str]) -> str:
    """A "Figures" section embedding each image as a ``data:`` URI, ``caption(name)`` below it."""
    if not figures:
        return ""
    parts = ["<h2>Figures</h2>"]
    for name, data in figures.items():
        encoded = base64.b64encode(data).decode("ascii")
        described = caption(name)
        parts.append(
            f'<figure><img src="data:{_image_type(data)};base64,{encoded}" '
            f'alt="{html.escape(described, quote=True)}">'
            f"<figcaption>{html.escape(described)} <code>{html.escape(name)}</code></figcaption>"
            "</figure>"
        )
    return "".join(parts)


def html_page(title: str, body: Iterable[str]) -> str:
    """A complete HTML document with this module's inline style.

    Parameters
    ----------
    title : str
        Plain text for the browser tab; escaped here.
    body : iterable of str
        HTML fragments, already escaped; empty ones are left out.
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{text(title)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )
