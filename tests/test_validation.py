"""Every validation rule of the scenario file has a failing input, checked for
key, rule, YAML line and message (SPEC §4, §5: "file, YAML line, dotted key, rule").

Inputs are edits of the literal ``MINIMAL_YAML`` in ``conftest.py``, whose line
numbers are listed there; each expected line is also checked against the edited
text (the line must contain the key's token), so the test cannot agree with the
code by accident.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trialsim.rules.validation import load_scenario
from trialsim.scenario.problems import Problem, ScenarioError

from conftest import MINIMAL_YAML, SCENARIOS

POPULATION = "population:\n  - {name: low, weight: 0.5}\n  - {name: high, weight: 0.5}\n"


def edited(old: str, new: str, text: str = MINIMAL_YAML) -> str:
    """``text`` with the single occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, f"edit target {old!r} must occur exactly once"
    return text.replace(old, new)


def with_population(text: str = MINIMAL_YAML, population: str = POPULATION) -> str:
    return edited("stages:\n", population + "stages:\n", text)


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    problems = info.value.problems
    assert problems, "ScenarioError must carry at least one problem"
    assert str(info.value) == "\n".join(str(p) for p in problems)
    return problems


def find(problems: list[Problem], key: str, rule: str) -> Problem:
    matches = [p for p in problems if p.key == key and p.rule == rule]
    assert matches, f"no problem {key!r} [{rule}] among:\n" + "\n".join(map(str, problems))
    return matches[0]


def check_where(
    problem: Problem, path: Path, text: str, line: int | None, token: str | None
) -> None:
    """The problem's line is ``line``, that line holds ``token``, and ``str`` names all three."""
    if token is not None:
        assert token in text.splitlines()[line - 1], "test bug: expected line does not hold the key"
    assert problem.line == line, str(problem)
    assert problem.file == str(path)
    shown = str(problem)
    assert shown.startswith(str(path)), shown
    if line is not None:
        assert f"{path}:{line}:" in shown, shown
    if problem.key:
        assert f": {problem.key}: " in shown, shown
    assert f"[{problem.rule}]" in shown, shown


