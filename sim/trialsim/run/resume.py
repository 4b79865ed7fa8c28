"""Grow an earlier run: add replicates to an output folder, continuing the same streams.

Replicate ``r`` always draws from seed stream ``(seed, r)``, so the replicates
added to a run of N are the ones a longer run would have had after its first N,
and the first N are left as they were. Before growing, every file of the
earlier run is checked against its manifest (size, SHA-256) and the counts of
replicates in ``manifest.json``, ``summary.json``, ``tally.npz`` and
``replicates.csv`` must agree: a damaged folder is refused, never grown.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from trialsim.model.plan import compile_plan
from trialsim.run.manifest import Manifest, read_manifest, verify_files
from trialsim.run.outputs import check_output_folder
from trialsim.run.records import RecordLayout
from trialsim.run.tally import RunTally, read_tally
from trialsim.scenario.load import LoadedScenario

SUMMARY = "summary.json"
TALLY = "tally.npz"
REPLICATES_CSV = "replicates.csv"
TRACE_CSV = "trace.csv"
REPLICATES, TRACE = "replicates", "trace"


class ResumeError(ValueError):
    """An output folder's results cannot be grown with the asked-for run."""


@dataclass(frozen=True)
class EarlierRun:
    """The results already in an output folder, checked against their manifest.

    Attributes
    ----------
    folder : Path
    tally : RunTally
        The tally of its replicates.
    seed : int
    manifest : Manifest
        What trialsim wrote there.
    """

    folder: Path
    tally: RunTally
    seed: int
    manifest: Manifest

    @property
    def replicates(self) -> int:
        """Replicates already simulated."""
        return self.tally.replicates

    @property
    def replicates_csv(self) -> Path:
        """Its per-replicate records."""
        return self.folder / REPLICATES_CSV

    @property
    def trace(self) -> int | None:
        """The replicate its ``trace.csv`` traces, if it has one."""
        has_trace = TRACE_CSV in self.manifest.files and TRACE in self.manifest.counts
        return self.manifest.counts[TRACE] if has_trace else None


def earlier_run(
    folder: Path, scenario: LoadedScenario, replicates: int, seed: int, with_csv: bool
) -> EarlierRun | None:
    """The run in ``folder`` to grow to ``replicates``, or None if the folder holds no run.

    Parameters
    ----------
    folder : Path
    scenario : LoadedScenario
    replicates : int
        Replicates wanted in all.
    seed : int
    with_csv : bool
        Whether the grown run writes ``replicates.csv``: the earlier one must
        have it, and without it an earlier one is not dropped.

    Raises
    ------
    OutputFolderError
        If the folder holds files trialsim did not write
        (:func:`~trialsim.run.outputs.check_output_folder`).
    ResumeError
        If a file of the run differs from its manifest or the counts disagree;
        if the run is of another scenario or seed, already has at least
        ``replicates`` replicates, or has no ``replicates.csv`` to continue, or
        one that growing without it would drop.
    """
    check_output_folder(folder, force=True, verify=False)
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None or not {SUMMARY, TALLY} <= set(manifest.files):
        return None
    if REPLICATES not in manifest.counts:
        return None
    digests, problems = verify_files(folder, manifest, missing_ok=False)
    if problems:
        name, problem = next(iter(problems.items()))
        _refuse_damaged(folder, name, problem)
    count = manifest.counts[REPLICATES]
    summary_path, tally_path = folder / SUMMARY, folder / TALLY
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        earlier_sha256, earlier_seed = summary["scenario"]["sha256"], summary["seed"]
        summary_count = summary["replicates"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ResumeError(f"{summary_path}: cannot be read as a trialsim summary ({err})") from None
    if summary_count != count:
        _refuse_damaged(folder, SUMMARY, f"{summary_count} replicates, manifest says {count}")
    if REPLICATES_CSV in digests and digests[REPLICATES_CSV].lines != 1 + 2 * count:
        rows = digests[REPLICATES_CSV].lines - 1
        _refuse_damaged(folder, REPLICATES_CSV, f"{rows} rows, not {2 * count} (2 worlds)")
    if earlier_sha256 != scenario.sha256:
        raise ResumeError(
            f"{folder} holds results of another version of the scenario "
            f"(sha256 {str(earlier_sha256)[:12]}…, now {scenario.sha256[:12]}…); "
            "use --force to replace them or --out for another folder"
        )
    if earlier_seed != seed:
        raise ResumeError(
            f"{folder} holds results for seed {earlier_seed}, not {seed}; "
            "use --force to replace them or --out for another folder"
        )
    plan = compile_plan(scenario.spec)
    try:
        tally = read_tally(tally_path, plan, RecordLayout.for_plan(plan))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise ResumeError(f"{tally_path}: cannot be read as a trialsim tally ({err})") from None
    if tally.replicates != count:
        _refuse_damaged(folder, TALLY, f"{tally.replicates} replicates, manifest says {count}")
    if replicates <= tally.replicates:
        raise ResumeError(
            f"{folder} already holds {tally.replicates} replicates; raise --replicates to add "
            "more, or use --force to replace them"
        )
    if with_csv and REPLICATES_CSV not in manifest.files:
        raise ResumeError(
            f"{folder} has no {REPLICATES_CSV} to continue; add --no-replicates-csv, "
            "or use --force to start again"
        )
    if not with_csv and REPLICATES_CSV in manifest.files:
        raise ResumeError(
            f"{folder} has a {REPLICATES_CSV} of its {count} replicates that growing without "
            "it would drop; leave out --no-replicates-csv to continue it, "
            "or use --force to start again"
        )
    return EarlierRun(folder, tally, seed, manifest)


def _refuse_damaged(folder: Path, name: str, problem: str) -> NoReturn:
    raise ResumeError(
        f"{folder / name}: {problem}; the run in {folder} is damaged and cannot be grown: "
        "move the folder away or choose another --out"
    )
