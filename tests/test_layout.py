"""The package's layout: subpackages in pipeline order, imports one way, small modules.

Every import in ``sim/trialsim`` (at module level or inside a function) must
go to the same subpackage or to one earlier in :data:`PIPELINE`; no two
modules may import each other through any chain; every module opens with a
docstring saying what it owns and stays under :data:`MAX_LINES` lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim" / "trialsim"
PIPELINE = ("scenario", "rules", "model", "exact", "run", "planning", "report", "cli")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """Modules of trialsim that module ``name`` imports, anywhere in its body."""
    tree = ast.parse(MODULES[name].read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module]
            targets += [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


def _rank(name: str) -> int | None:
    parts = name.split(".")
    return (
        PIPELINE.index(parts[1])
        if len(parts) > 2 or (len(parts) == 2 and parts[1] in PIPELINE)
        else None
    )


def test_every_module_lives_in_a_pipeline_subpackage() -> None:
    loose = [n for n in MODULES if _rank(n) is None and n not in ("trialsim", "trialsim.__main__")]
    assert not loose, f"modules outside the pipeline subpackages: {loose}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _rank(n) is not None))
def test_imports_run_from_later_to_earlier(name: str) -> None:
    rank = _rank(name)
    assert rank is not None
    backwards = sorted(
        target
        for target in _imports(name)
        if (target_rank := _rank(target)) is not None and target_rank > rank
    )
    assert not backwards, f"{name} imports later stages of the pipeline: {backwards}"


def test_no_import_cycle() -> None:
    graph = {name: _imports(name) - {"trialsim"} for name in MODULES}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small_and_says_what_it_owns(name: str) -> None:
    text = MODULES[name].read_text()
    assert ast.get_docstring(ast.parse(text)), f"{name} has no opening docstring"
    lines = text.count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines (at most {MAX_LINES})"


def test_architecture_page_names_every_module() -> None:
    page = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    listed: set[str] = set()
    package = None
    for line in page.splitlines():
        if line.startswith("### `") and line.rstrip().endswith("/`"):
            package = line.split("`")[1].rstrip("/")
        elif package and line.startswith("| `") and line.split("`")[1].endswith(".py"):
            listed.add(f"trialsim.{package}.{line.split('`')[1][:-3]}")
    modules = {n for n in MODULES if _rank(n) is not None and n.count(".") == 2}
    assert sorted(modules - listed) == [], "modules missing from docs/architecture.md"
    assert sorted(listed - modules) == [], "docs/architecture.md names modules that do not exist"