# (id, old, new, key, rule, line, token on that line)
SCHEMA_CASES = [
    (
        "int-wrong-type",
        "  patients: 20",
        "  patients: twenty",
        "enrollment.patients",
        "int_type",
        3,
        "patients",
    ),
    (
        "int-from-float",
        "  patients: 20",
        "  patients: 20.5",
        "enrollment.patients",
        "int_type",
        3,
        "patients",
    ),
    (
        "float-wrong-type",
        "    weeks: 8\n    response: 0.3",
        "    weeks: eight\n    response: 0.3",
        "stages.0.weeks",
        "float_type",
        7,
        "weeks",
    ),
    (
        "mapping-wrong-type",
        "  accrual: {rate_per_month: 2.0}",
        "  accrual: [2.0]",
        "enrollment.accrual",
        "model_type",
        4,
        "accrual",
    ),
    (
        "list-wrong-type",
        "endpoints:\n  - id: primary\n    stage: first\n    rule:",
        "endpoints:\n  id: primary\n  stage: first\n  rule:",
        "endpoints",
        "list_type",
        17,
        "endpoints",
    ),
    (
        "probability-above-one",
        "    null_response: 0.1\n    dropout",
        "    null_response: 1.2\n    dropout",
        "stages.0.null_response",
        "less_than_equal",
        9,
        "null_response",
    ),
    (
        "probability-below-zero",
        "    dropout: 0.1",
        "    dropout: -0.1",
        "stages.0.dropout",
        "greater_than_equal",
        10,
        "dropout",
    ),
    (
        "dropout-one",
        "    dropout: 0.1",
        "    dropout: 1",
        "stages.0.dropout",
        "less_than",
        10,
        "dropout",
    ),
    (
        "dropout-nan",
        "    dropout: 0.1",
        "    dropout: .nan",
        "stages.0.dropout",
        "less_than",
        10,
        "dropout",
    ),
    (
        "entry-above-one",
        "    entry: 0.8",
        "    entry: 1.5",
        "stages.1.entry",
        "less_than_equal",
        14,
        "entry",
    ),
    ("p0-one", "p0: 0.1,", "p0: 1.0,", "endpoints.0.rule.p0", "less_than", 20, "p0"),
    (
        "alpha-zero",
        "alpha: 0.05",
        "alpha: 0",
        "endpoints.0.rule.alpha",
        "greater_than",
        20,
        "alpha",
    ),
    (
        "negative-weeks",
        "    weeks: 8\n    entry",
        "    weeks: -8\n    entry",
        "stages.1.weeks",
        "greater_than",
        13,
        "weeks",
    ),
    (
        "zero-weeks",
        "    weeks: 8\n    response: 0.3",
        "    weeks: 0\n    response: 0.3",
        "stages.0.weeks",
        "greater_than",
        7,
        "weeks",
    ),
    (
        "negative-ramp",
        "{rate_per_month: 2.0}",
        "{rate_per_month: 2.0, ramp_up_months: -1}",
        "enrollment.accrual.ramp_up_months",
        "greater_than_equal",
        4,
        "ramp_up_months",
    ),
    (
        "zero-patients",
        "  patients: 20",
        "  patients: 0",
        "enrollment.patients",
        "greater_than_equal",
        3,
        "patients",
    ),
    (
        "screen-failure-one",
        "  patients: 20",
        "  patients: 20\n  screen_failure: 1.0",
        "enrollment.screen_failure",
        "less_than",
        4,
        "screen_failure",
    ),
    (
        "negative-max-months",
        "  patients: 20",
        "  patients: 20\n  max_months: -3",
        "enrollment.max_months",
        "greater_than",
        4,
        "max_months",
    ),
    (
        "adverse-event-grade",
        "    dropout: 0.1",
        "    dropout: 0.1\n    adverse_events: [{name: rash, grade: 6, probability: 0.1}]",
        "stages.0.adverse_events.0.grade",
        "less_than_equal",
        11,
        "grade",
    ),
    (
        "stage-cap-zero",
        "  - id: second\n",
        "  - id: second\n    max_entries: 0\n",
        "stages.1.max_entries",
        "greater_than_equal",
        13,
        "max_entries",
    ),
    (
        "cutoff-week-negative",
        "endpoints:\n",
        "analysis: {cutoff: {week: -3}}\nendpoints:\n",
        "analysis.cutoff.week",
        "greater_than",
        17,
        "week",
    ),
    (
        "replicates-zero",
        "name: mini\n",
        "name: mini\nsimulation: {replicates: 0}\n",
        "simulation.replicates",
        "greater_than_equal",
        2,
        "replicates",
    ),
    (
        "bad-identifier",
        "  - id: second",
        "  - id: 2nd stage",
        "stages.1.id",
        "string_pattern_mismatch",
        12,
        "id",
    ),
    (
        "beta-prior-nonpositive",
        "    response: 0.3",
        "    response: {beta: [0, 2]}",
        "stages.0.response.beta.0",
        "greater_than_equal",
        8,
        "beta",
    ),
    (
        "beta-prior-too-weak",
        "    response: 0.3",
        "    response: {beta: [2, 0.0005]}",
        "stages.0.response.beta.1",
        "greater_than_equal",
        8,
        "beta",
    ),
    (
        "unknown-top-level-key",
        "name: mini\n",
        "name: mini\nseed: 3\n",
        "seed",
        "extra_forbidden",
        2,
        "seed",
    ),
    (
        "unknown-nested-key",
        "    dropout: 0.1",
        "    dropuot: 0.1",
        "stages.0.dropuot",
        "extra_forbidden",
        10,
        "dropuot",
    ),
    (
        "unknown-key-in-flow-mapping",
        "{rate_per_month: 2.0}",
        "{rate_per_month: 2.0, rate: 3}",
        "enrollment.accrual.rate",
        "extra_forbidden",
        4,
        "rate:",
    ),
    (
        "unknown-key-in-rule",
        "alpha: 0.05}",
        "alpha: 0.05, sided: 2}",
        "endpoints.0.rule.sided",
        "extra_forbidden",
        20,
        "sided",
    ),
    (
        "unknown-rule-test",
        "test: exact_binomial",
        "test: magic",
        "endpoints.0.rule.test",
        "union_tag_invalid",
        20,
        "test",
    ),
    (
        "missing-nested-key",
        "{rate_per_month: 2.0}",
        "{ramp_up_months: 2.0}",
        "enrollment.accrual.rate_per_month",
        "missing",
        4,
        "accrual",
    ),
    (
        "missing-stage-key",
        "    weeks: 8\n    response: 0.3",
        "    response: 0.3",
        "stages.0.weeks",
        "missing",
        6,
        "id: first",
    ),
    (
        "missing-rule",
        "    rule: {test: exact_binomial, p0: 0.1, alpha: 0.05}\n",
        "",
        "endpoints.0.rule",
        "missing",
        18,
        "id: primary",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "rule", "line", "token"),
    [case[1:] for case in SCHEMA_CASES],
    ids=[case[0] for case in SCHEMA_CASES],
)
def test_schema_rule(write_text, old, new, key, rule, line, token):
    text = edited(old, new)
    path = write_text(text)
    check_where(find(problems_of(path), key, rule), path, text, line, token)


