"""Write a run's files: whole or not at all, never over earlier results by accident.

Files are written into a hidden folder beside the target and moved into place
only when all of them are complete. With ``force``, an existing folder is
replaced only at that last step, so an interrupted run leaves it as it was.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from trialsim.records import WORLDS, RecordLayout


class OutputFolderError(RuntimeError):
    """The output folder cannot be used (exists and is not empty, or cannot be written)."""


def check_output_folder(folder: Path, force: bool) -> None:
    """Refuse a non-empty existing folder unless ``force``, and a folder that is a file.

    Raises
    ------
    OutputFolderError
    """
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise OutputFolderError(
            f"{folder} already holds results; "
            "use --force to replace them or --out for another folder"
        )


def write_folder(folder: Path, files: dict[str, bytes], force: bool) -> list[Path]:
    """Write ``files`` (name -> content) as the whole content of ``folder``.

    Parameters
    ----------
    folder : Path
        Target folder; created with its parents if missing.
    files : dict of str to bytes
    force : bool
        Replace an existing non-empty folder.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    OutputFolderError
        If the folder holds results and ``force`` is false, or writing fails.
    """
    check_output_folder(folder, force)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as err:
        raise OutputFolderError(f"cannot write to {folder.parent}: {err.strerror or err}") from None
    try:
        for name, content in files.items():
            (staging / name).write_bytes(content)
        _swap_into_place(staging, folder)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputFolderError(f"cannot write {folder}: {err.strerror or err}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [folder / name for name in files]


def _swap_into_place(staging: Path, folder: Path) -> None:
    if not folder.exists():
        os.replace(staging, folder)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
    os.replace(folder, retired / folder.name)
    try:
        os.replace(staging, folder)
    except BaseException:
        os.replace(retired / folder.name, folder)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def summary_json(summary: dict[str, Any]) -> bytes:
    """``summary.json`` content: NaN becomes null, so the file is strict JSON."""
    return (json.dumps(_finite(summary), indent=2) + "\n").encode()


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def replicates_csv(layout: RecordLayout, records: np.ndarray) -> bytes:
    """``replicates.csv`` content: one row per replicate and world, the world named."""
    world = layout.position["world"]
    numeric = [i for i in range(len(layout.columns)) if i != world]
    buffer = io.StringIO()
    np.savetxt(buffer, records[:, numeric], fmt="%.10g", delimiter=",")
    names = [WORLDS[int(w)] for w in records[:, world]]
    header = ",".join(["world", *(layout.columns[i] for i in numeric)])
    lines = buffer.getvalue().splitlines()
    rows = (f"{name},{line}" for name, line in zip(names, lines, strict=True))
    return "\n".join([header, *rows, ""]).encode()


def trace_csv(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """``trace.csv`` content: the event log of one replicate."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("world", "week", "patient", "stage", "event", "detail"))
    for world, week, patient, stage, event, detail in rows:
        writer.writerow((world, f"{week:.2f}", patient, stage, event, detail))
    return buffer.getvalue().encode()
