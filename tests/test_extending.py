"""docs/extending.md cannot rot: its Python blocks run in order and its tests pass."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from trialsim.rules import registry
from trialsim.rules.validation import load_scenario
from trialsim.scenario.checks import Locator
from trialsim.scenario.load import read_document

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
SHIPPED_RULES = registry.RULES
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


@pytest.fixture
def example(monkeypatch) -> dict[str, Any]:
    """The namespace after running every Python block of the page, registry restored after."""
    monkeypatch.setattr(registry, "RULES", dict(registry.RULES))
    namespace: dict[str, Any] = {"__name__": "extending_example"}
    blocks = PYTHON_BLOCK.findall(DOC.read_text())
    assert len(blocks) == 4, "schema model, rule class, registry entry, tests"
    for block in blocks:
        exec(compile(block, str(DOC), "exec", dont_inherit=True), namespace)
    return namespace


def test_the_example_tests_pass(example):
    tests = [value for name, value in example.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()


def test_the_example_rule_is_found_by_its_test_name(example):
    spec = example["EarlyEfficacyRule"](test="early_efficacy", p0=0.1, n1=10, e1=4, r=5, n=29)
    rule = registry.rule_for(spec)
    assert isinstance(rule, example["EarlyEfficacy"])
    assert rule.monitors_stage and rule.pause and rule.null_rate == 0.1 and rule.alpha is None


def test_the_example_rule_checks_the_endpoint(example, tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: s\n"
        "enrollment: {patients: 40, accrual: {rate_per_month: 4.0}}\n"
        "stages: [{id: first, weeks: 8, response: 0.3, null_response: 0.1}]\n"
        "endpoints:\n"
        "  - {id: e, stages: [first], population: entered,\n"
        "     rule: {test: exact_binomial, p0: 0.1}}\n"
    )
    spec = load_scenario(scenario).spec
    rule = example["EarlyEfficacy"](
        example["EarlyEfficacyRule"](test="early_efficacy", p0=0.1, n1=10, e1=4, r=5, n=29)
    )
    document, _ = read_document(scenario)
    problems = rule.check(spec, 0, Locator(document, str(scenario)))
    assert [(p.key, p.rule, p.line) for p in problems] == [
        ("endpoints.0.stages", "early_efficacy_one_stage", 5),
        ("endpoints.0.population", "early_efficacy_evaluable", 5),
    ]


def test_the_shipped_registry_is_untouched(example):
    assert "early_efficacy" in registry.RULES
    assert "early_efficacy" not in SHIPPED_RULES
