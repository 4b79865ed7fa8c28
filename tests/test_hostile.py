"""A corpus of broken and hostile scenario files (tests/hostile/): each is refused by the real
console command with exit code 2 and one line per problem naming file, line, key and rule; none
hangs, shows a traceback, runs code or writes anything."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent / "hostile"
RULES = {
    "alias_bomb.yaml": "yaml_syntax",
    "boundaries_crossing_bounds.yaml": "boundaries_bounds_cross",
    "boundaries_look_order.yaml": "boundaries_look_order",
    "bop2_lambda_one.yaml": "less_than",
    "bop2_looks_backwards.yaml": "value_error",
    "cycle.yaml": "cycle",
    "dangling_next_on_failure.yaml": "unknown_stage",
    "empty.yaml": "empty_file",
    "huge_float.yaml": "less_than_equal",
    "huge_integer.yaml": "less_than_equal",
    "huge_seed.yaml": "less_than_equal",
    "list_document.yaml": "not_a_mapping",
    "malformed.yaml": "yaml_syntax",
    "merge_key.yaml": "merge_key",
    "negative_probability.yaml": "greater_than_equal",
    "negative_weeks.yaml": "greater_than",
    "nesting_bomb.yaml": "yaml_syntax",
    "not_utf8.yaml": "encoding",
    "only_comment.yaml": "empty_file",
    "probability_above_one.yaml": "less_than_equal",
    "python_tag.yaml": "yaml_tag",
    "sexagesimal.yaml": "float_type",
    "simon_no_design.yaml": "value_error",
    "tabs.yaml": "yaml_syntax",
    "tiny_prior.yaml": "greater_than_equal",
    "unknown_nested_key.yaml": "extra_forbidden",
    "unknown_top_key.yaml": "extra_forbidden",
    "unreachable_rule_n.yaml": "rule_unreachable",
    "weights_not_summing.yaml": "value_error",
    "wrong_type.yaml": "int_type",
}
HANG_GUARD_SECONDS = 60


def test_every_corpus_file_has_an_expected_rule() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted(RULES)


@pytest.mark.parametrize("name", sorted(RULES))
def test_refused_with_exit_2_and_one_line_per_problem(tmp_path: Path, name: str) -> None:
    path = CORPUS / name
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "trialsim", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=HANG_GUARD_SECONDS,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    line_form = re.compile(rf"^{re.escape(str(path))}(:\d+)?: \S+: .+ \[[a-z_]+\](; got .*)?$")
    assert lines and all(line_form.match(line) for line in lines), lines
    assert f"[{RULES[name]}]" in done.stderr
    assert list(tmp_path.iterdir()) == [], "nothing is written, no code is run"