@pytest.mark.parametrize(
    ("old", "new"), [case[1:3] for case in SCHEMA_CASES], ids=[case[0] for case in SCHEMA_CASES]
)
def test_schema_rule_one_problem_per_mistake(write_text, old, new):
    """One thing wrong gives one problem (one line on stderr), not one per union branch."""
    problems = problems_of(write_text(edited(old, new)))
    assert len(problems) == 1, "\n".join(map(str, problems))


def test_missing_top_level_key(write_text):
    text = edited("name: mini\n", "")
    path = write_text(text)
    problems = problems_of(path)
    # No `name` line exists: the nearest ancestor is the document, which starts on line 1.
    check_where(find(problems, "name", "missing"), path, text, 1, None)
    assert len(problems) == 1


def test_missing_stages_and_endpoints_reported_together(write_text):
    text = "name: mini\nenrollment:\n  patients: 20\n  accrual: {rate_per_month: 2.0}\n"
    path = write_text(text)
    problems = problems_of(path)
    assert {(p.key, p.rule) for p in problems} == {("stages", "missing"), ("endpoints", "missing")}


def test_independent_errors_are_all_reported(write_text):
    text = edited("  patients: 20", "  patients: 0")
    text = edited("    dropout: 0.1", "    dropout: 1.0", text)
    path = write_text(text)
    problems = problems_of(path)
    check_where(
        find(problems, "enrollment.patients", "greater_than_equal"), path, text, 3, "patients"
    )
    check_where(find(problems, "stages.0.dropout", "less_than"), path, text, 10, "dropout")
    assert len(problems) == 2


@pytest.mark.parametrize(
    ("old", "new", "key", "line"),
    [
        ("  patients: 20", "  patients: true", "enrollment.patients", 3),
        (
            "    weeks: 8\n    response: 0.3",
            "    weeks: yes\n    response: 0.3",
            "stages.0.weeks",
            7,
        ),
    ],
    ids=["bool-as-patients", "yaml-yes-as-weeks"],
)
def test_boolean_is_not_a_number(write_text, old, new, key, line):
    """YAML booleans (true, yes, on...) must not silently become 1 patient or 1 week."""
    text = edited(old, new)
    path = write_text(text)
    problems = problems_of(path)
    matches = [p for p in problems if p.key == key]
    assert matches, "\n".join(map(str, problems))
    check_where(matches[0], path, text, line, key.rsplit(".", 1)[-1])


def test_exponent_numbers_are_numbers(write_text):
    """1e-1 is a number as in YAML 1.2, not the string YAML 1.1 would make of it."""
    text = edited("    weeks: 8\n    response: 0.3", "    weeks: 8e0\n    response: 3e-1")
    path = write_text(text)
    loaded = load_scenario(path)
    assert loaded.spec.stages[0].weeks == 8.0
    assert loaded.spec.stages[0].response == pytest.approx(0.3)


