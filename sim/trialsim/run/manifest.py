"""An output folder's ``manifest.json``: the files trialsim wrote there, with sizes and SHA-256.

trialsim replaces or grows a folder only when every file in it is one the
manifest lists (and, before replacing or growing, unchanged since it was
written), so a file trialsim did not write is never deleted and a damaged
run is never grown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialsim import __version__

MANIFEST = "manifest.json"
FORMAT = "trialsim output folder"
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    """What a file holds, in short.

    Attributes
    ----------
    size : int
        Bytes.
    sha256 : str
        Hex digest of the bytes.
    lines : int
        Newline characters (the rows of a CSV file, header included).
    """

    size: int
    sha256: str
    lines: int = 0


@dataclass(frozen=True)
class Manifest:
    """The files trialsim wrote into a folder, and how many replicates they hold.

    Attributes
    ----------
    files : dict of str to FileDigest
        File name to its digest when written.
    counts : dict of str to int
        Counts the files must agree with (``replicates``; ``trace``, the replicate traced).
    command : str
        The command that wrote the folder, e.g. ``"trialsim run"``.
    version : str
        The trialsim version that wrote it.
    """

    files: dict[str, FileDigest]
    counts: dict[str, int] = field(default_factory=dict)
    command: str = ""
    version: str = __version__

    def owns(self, name: str) -> bool:
        """Whether ``name`` (in the folder) is a file trialsim wrote: listed, or the manifest."""
        return name == MANIFEST or name in self.files


def digest(path: Path) -> FileDigest:
    """Size, SHA-256 and newline count of the file at ``path``, read in 1 MiB chunks.

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    sha256, size, lines = hashlib.sha256(), 0, 0
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            sha256.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    return FileDigest(size, sha256.hexdigest(), lines)


def manifest_json(
    folder: Path, command: str, counts: dict[str, int], skip: frozenset[str]
) -> bytes:
    """``manifest.json`` content listing every file in ``folder`` but those in ``skip``.

    Parameters
    ----------
    folder : Path
        The folder, complete but for its manifest.
    command : str
        The command that wrote it, e.g. ``"trialsim run"``.
    counts : dict of str to int
        Counts to record (see :class:`Manifest`).
    skip : frozenset of str
        Names that are not part of the results (a staging marker).
    """
    files = {
        path.name: digest(path)
        for path in sorted(folder.iterdir())
        if path.name not in skip and path.name != MANIFEST
    }
    document = {
        "format": FORMAT,
        "trialsim_version": __version__,
        "command": command,
        "counts": counts,
        "files": {name: {"bytes": d.size, "sha256": d.sha256} for name, d in files.items()},
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest of ``folder``, or None if it has none trialsim could have written."""
    try:
        document: Any = json.loads((folder / MANIFEST).read_bytes())
        if document["format"] != FORMAT:
            return None
        files = {
            str(name): FileDigest(int(entry["bytes"]), str(entry["sha256"]))
            for name, entry in document["files"].items()
        }
        counts = {str(key): int(value) for key, value in document["counts"].items()}
        return Manifest(files, counts, str(document["command"]), str(document["trialsim_version"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def foreign_names(folder: Path, manifest: Manifest | None) -> list[str]:
    """Entries of ``folder`` trialsim did not write (folders shown with a trailing ``/``)."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_symlink() or not path.is_file():
            found.append(f"{path.name}/" if path.is_dir() else path.name)
        elif manifest is None or not manifest.owns(path.name):
            found.append(path.name)
    return found


def verify_files(
    folder: Path, manifest: Manifest, missing_ok: bool
) -> tuple[dict[str, FileDigest], dict[str, str]]:
    """Compare the listed files with the manifest.

    Parameters
    ----------
    folder : Path
    manifest : Manifest
    missing_ok : bool
        Whether a listed file that is gone is fine (nothing of it to lose).

    Returns
    -------
    digests : dict of str to FileDigest
        The files as they are now.
    problems : dict of str to str
        Listed files that differ from the manifest: name to what is wrong with it.
    """
    digests, problems = {}, {}
    for name, recorded in manifest.files.items():
        path = folder / name
        if not path.exists():
            if not missing_ok:
                problems[name] = "missing"
            continue
        try:
            now = digests[name] = digest(path)
        except OSError as err:
            problems[name] = f"cannot be read ({err.strerror or err})"
            continue
        if now.size != recorded.size:
            problems[name] = f"holds {now.size} bytes where trialsim wrote {recorded.size}"
        elif now.sha256 != recorded.sha256:
            problems[name] = "changed since trialsim wrote it (its SHA-256 differs)"
    return digests, problems
