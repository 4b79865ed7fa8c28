"""Write a run's files: whole or not at all, never over earlier results by accident.

Files are written into a hidden folder beside the target and moved into place
only when all of them are complete. With ``force``, an existing folder is
replaced only at that last step, so an interrupted run leaves it as it was.
"""

from __future__ import annotations

import csv
import functools
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

from trialsim.run.records import WORLDS, RecordLayout


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
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputFolderError(f"{parent} is a file, not a folder")
            break
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise OutputFolderError(
            f"{folder} already holds results; "
            "use --force to replace them or --out for another folder"
        )


class StagedFolder:
    """A hidden folder beside ``folder`` that becomes ``folder`` on :meth:`commit`, whole.

    Use as a context manager: leaving it without a commit (an error, Ctrl-C)
    deletes the staging folder and leaves ``folder`` as it was.

    Parameters
    ----------
    folder : Path
        Target folder; created with its parents if missing.
    force : bool
        Replace an existing non-empty folder.

    Raises
    ------
    OutputFolderError
        If the folder holds results and ``force`` is false, or it cannot be written.
    """

    def __init__(self, folder: Path, force: bool):
        check_output_folder(folder, force)
        self.folder = folder
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        except OSError as err:
            raise OutputFolderError(
                f"cannot write to {folder.parent}: {err.strerror or err}"
            ) from None
        self._committed = False

    def __enter__(self) -> StagedFolder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if not self._committed:
            shutil.rmtree(self.path, ignore_errors=True)
        if isinstance(error, OSError):
            raise OutputFolderError(
                f"cannot write {self.folder}: {error.strerror or error}"
            ) from None

    def write(self, files: dict[str, bytes]) -> None:
        """Write ``files`` (name -> content) into the staging folder."""
        for name, content in files.items():
            (self.path / name).write_bytes(content)

    def commit(self) -> None:
        """Move the staging folder into place, replacing ``folder`` if it exists."""
        _swap_into_place(self.path, self.folder)
        self._committed = True


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
    with StagedFolder(folder, force) as staged:
        staged.write(files)
        staged.commit()
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


class ReplicatesCsv:
    """``replicates.csv`` written chunk by chunk: one row per replicate and world.

    Parameters
    ----------
    path : Path
        The file; created with a header, or appended to when ``append``.
    layout : RecordLayout
        The record columns (the ``world`` column is written by name).
    append : bool
        Continue an existing file (its header already written).

    Attributes
    ----------
    rows_of : callable
        Formats records as this file's rows (picklable, so it can run where the
        records are made); the writer appends what it returns.
    """

    def __init__(self, path: Path, layout: RecordLayout, append: bool = False):
        self.rows_of = functools.partial(csv_rows, layout)
        self._file = path.open("a" if append else "w", encoding="utf-8", newline="")
        if not append:
            names = [name for name in layout.columns if name != "world"]
            self._file.write(",".join(["world", *names]) + "\n")

    def __enter__(self) -> ReplicatesCsv:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def __call__(self, rows: str) -> None:
        """Append rows formatted by :attr:`rows_of` (:func:`csv_rows` of this layout)."""
        self._file.write(rows)


def csv_rows(layout: RecordLayout, records: np.ndarray) -> str:
    """The ``replicates.csv`` lines of ``records`` (shape (rows, columns)), world named."""
    world = layout.position["world"]
    numeric = [i for i in range(len(layout.columns)) if i != world]
    buffer = io.StringIO()
    np.savetxt(buffer, records[:, numeric], fmt="%.10g", delimiter=",")
    names = [WORLDS[int(w)] for w in records[:, world]]
    lines = buffer.getvalue().splitlines()
    return "".join(f"{name},{line}\n" for name, line in zip(names, lines, strict=True))


def trace_csv(rows: Iterable[tuple[Any, ...]]) -> bytes:
    """``trace.csv`` content: the event log of one replicate."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("world", "week", "patient", "stage", "event", "detail"))
    for world, week, patient, stage, event, detail in rows:
        writer.writerow((world, f"{week:.2f}", patient, stage, event, detail))
    return buffer.getvalue().encode()