def test_exponent_number_for_a_count_is_refused_as_not_whole(write_text):
    text = edited("  patients: 20", "  patients: 2e1")
    path = write_text(text)
    problems = [p for p in problems_of(path) if p.key == "enrollment.patients"]
    assert problems and problems[0].rule == "int_type", problems


# --- response: a number, {beta: [a, b]} or {subgroup: number} (a pydantic union) ---------

PYDANTIC_INTERNALS = re.compile(r"constrained|function-|\[|literal|tagged|BetaPrior|CutoffWeek")


def test_response_out_of_range_is_reported_at_response(write_text):
    text = edited("    response: 0.3", "    response: 1.5")
    path = write_text(text)
    problems = problems_of(path)
    for problem in problems:
        assert not PYDANTIC_INTERNALS.search(problem.key), f"internal name in key: {problem}"
    check_where(find(problems, "stages.0.response", "less_than_equal"), path, text, 8, "response")


def test_response_out_of_range_is_one_problem(write_text):
    """A single wrong number is one problem, not one per union branch tried
    ("should be a valid dictionary", "beta: Field required", ...)."""
    path = write_text(edited("    response: 0.3", "    response: 1.5"))
    problems = problems_of(path)
    assert len(problems) == 1, "\n".join(map(str, problems))


def test_per_subgroup_response_out_of_range_names_the_subgroup(write_text):
    text = with_population(population=POPULATION.replace("low", "Low").replace("high", "High"))
    text = edited("    response: 0.3", "    response: {Low: 1.5, High: 0.2}", text)
    path = write_text(text)
    problems = problems_of(path)
    for problem in problems:
        assert not PYDANTIC_INTERNALS.search(problem.key), f"internal name in key: {problem}"
    check_where(find(problems, "stages.0.response.Low", "less_than_equal"), path, text, 11, "Low")


def test_unknown_capitalised_key_is_named(write_text):
    """Unknown keys are named in the problem whatever their spelling (e.g. `Seed`)."""
    text = edited("name: mini\n", "name: mini\nSeed: 3\n")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "Seed", "extra_forbidden"), path, text, 2, "Seed")


def test_unknown_capitalised_nested_key_is_named(write_text):
    text = edited("    dropout: 0.1", "    Dropout: 0.1")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "stages.0.Dropout", "extra_forbidden"), path, text, 10, "Dropout")


# --- population -------------------------------------------------------------------------


def test_subgroup_weights_must_sum_to_one(write_text):
    text = with_population(population=POPULATION.replace("high, weight: 0.5", "high, weight: 0.4"))
    path = write_text(text)
    problems = problems_of(path)
    problem = find(problems, "population", "value_error")
    check_where(problem, path, text, 5, "population")
    assert "sum to 1" in problem.message
    assert len(problems) == 1


def test_subgroup_names_must_be_unique(write_text):
    text = with_population(population=POPULATION.replace("high", "low"))
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "population", "duplicate_name"), path, text, 5, "population")


def test_per_subgroup_response_needs_population(write_text):
    text = edited("    response: 0.3", "    response: {low: 0.2, high: 0.4}")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "stages.0.response", "needs_population"), path, text, 8, "response")
    assert len(problems) == 1


def test_per_subgroup_response_names_must_match_population(write_text):
    text = edited("    response: 0.3", "    response: {low: 0.2, hi: 0.4}", with_population())
    path = write_text(text)
    problems = problems_of(path)
    problem = find(problems, "stages.0.response", "subgroups_mismatch")
    check_where(problem, path, text, 11, "response")
    assert "high" in problem.message
    assert len(problems) == 1


def test_per_subgroup_response_with_population_loads(write_text):
    text = edited("    response: 0.3", "    response: {low: 0.2, high: 0.4}", with_population())
    loaded = load_scenario(write_text(text))
    assert loaded.spec.stages[0].response == {"low": 0.2, "high": 0.4}


# --- stage graph ------------------------------------------------------------------------


def test_duplicate_stage_ids(write_text):
    text = edited("  - id: second", "  - id: first")
    path = write_text(text)
    check_where(find(problems_of(path), "stages.1.id", "duplicate_id"), path, text, 12, "id: first")


