"""Reproducibility across versions: the summaries of the shipped scenarios for a fixed seed
are pinned in tests/golden/summaries.json. A change to the random streams or the model that
moves any number must be deliberate: regenerate with `python tests/golden/regenerate.py`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from regenerate import GOLDEN, golden_summary, shipped_scenarios  # noqa: E402

PINNED = json.loads(GOLDEN.read_text())
RELATIVE = 1e-9  # room for floating-point differences between platforms, not for any change


def test_every_shipped_scenario_is_pinned() -> None:
    assert sorted(PINNED) == [path.name for path in shipped_scenarios()]


@pytest.mark.parametrize("path", shipped_scenarios(), ids=lambda path: path.stem)
def test_summary_equals_the_pinned_one(path: Path) -> None:
    assert_same(golden_summary(path), PINNED[path.name], path.name)


def assert_same(got: Any, want: Any, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for index, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same(a, b, f"{where}[{index}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert got == pytest.approx(want, rel=RELATIVE, abs=1e-12), (
            f"{where}: {got} != pinned {want}; if deliberate, run tests/golden/regenerate.py"
        )
    else:
        assert got == want, f"{where}: {got!r} != pinned {want!r}"
