"""Documentation that cannot drift: the scenario reference is generated from the schema, every
key is described (editors show it on hover), and every key the shipped scenarios use is in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from trialsim.scenario.reference import scenario_reference
from trialsim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "scenario-reference.md"


def test_committed_reference_is_the_generated_one() -> None:
    assert REFERENCE.read_text() == scenario_reference(), (
        "regenerate with: trialsim schema --markdown > docs/scenario-reference.md"
    )


def all_properties() -> list[tuple[str, dict[str, Any]]]:
    schema = Scenario.model_json_schema()
    found = [(f"Scenario.{key}", value) for key, value in schema["properties"].items()]
    for name, definition in schema.get("$defs", {}).items():
        found += [
            (f"{name}.{key}", value) for key, value in definition.get("properties", {}).items()
        ]
    return found


@pytest.mark.parametrize(("where", "prop"), all_properties(), ids=lambda value: str(value)[:40])
def test_every_key_has_a_description(where: str, prop: dict[str, Any]) -> None:
    assert prop.get("description"), f"{where} has no description"


def dotted_keys(data: Any, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            keys.add(f"{prefix}{key}")
            keys |= dotted_keys(value, f"{prefix}{key}.")
    elif isinstance(data, list):
        for item in data:
            keys |= dotted_keys(item, f"{prefix[:-1]}[].")
    return keys


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_key_a_shipped_scenario_uses_is_documented(path: Path) -> None:
    documented = {
        line.split("`")[1]
        .replace(" (exact_binomial)", "")
        .replace(" (simon)", "")
        .replace(" (bayes)", "")
        .replace(" (fisher)", "")
        .replace(" (bop2)", "")
        for line in REFERENCE.read_text().splitlines()
        if line.startswith("| `")
    }
    subgroup_names = {"RA", "RCMD", "RA-low", "RCMD-int1"}
    used = {
        key
        for key in dotted_keys(yaml.safe_load(path.read_text()))
        if key.rsplit(".", 1)[-1] not in subgroup_names
    }
    assert used <= documented, sorted(used - documented)
