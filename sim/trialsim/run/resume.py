"""Grow an earlier run: add replicates to an output folder, continuing the same streams.

Replicate ``r`` always draws from seed stream ``(seed, r)``, so the replicates
added to a run of N are the ones a longer run would have had after its first N,
and the first N are left as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trialsim.model.plan import compile_plan
from trialsim.run.records import RecordLayout
from trialsim.run.tally import RunTally, read_tally
from trialsim.scenario.load import LoadedScenario

SUMMARY = "summary.json"
TALLY = "tally.npz"
REPLICATES_CSV = "replicates.csv"


class ResumeError(ValueError):
    """An output folder's results cannot be grown with the asked-for run."""


@dataclass(frozen=True)
class EarlierRun:
    """The results already in an output folder.

    Attributes
    ----------
    folder : Path
    tally : RunTally
        The tally of its replicates.
    seed : int
    """

    folder: Path
    tally: RunTally
    seed: int

    @property
    def replicates(self) -> int:
        """Replicates already simulated."""
        return self.tally.replicates

    @property
    def replicates_csv(self) -> Path:
        """Its per-replicate records."""
        return self.folder / REPLICATES_CSV


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
        Whether the grown run writes ``replicates.csv`` (the earlier one must have it).

    Raises
    ------
    ResumeError
        If the folder's run is of another scenario or seed, already has at
        least ``replicates`` replicates, or has no ``replicates.csv`` to continue.
    """
    summary_path, tally_path = folder / SUMMARY, folder / TALLY
    if not (summary_path.is_file() and tally_path.is_file()):
        return None
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        earlier_sha256, earlier_seed = summary["scenario"]["sha256"], summary["seed"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ResumeError(f"{summary_path}: cannot be read as a trialsim summary ({err})") from None
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
    except (OSError, ValueError, KeyError) as err:
        raise ResumeError(f"{tally_path}: cannot be read ({err})") from None
    if replicates <= tally.replicates:
        raise ResumeError(
            f"{folder} already holds {tally.replicates} replicates; raise --replicates to add "
            "more, or use --force to replace them"
        )
    if with_csv and not (folder / REPLICATES_CSV).is_file():
        raise ResumeError(
            f"{folder} has no {REPLICATES_CSV} to continue; add --no-replicates-csv, "
            "or use --force to start again"
        )
    return EarlierRun(folder, tally, seed)
