"""Dotted-key overrides, value ranges and grids (scenario.variation, scenario.grid_values)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from trialsim.scenario.grid_values import MAX_GRID_POINTS, Setting, parse_setting, parse_values
from trialsim.scenario.load import LoadedScenario
from trialsim.scenario.problems import Problem, ScenarioError
from trialsim.scenario.variation import apply_overrides, scenario_grid

from conftest import MINIMAL_SCENARIO


@pytest.fixture
def base(load_dict: Callable[..., LoadedScenario]) -> LoadedScenario:
    """The minimal scenario with two subgroups and per-subgroup response on the first stage."""
    scenario: dict[str, Any] = copy.deepcopy(MINIMAL_SCENARIO)
    scenario["population"] = [{"name": "low", "weight": 0.6}, {"name": "high", "weight": 0.4}]
    scenario["stages"][0]["response"] = {"low": 0.2, "high": 0.4}
    return load_dict(scenario)


@pytest.mark.parametrize(
    ("key", "value", "read", "expected"),
    [
        ("enrollment.patients", 35, lambda s: s.enrollment.patients, 35),
        (
            "enrollment.accrual.rate_per_month",
            3,
            lambda s: s.enrollment.accrual.rate_per_month,
            3.0,
        ),
        ("stages.second.response", 0.55, lambda s: s.stages[1].response, 0.55),
        ("stages.1.response", 0.45, lambda s: s.stages[1].response, 0.45),
        ("stages.first.dropout", 0.25, lambda s: s.stages[0].dropout, 0.25),
        (
            "stages.first.response.low",
            0.3,
            lambda s: s.stages[0].response,
            {"low": 0.3, "high": 0.4},
        ),
        ("endpoints.primary.rule.p0", 0.2, lambda s: s.endpoints[0].rule.p0, 0.2),
        ("endpoints.0.rule.alpha", 0.1, lambda s: s.endpoints[0].rule.alpha, 0.1),
        ("stages.second.max_entries", 5, lambda s: s.stages[1].max_entries, 5),
        ("responders.continue_to_weeks", 40, lambda s: s.responders.continue_to_weeks, 40.0),
    ],
)
def test_each_key_form_sets_its_value(
    base: LoadedScenario, key: str, value: float, read: Callable[[Any], Any], expected: Any
) -> None:
    varied = apply_overrides(base, {key: value})
    assert read(varied.spec) == expected
    assert type(read(varied.spec)) is type(expected)
    assert (varied.path, varied.sha256) == (base.path, base.sha256)
    assert varied.spec.model_dump(exclude={"enrollment", "stages", "endpoints", "responders"}) == (
        base.spec.model_dump(exclude={"enrollment", "stages", "endpoints", "responders"})
    )


def test_overrides_leave_the_original_and_unnamed_keys_alone(base: LoadedScenario) -> None:
    before = base.spec.model_dump(warnings=False)
    varied = apply_overrides(base, {"stages.first.dropout": 0.3, "enrollment.patients": 12})
    assert base.spec.model_dump(warnings=False) == before
    after = varied.spec.model_dump(warnings=False)
    after["stages"][0]["dropout"], after["enrollment"]["patients"] = 0.1, 20
    assert after == before


def test_a_subgroup_weight_rescales_the_others(load_dict: Callable[..., LoadedScenario]) -> None:
    scenario: dict[str, Any] = copy.deepcopy(MINIMAL_SCENARIO)
    scenario["population"] = [
        {"name": "a", "weight": 0.5},
        {"name": "b", "weight": 0.3},
        {"name": "c", "weight": 0.2},
    ]
    varied = apply_overrides(load_dict(scenario), {"population.a.weight": 0.8})
    weights = [group.weight for group in varied.spec.population or []]
    assert weights == pytest.approx([0.8, 0.12, 0.08])


def test_unset_entry_stays_unset(base: LoadedScenario) -> None:
    """Defaults are not written out: `entry` on the first stage would be refused."""
    varied = apply_overrides(base, {"stages.first.weeks": 10})
    assert "entry" not in varied.spec.stages[0].model_fields_set


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("enrollment.patientz", 30, "unknown_key"),
        ("stages.third.dropout", 0.1, "unknown_item"),
        ("stages.dropout", 0.1, "unknown_item"),
        ("stages.7.dropout", 0.1, "unknown_item"),
        ("stages", 0.1, "needs_item"),
        ("stages.first.treatment", 1, "not_numeric"),
        ("endpoints.primary.stage", 1, "not_numeric"),
        ("stages.second.response.low", 0.1, "not_a_mapping"),
        ("enrollment.max_months.x", 1, "not_set"),
        ("stages.first.dropout", 1.0, "less_than"),
        ("stages.first.response.low", 1.5, "less_than_equal"),
        ("enrollment.patients", 0, "greater_than_equal"),
        ("enrollment.patients", 20.5, "int_type"),
        ("stages.first.entry", 0.5, "entry_without_route"),
    ],
)
def test_bad_keys_and_values_name_option_key_and_rule(
    base: LoadedScenario, key: str, value: float, rule: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(base, {key: value}, source="--set")
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.key, problem.rule) == ("--set", None, key, rule)
    assert str(problem).startswith(f"--set: {key}: ")


def test_problem_elsewhere_names_the_override_and_where_the_rule_broke(
    base: LoadedScenario,
) -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(base, {"population.low.weight": 1.0})
    [problem] = info.value.problems
    assert problem.key == "population.low.weight"
    assert "population.1.weight" in problem.message
    assert problem.value == 1.0


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("20:30:5", (20, 25, 30)),
        ("20:31:5", (20, 25, 30)),
        ("7:7", (7,)),
        ("1:4", (1, 2, 3, 4)),
        ("0.05:0.35:0.1", (0.05, 0.15, 0.25, 0.35)),
        ("0.1:0.3:0.1", (0.1, 0.2, 0.3)),
        ("1:2:0.5", (1.0, 1.5, 2.0)),
    ],
)
def test_ranges_include_hi_and_keep_integers(text: str, values: tuple[float, ...]) -> None:
    parsed = parse_values(text, "--set")
    assert parsed == values
    assert [type(v) for v in parsed] == [type(v) for v in values]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("1", "range_syntax"),
        ("1:2:3:4", "range_syntax"),
        ("a:2:1", "not_a_number"),
        ("inf:2:1", "not_a_number"),
        ("0.1:0.5", "step_needed"),
        ("1:5:0", "step_positive"),
        ("1:5:-1", "step_positive"),
        ("5:1:1", "empty_range"),
        (f"1:{MAX_GRID_POINTS + 1}:1", "too_many_values"),
        ("0:1:0.000000001", "too_many_values"),
    ],
)
def test_bad_ranges_are_refused(text: str, rule: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_values(text, "--range", "enrollment.patients")
    [problem] = info.value.problems
    assert (problem.file, problem.key, problem.rule) == ("--range", "enrollment.patients", rule)


def test_range_limit_is_a_parameter() -> None:
    assert len(parse_values("1:1000", "--range", limit=1000)) == 1000


def test_setting_parses_key_and_values() -> None:
    assert parse_setting("stages.vk2.response = 0.1:0.2:0.1") == Setting(
        "stages.vk2.response", (0.1, 0.2)
    )
    for text in ("stages.vk2.response", "=1:2:1"):
        with pytest.raises(ScenarioError) as info:
            parse_setting(text)
        assert info.value.problems[0].rule == "setting_syntax"


def test_grid_is_the_cartesian_product_first_key_slowest(base: LoadedScenario) -> None:
    points = scenario_grid(
        base,
        [
            parse_setting("enrollment.patients=10:20:10"),
            parse_setting("stages.first.dropout=0:0.2:0.1"),
        ],
    )
    assert [tuple(p.overrides.values()) for p in points] == [
        (10, 0.0),
        (10, 0.1),
        (10, 0.2),
        (20, 0.0),
        (20, 0.1),
        (20, 0.2),
    ]
    last = points[-1].scenario.spec
    assert (last.enrollment.patients, last.stages[0].dropout) == (20, 0.2)
    assert isinstance(last.enrollment.patients, int)


def test_whole_floats_become_integers_and_fractions_are_refused(base: LoadedScenario) -> None:
    [point] = scenario_grid(base, [Setting("enrollment.patients", (30.0,))])
    assert point.scenario.spec.enrollment.patients == 30
    assert isinstance(point.overrides["enrollment.patients"], int)
    with pytest.raises(ScenarioError) as info:
        scenario_grid(base, [parse_setting("enrollment.patients=20:30:2.5")])
    assert {p.rule for p in info.value.problems} == {"int_type"}


def test_grid_size_limit(base: LoadedScenario) -> None:
    settings = [
        parse_setting("enrollment.patients=1:20"),
        parse_setting("stages.first.weeks=1:11"),
    ]
    with pytest.raises(ScenarioError) as info:
        scenario_grid(base, settings)
    [problem] = info.value.problems
    assert problem.rule == "too_many_points"
    assert "220" in problem.message and str(MAX_GRID_POINTS) in problem.message
    assert len(scenario_grid(base, settings, limit=220)) == 220


def test_every_point_is_checked_before_anything_runs(base: LoadedScenario) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_grid(base, [parse_setting("stages.first.dropout=0.8:1.1:0.1")], "--set")
    problems: list[Problem] = info.value.problems
    assert [(p.key, p.rule, p.value) for p in problems] == [
        ("stages.first.dropout", "less_than", 1.0),
        ("stages.first.dropout", "less_than", 1.1),
    ]


def test_duplicate_keys_are_refused(base: LoadedScenario) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_grid(
            base, [Setting("enrollment.patients", (5,)), Setting("enrollment.patients", (6,))]
        )
    assert info.value.problems[0].rule == "duplicate_key"


def test_key_and_value_problems_name_their_options(base: LoadedScenario) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario_grid(base, [Setting("enrollment.patientz", (5,))], "--vary", "--range")
    assert info.value.problems[0].file == "--vary"
    with pytest.raises(ScenarioError) as info:
        scenario_grid(base, [Setting("enrollment.patients", (0,))], "--vary", "--range")
    assert info.value.problems[0].file == "--range"