def test_dangling_next_on_failure(write_text):
    text = edited("    next_on_failure: second", "    next_on_failure: third")
    path = write_text(text)
    problem = find(problems_of(path), "stages.0.next_on_failure", "unknown_stage")
    check_where(problem, path, text, 11, "next_on_failure")
    assert problem.value == "third"


def test_cycle_in_stage_graph(write_text):
    text = edited("    response: 0.4\n", "    response: 0.4\n    next_on_failure: first\n")
    path = write_text(text)
    problems = problems_of(path)
    cycles = [p for p in problems if p.rule == "cycle"]
    assert len(cycles) == 1, "\n".join(map(str, problems))
    # Either the first stage of the cycle or the link that closes it is a fair place.
    expected = {
        "stages.0.id": (6, "id: first"),
        "stages.1.next_on_failure": (16, "next_on_failure"),
    }
    assert cycles[0].key in expected
    check_where(cycles[0], path, text, *expected[cycles[0].key])
    assert "first" in cycles[0].message and "second" in cycles[0].message


def test_self_loop_is_a_cycle(write_text):
    text = edited("    next_on_failure: second", "    next_on_failure: first")
    path = write_text(text)
    problems = problems_of(path)
    assert any(p.rule == "cycle" for p in problems), "\n".join(map(str, problems))


def test_unreachable_stage(write_text):
    text = edited("    next_on_failure: second\n", "")
    text = edited("    entry: 0.8\n", "", text)
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "stages.1.id", "unreachable"), path, text, 11, "id: second")
    assert len(problems) == 1


def test_entry_on_a_stage_nobody_routes_to(write_text):
    text = edited("    dropout: 0.1", "    dropout: 0.1\n    entry: 0.5")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "stages.0.entry", "entry_without_route"), path, text, 11, "entry")
    assert len(problems) == 1


def test_missing_null_response_without_endpoint_p0(write_text):
    text = edited("    response: 0.4\n    null_response: 0.1\n", "    response: 0.4\n")
    path = write_text(text)
    problems = problems_of(path)
    # The key is absent: the nearest line is the stage's own.
    check_where(
        find(problems, "stages.1.null_response", "null_response_needed"),
        path,
        text,
        12,
        "id: second",
    )
    assert len(problems) == 1


def test_null_response_defaults_to_endpoint_p0(write_text):
    from trialsim.model.plan import compile_plan

    text = edited("    null_response: 0.1\n    dropout", "    dropout")
    text = edited("p0: 0.1,", "p0: 0.07,", text)
    plan = compile_plan(load_scenario(write_text(text)).spec)
    assert plan.stages[0].null_response == 0.07
    assert plan.stages[1].null_response == 0.1


# --- endpoints --------------------------------------------------------------------------


def test_endpoint_with_both_stage_and_stages(write_text):
    text = edited("    stage: first\n", "    stage: first\n    stages: [first]\n")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "endpoints.0", "stage_or_stages"), path, text, 18, "id: primary")
    assert len(problems) == 1


def test_endpoint_with_neither_stage_nor_stages(write_text):
    text = edited("    stage: first\n", "")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "endpoints.0", "stage_or_stages"), path, text, 18, "id: primary")


def test_endpoint_unknown_stage(write_text):
    text = edited("    stage: first", "    stage: third")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "endpoints.0.stage", "unknown_stage"), path, text, 19, "stage")
    assert len(problems) == 1


def test_endpoint_stages_unknown_stage(write_text):
    text = edited("    stage: first", "    stages: [first, third]")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "endpoints.0.stages", "unknown_stage"), path, text, 19, "stages")


def test_endpoint_stages_must_follow_next_on_failure(write_text):
    text = edited("    stage: first", "    stages: [second, first]")
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "endpoints.0.stages", "not_a_path"), path, text, 19, "stages")
    assert len(problems) == 1


def test_endpoint_stages_following_next_on_failure_load(write_text):
    loaded = load_scenario(write_text(edited("    stage: first", "    stages: [first, second]")))
    assert loaded.spec.endpoints[0].stage_ids == ["first", "second"]


