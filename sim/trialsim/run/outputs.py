"""Write a run's files: whole or not at all, and never over a file trialsim did not write.

Files are written into a hidden staging folder beside the target, flushed to
disk and moved into place only when all of them are complete, with a
``manifest.json`` listing them (:mod:`trialsim.run.manifest`). An existing
folder is replaced only with ``force`` and only if it holds nothing but the
unchanged files its manifest lists; it is swapped out at that last step, so
an interrupted run leaves it as it was. Staging folders left by a killed run
(recognised by their name and the marker file inside) are removed by the
next run to the same folder.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from trialsim.run.manifest import (
    MANIFEST,
    foreign_names,
    manifest_json,
    read_manifest,
    verify_files,
)
from trialsim.run.records import WORLDS, RecordLayout
from trialsim.run.staging import MARKER, fsync, marked_folder, remove_stale_folders, swap_into_place

SHOWN_NAMES = 5


class OutputFolderError(RuntimeError):
    """The output folder cannot be used (holds other results or files, or cannot be written)."""


def check_output_folder(folder: Path, force: bool, verify: bool = True) -> None:
    """Refuse a folder whose files trialsim may not replace.

    Refused: the root, home or current folder (or a parent of it) and mount
    points; a path that is a file or lies under one; a folder holding files
    trialsim did not write; one holding results, unless ``force``; with
    ``force`` and ``verify``, one whose files changed since trialsim wrote them.

    Stale staging folders a killed run left beside it are removed first
    (:func:`~trialsim.run.staging.remove_stale_folders`).

    Raises
    ------
    OutputFolderError
        Its message starts with ``folder`` and says what is wrong.
    """
    _refuse_special(folder)
    try:
        remove_stale_folders(folder)
    except OSError as err:
        raise OutputFolderError(f"{folder}: cannot clean up after a killed run: {err}") from None
    if folder.exists() and not folder.is_dir():
        raise OutputFolderError(f"{folder}: exists and is not a folder")
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputFolderError(f"{folder}: {parent} is a file, not a folder")
            break
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    manifest = read_manifest(folder)
    foreign = foreign_names(folder, manifest)
    if foreign:
        raise OutputFolderError(
            f"{folder}: holds files trialsim did not write ({_names(foreign)}); trialsim "
            "replaces only its own results: move them away or choose another --out"
        )
    if not force:
        raise OutputFolderError(
            f"{folder}: already holds results; "
            "use --force to replace them or --out for another folder"
        )
    if verify and manifest is not None:
        _, changed = verify_files(folder, manifest, missing_ok=True)
        if changed:
            name, problem = next(iter(changed.items()))
            raise OutputFolderError(
                f"{folder / name}: {problem}; trialsim replaces only files it wrote: "
                "move it away or choose another --out"
            )


def _refuse_special(folder: Path) -> None:
    place = folder.resolve()
    here = Path.cwd().resolve()
    try:
        home: Path | None = Path.home().resolve()
    except (KeyError, RuntimeError):
        home = None
    what = (
        "the root folder"
        if place == Path(place.anchor)
        else "the home folder"
        if place == home
        else "the current folder or one holding it"
        if place == here or place in here.parents
        else "a mount point"
        if os.path.ismount(place)
        else None
    )
    if what is not None:
        raise OutputFolderError(
            f"{folder}: is {what}; results go into a folder of their own, choose one with --out"
        )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return shown if more <= 0 else f"{shown} and {more} more"


class StagedFolder:
    """A hidden folder beside ``folder`` that becomes ``folder`` on :meth:`commit`, whole.

    Use as a context manager: leaving it without a commit (an error, Ctrl-C)
    deletes the staging folder and leaves ``folder`` as it was. The staging
    folder is made like any folder (permissions from the umask) and holds a
    marker file until the commit, by which a later run knows it for trialsim's.

    Parameters
    ----------
    folder : Path
        Target folder; created with its parents if missing.
    force : bool
        Replace an existing folder of trialsim's results.
    command : str
        The command writing the folder, e.g. ``"trialsim run"``, for its manifest.

    Raises
    ------
    OutputFolderError
        If the folder may not be replaced (:func:`check_output_folder`, without
        comparing checksums: the caller did that before a long run) or cannot be written.
    """

    def __init__(self, folder: Path, force: bool, command: str):
        check_output_folder(folder, force, verify=False)
        self.folder = folder
        self.force = force
        self.command = command
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            self.path = marked_folder(folder, "staging")
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

    def commit(self, counts: dict[str, int] | None = None) -> None:
        """Write the manifest, flush everything to disk and move the folder into place.

        Parameters
        ----------
        counts : dict of str to int, optional
            Counts the manifest records (see :class:`~trialsim.run.manifest.Manifest`).
        """
        skip = frozenset({MARKER})
        manifest = manifest_json(self.path, self.command, counts or {}, skip)
        (self.path / MANIFEST).write_bytes(manifest)
        for path in self.path.iterdir():
            if path.name not in skip:
                fsync(path)
        (self.path / MARKER).unlink()
        fsync(self.path)
        check_output_folder(self.folder, self.force, verify=False)
        swap_into_place(self.path, self.folder)
        self._committed = True
        fsync(self.folder.parent)


def write_folder(folder: Path, files: dict[str, bytes], force: bool, command: str) -> list[Path]:
    """Write ``files`` (name -> content) and their manifest as the whole content of ``folder``.

    Parameters
    ----------
    folder : Path
        Target folder; created with its parents if missing.
    files : dict of str to bytes
    force : bool
        Replace an existing folder of trialsim's results.
    command : str
        The command writing the folder, e.g. ``"trialsim sweep"``, for its manifest.

    Returns
    -------
    list of Path
        The files written (the manifest not counted).

    Raises
    ------
    OutputFolderError
        If the folder may not be replaced, or writing fails.
    """
    with StagedFolder(folder, force, command) as staged:
        staged.write(files)
        staged.commit()
    return [folder / name for name in files]


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
