"""The hidden folders beside an output folder: made, flushed, swapped in, and cleaned after a kill.

A staging folder is named ``.<name>.staging-<8 hex>`` and a folder set aside
while being replaced ``.<name>.retired-<8 hex>``; each holds a marker file
naming the process and host that made it until it is done with. Only folders
with both the name and the marker, left by a process of this host that no
longer runs, are ever cleaned up by a later run; nothing else is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

from trialsim.run.manifest import read_manifest

MARKER = ".trialsim-staging"


def marked_folder(folder: Path, kind: str) -> Path:
    """A new folder ``.<name>.<kind>-<8 hex>`` beside ``folder``, holding the marker file.

    Made like any folder, so its permissions follow the umask.
    """
    while True:
        path = folder.parent / f".{folder.name}.{kind}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        owner = {"pid": os.getpid(), "host": socket.gethostname()}
        (path / MARKER).write_text(json.dumps(owner) + "\n", encoding="utf-8")
        return path


def fsync(path: Path) -> None:
    """Flush the file or folder at ``path`` to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_stale_folders(folder: Path) -> None:
    """Clean up the hidden folders of ``folder`` that a killed run left behind.

    A staging folder is deleted. A folder set aside while ``folder`` was being
    replaced is moved back if ``folder`` is missing (the run died between the
    two renames), else emptied of the files its manifest lists.
    """
    if not folder.parent.is_dir():
        return
    pattern = re.compile(rf"\.{re.escape(folder.name)}\.(staging|retired)-[0-9a-f]{{8}}")
    for path in folder.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match is None or path.is_symlink() or not _left_by_dead_run(path):
            continue
        if match.group(1) == "staging":
            shutil.rmtree(path, ignore_errors=True)
            continue
        if not folder.exists() and (path / folder.name).is_dir():
            os.replace(path / folder.name, folder)
        discard_retired(path, folder)


def _left_by_dead_run(path: Path) -> bool:
    try:
        owner = json.loads((path / MARKER).read_text(encoding="utf-8"))
        pid, host = int(owner["pid"]), str(owner["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def swap_into_place(staging: Path, folder: Path) -> None:
    """Move ``staging`` to ``folder``, setting an existing ``folder`` aside and discarding it."""
    if not folder.exists():
        os.replace(staging, folder)
        return
    retired = marked_folder(folder, "retired")
    os.replace(folder, retired / folder.name)
    try:
        os.replace(staging, folder)
    except BaseException:
        os.replace(retired / folder.name, folder)
        shutil.rmtree(retired, ignore_errors=True)
        raise
    discard_retired(retired, folder)


def discard_retired(retired: Path, folder: Path) -> None:
    """Delete the replaced results set aside in ``retired``: only files trialsim wrote.

    Anything else found there (put in while the run ran) goes back into
    ``folder`` if its name is free there, else stays where it is.
    """
    old = retired / folder.name
    if old.is_dir():
        manifest = read_manifest(old)
        for path in old.iterdir():
            if manifest is not None and manifest.owns(path.name) and _regular(path):
                path.unlink()
            elif not (folder / path.name).exists():
                os.replace(path, folder / path.name)
        try:
            old.rmdir()
        except OSError:
            return
    (retired / MARKER).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        retired.rmdir()


def _regular(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()