def test_duplicate_endpoint_ids(write_text):
    text = (
        MINIMAL_YAML
        + "  - id: primary\n    stage: second\n    rule: {test: exact_binomial, p0: 0.2}\n"
    )
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, "endpoints.1.id", "duplicate_id"), path, text, 21, "id: primary")


# --- YAML level -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key", "line", "token"),
    [
        ("name: mini\n", "name: mini\nname: other\n", "name", 2, "name: other"),
        (
            "    weeks: 8\n    response: 0.3",
            "    weeks: 8\n    weeks: 9\n    response: 0.3",
            "stages.0.weeks",
            8,
            "weeks: 9",
        ),
        (
            "{rate_per_month: 2.0}",
            "{rate_per_month: 2.0, rate_per_month: 3.0}",
            "enrollment.accrual.rate_per_month",
            4,
            "rate_per_month",
        ),
    ],
    ids=["top-level", "nested", "flow-mapping"],
)
def test_duplicate_yaml_key(write_text, old, new, key, line, token):
    text = edited(old, new)
    path = write_text(text)
    problems = problems_of(path)
    check_where(find(problems, key, "duplicate_key"), path, text, line, token)
    assert len(problems) == 1


def test_yaml_alias_is_refused(write_text):
    text = edited(
        "    null_response: 0.1\n    dropout", "    null_response: &null 0.1\n    dropout"
    )
    text = edited("    null_response: 0.1\n", "    null_response: *null\n", text)
    path = write_text(text)
    problems = problems_of(path)
    assert len(problems) == 1
    check_where(problems[0], path, text, 16, "*null")
    assert problems[0].rule == "yaml_syntax"
    assert "alias" in problems[0].message


def test_yaml_merge_key_alias_is_refused(write_text):
    text = "base: &b {weeks: 8}\n" + edited(
        "    weeks: 8\n    response: 0.3", "    <<: *b\n    response: 0.3"
    )
    path = write_text(text)
    problems = problems_of(path)
    check_where(problems[0], path, text, 8, "*b")
    assert "alias" in problems[0].message


@pytest.mark.parametrize(
    "tag",
    ["!!python/object/apply:os.system ['touch {marker}']", "!!python/name:os.system", "!custom 3"],
    ids=["python-object-apply", "python-name", "custom-tag"],
)
def test_yaml_tags_are_refused(write_text, tmp_path, tag):
    marker = tmp_path / "executed"
    text = edited("    response: 0.3", "    response: " + tag.format(marker=marker))
    path = write_text(text)
    problems = problems_of(path)
    assert not marker.exists(), "a YAML tag executed code"
    assert len(problems) == 1
    check_where(problems[0], path, text, 8, "response")
    assert problems[0].rule == "yaml_tag"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: mini\nenrollment:\n\tpatients: 20\n", 3),
        ("name: mini\nenrollment:\n  patients: 20: 30\n", 3),
        ("name: mini\n  indented: 1\n", 2),
        ("name: mini\nstages: [a, b\nendpoints: 1\n", 3),
        ("name: mini\n---\nname: other\n", 2),
    ],
    ids=["tab", "colon-in-value", "bad-indent", "unclosed-flow", "two-documents"],
)
def test_yaml_syntax_errors(write_text, text, line):
    path = write_text(text)
    problems = problems_of(path)
    assert len(problems) == 1
    check_where(problems[0], path, text, line, None)
    assert problems[0].rule == "yaml_syntax"
    assert problems[0].key == ""


@pytest.mark.parametrize(
    "text",
    ["? [a, b]\n: 1\n", "name: mini\n{a: 1}: 2\n", "[stages]: 1\n"],
    ids=["sequence-key", "mapping-key", "flow-sequence-key"],
)
def test_complex_yaml_keys_are_problems_not_crashes(write_text, text):
    path = write_text(text)
    problems = problems_of(path)
    assert all(p.file == str(path) for p in problems)


@pytest.mark.parametrize(
    "text", ["", "   \n\n", "# only a comment\n"], ids=["empty", "blank", "comment"]
)
def test_empty_file(write_text, text):
    path = write_text(text)
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].rule == "empty_file"
    check_where(problems[0], path, text, None, None)


