"""Write tests/golden/summaries.json: the summaries of every shipped scenario for fixed seeds.

Run it only when a change to the numbers is deliberate (a new random stream layout, a
corrected model), and say so in the commit:

    python tests/golden/regenerate.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = HERE / "summaries.json"
REPLICATES = 1000
SEED = 20260101
VOLATILE = ("elapsed_seconds", "jobs", "trialsim_version")


def golden_summary(path: Path) -> dict[str, Any]:
    """The summary of ``path`` at the golden seed and size, without run-dependent keys."""
    from trialsim import load_scenario, run_trials, summarise
    from trialsim.run.outputs import summary_json

    run = run_trials(load_scenario(path), replicates=REPLICATES, seed=SEED, jobs=1)
    summary = summarise(run).to_dict()
    for key in VOLATILE:
        summary.pop(key)
    summary["scenario"].pop("path")
    return json.loads(summary_json(summary))


def shipped_scenarios() -> list[Path]:
    return sorted((ROOT / "scenarios").glob("*.yaml"))


def main() -> None:
    golden = {path.name: golden_summary(path) for path in shipped_scenarios()}
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN.relative_to(ROOT)}: {len(golden)} scenarios", file=sys.stderr)


if __name__ == "__main__":
    main()
