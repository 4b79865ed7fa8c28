"""The README's Python examples run as written; its API table lists exactly ``trialsim.__all__``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import trialsim

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(heading: str) -> str:
    """The README's text under ``## heading``, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {heading!r}"
    return match.group(1)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_python_examples_run(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(README)
    assert blocks
    monkeypatch.chdir(ROOT)
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own example
        assert "summary" in namespace


def test_both_python_sections_have_examples_that_run_above() -> None:
    run = python_blocks(README)
    for heading in ("From Python", "Python API"):
        examples = python_blocks(section(heading))
        assert examples, heading
        assert all(example in run for example in examples)


def test_the_summary_example_reads_a_typed_summary() -> None:
    (example,) = python_blocks(section("From Python"))
    assert 'summary.endpoints["vk2_response"]' in example
    assert 'summary["' not in example


def test_api_table_lists_exactly_the_public_names() -> None:
    listed = re.findall(r"^\| `(\w+)` \| .+ \|$", section("Python API"), re.M)
    assert len(listed) == len(set(listed)), "a name is listed twice"
    assert sorted(listed) == sorted(trialsim.__all__)
