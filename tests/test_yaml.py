"""Scenario YAML reads scalars as the YAML 1.2 core schema does, and refuses merge keys."""

from __future__ import annotations

import math

import pytest

from trialsim.scenario.problems import ScenarioError
from trialsim.scenario.yaml_source import read_yaml


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("010", 10),  # YAML 1.1: octal 8
        ("0o17", 15),
        ("0x1F", 31),
        ("-2", -2),
        ("1e-3", 0.001),  # YAML 1.1: a string
        ("2.5E8", 2.5e8),
        ("3.", 3.0),
        (".5", 0.5),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("1:30", "1:30"),  # YAML 1.1: base 60, 90
        ("yes", "yes"),  # YAML 1.1: True
        ("off", "off"),  # YAML 1.1: False
        ("2005-01-01", "2005-01-01"),  # YAML 1.1: a date
        ("1_000", "1_000"),  # YAML 1.1: 1000
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    got = read_yaml(f"key: {text}\n", "s.yaml").data["key"]
    assert got == value and type(got) is type(value)


def test_special_floats() -> None:
    data = read_yaml("a: .inf\nb: -.inf\nc: .nan\n", "s.yaml").data
    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])


@pytest.mark.parametrize("text", ["a:\n  b: 1\n  <<: {c: 2}\n", "a: {<<: {c: 2}, b: 1}\n"])
def test_merge_keys_are_refused_with_their_line(text: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        read_yaml(text, "s.yaml")
    (problem,) = caught.value.problems
    assert problem.rule == "merge_key" and problem.key == "a.<<"
    merge_line = [number for number, line in enumerate(text.splitlines(), 1) if "<<" in line]
    assert [problem.line] == merge_line


def test_a_quoted_merge_string_is_an_ordinary_key() -> None:
    assert read_yaml("'<<': 1\n", "s.yaml").data == {"<<": 1}