@pytest.mark.parametrize(
    "text", ["- a\n- b\n", "just some text\n", "42\n"], ids=["list", "string", "number"]
)
def test_non_mapping_document(write_text, text):
    path = write_text(text)
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].rule == "not_a_mapping"
    check_where(problems[0], path, text, 1, None)


def test_non_utf8_file(write_text):
    path = write_text(
        MINIMAL_YAML.replace("name: mini", "name: mini\ntitle: caf\u00e9").encode("latin-1")
    )
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].rule == "encoding"
    check_where(problems[0], path, "", None, None)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    problems = problems_of(path)
    assert problems[0].rule == "unreadable"
    assert str(path) in str(problems[0])


def test_too_large_file(write_text):
    path = write_text(MINIMAL_YAML + "#" * 1_100_000 + "\n")
    problems = problems_of(path)
    assert problems[0].rule == "too_large"


def test_minimal_scenario_loads(write_text):
    loaded = load_scenario(write_text(MINIMAL_YAML))
    assert loaded.spec.name == "mini"
    assert [s.id for s in loaded.spec.stages] == ["first", "second"]


def test_minimal_scenario_dict_matches_yaml(load_dict, minimal_scenario, write_text):
    assert (
        load_dict(minimal_scenario).spec == load_scenario(write_text(MINIMAL_YAML, "m.yaml")).spec
    )


def test_sha256_changes_with_content(write_text):
    a = load_scenario(write_text(MINIMAL_YAML, "a.yaml"))
    b = load_scenario(write_text(MINIMAL_YAML + "# comment\n", "b.yaml"))
    assert a.spec == b.spec
    assert a.sha256 != b.sha256 and len(a.sha256) == 64


SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def test_there_are_shipped_scenarios():
    assert SHIPPED, "scenarios/*.yaml is empty"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_scenarios_load(path):
    loaded = load_scenario(path)
    assert loaded.spec.name


# ------------------------------------------------------- reachable rules


def bayes_rule_scenario(patients: int, n: int, looks: list[int], cap: int | None = None) -> str:
    """A Bayes rule on stage ``vk2``, or with ``cap`` on a second stage capped at ``cap``."""
    stage = "vk2" if cap is None else "d3"
    second = (
        f"    next_on_failure: d3\n  - id: d3\n    weeks: 16\n    response: 0.3\n"
        f"    null_response: 0.1\n    max_entries: {cap}\n"
    )
    return (
        f"name: reach\nenrollment:\n  patients: {patients}\n  accrual: {{rate_per_month: 2}}\n"
        f"stages:\n  - id: vk2\n    weeks: 16\n    response: 0.2\n    null_response: 0.05\n"
        + ("" if cap is None else second)
        + f"endpoints:\n  - id: bayes\n    stage: {stage}\n"
        "    rule: {test: bayes, p0: 0.05, prior: [1, 1], success: 0.95, "
        f"n: {n}, looks: {looks}}}\n"
    )


@pytest.mark.parametrize(
    ("patients", "n", "looks", "cap", "bound"),
    [(150, 10000, [15, 30], None, 150), (40, 41, [10, 20], None, 40), (150, 40, [15], 39, 39)],
)
def test_a_rule_that_cannot_reach_its_n_is_refused(write_text, patients, n, looks, cap, bound):
    (problem,) = problems_of(write_text(bayes_rule_scenario(patients, n, looks, cap)))
    assert (problem.key, problem.rule, problem.value) == (
        "endpoints.0.rule.n",
        "rule_unreachable",
        n,
    )
    stage = "vk2" if cap is None else "d3"
    assert f"at most {bound} patients can enter stage {stage}" in problem.message
    assert problem.line == (13 if cap is None else 19)


def test_a_rule_whose_n_equals_the_patients_is_accepted(write_text):
    load_scenario(write_text(bayes_rule_scenario(40, 40, [10, 20])))
    load_scenario(write_text(bayes_rule_scenario(150, 40, [15], cap=40)))
