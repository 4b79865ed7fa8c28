"""Shared fixtures: scenario files on disk, and an exact oracle independent of trialsim.

The oracle (:class:`Oracle`) works from the scenario *dictionary* as a user writes
it (SPEC §3-4) and from scipy only. It shares no code with ``trialsim.exact.pathway`` or
``trialsim.rules.binomial``, so the statistical tests compare the package against an
independent calculation, and ``tests/test_exact.py`` checks the oracle itself
against brute-force enumeration of every patient outcome.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
SHIPPED_2005 = SCENARIOS / "vk2_d3_2005.yaml"

# A small valid two-stage scenario, written out literally so that tests know
# the line of every key.  Line numbers (1-based):
#   1 name          6 stages.0.id         12 stages.1.id        17 endpoints
#   2 enrollment    7 stages.0.weeks      13 stages.1.weeks     18 endpoints.0.id
#   3 .patients     8 stages.0.response   14 stages.1.entry     19 endpoints.0.stage
#   4 .accrual      9 .null_response      15 stages.1.response  20 endpoints.0.rule
#   5 stages       10 .dropout            16 .null_response
#                  11 .next_on_failure
MINIMAL_YAML = """\
name: mini
enrollment:
  patients: 20
  accrual: {rate_per_month: 2.0}
stages:
  - id: first
    weeks: 8
    response: 0.3
    null_response: 0.1
    dropout: 0.1
    next_on_failure: second
  - id: second
    weeks: 8
    entry: 0.8
    response: 0.4
    null_response: 0.1
endpoints:
  - id: primary
    stage: first
    rule: {test: exact_binomial, p0: 0.1, alpha: 0.05}
"""

MINIMAL_SCENARIO: dict[str, Any] = {
    "name": "mini",
    "enrollment": {"patients": 20, "accrual": {"rate_per_month": 2.0}},
    "stages": [
        {
            "id": "first",
            "weeks": 8,
            "response": 0.3,
            "null_response": 0.1,
            "dropout": 0.1,
            "next_on_failure": "second",
        },
        {"id": "second", "weeks": 8, "entry": 0.8, "response": 0.4, "null_response": 0.1},
    ],
    "endpoints": [
        {
            "id": "primary",
            "stage": "first",
            "rule": {"test": "exact_binomial", "p0": 0.1, "alpha": 0.05},
        }
    ],
}


@pytest.fixture
def minimal_scenario() -> dict[str, Any]:
    """A fresh deep copy of a minimal valid two-stage scenario dictionary."""
    return copy.deepcopy(MINIMAL_SCENARIO)


@pytest.fixture
def write_text(tmp_path: Path) -> Callable[..., Path]:
    """Write text (or bytes) to a file in ``tmp_path``; return its path."""

    def write(content: str | bytes, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write


class _NoAliasDumper(yaml.SafeDumper):
    """Writes shared sub-dictionaries out in full (scenario files refuse aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_scenario(scenario: dict[str, Any]) -> str:
    """A scenario dictionary as YAML text."""
    return yaml.dump(scenario, Dumper=_NoAliasDumper, sort_keys=False)


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """Dump a scenario dictionary to a YAML file in ``tmp_path``; return its path."""

    def write(scenario: dict[str, Any], name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(dump_scenario(scenario), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_dict(write_scenario: Callable[..., Path]) -> Callable[..., Any]:
    """Write a scenario dictionary to a file and load it with ``load_scenario``."""
    from trialsim.rules.validation import load_scenario

    def load(scenario: dict[str, Any], name: str = "scenario.yaml") -> Any:
        return load_scenario(write_scenario(scenario, name))

    return load


# --------------------------------------------------------------------------
# Independent exact oracle (SPEC §3), from the scenario dictionary and scipy.
# --------------------------------------------------------------------------


@functools.cache
@functools.cache
def critical_value(n: int, p0: float, alpha: float) -> int:
    """Smallest x with P(X >= x | n, p0) <= alpha, or n + 1 if none.

    In exact rational arithmetic on the decimal values of p0 and alpha, so that
    ties such as P(X >= 2 | 2, 0.1) = 0.01 = alpha are decided correctly.
    """
    p, level = Fraction(str(p0)), Fraction(str(alpha))
    tail = Fraction(0)
    for x in range(n, -1, -1):
        tail += math.comb(n, x) * p**x * (1 - p) ** (n - x)
        if tail > level:
            return x + 1
    return 0


class Oracle:
    """Exact operating characteristics of a scenario dictionary, computed from SPEC §3.

    Parameters
    ----------
    scenario : dict
        A scenario as written in YAML (complete cutoff, point response rates,
        no binding stage caps).
    """

    def __init__(self, scenario: dict[str, Any]):
        self.s = scenario
        self.stages = {stage["id"]: stage for stage in scenario["stages"]}
        self.first = scenario["stages"][0]["id"]
        self.discontinue_grade = scenario.get("discontinue_grade", 3)

    # -- per stage -------------------------------------------------------
    def completion(self, stage_id: str) -> float:
        """P(assessed and evaluable | entered the stage)."""
        stage = self.stages[stage_id]
        p = 1.0 - stage.get("dropout", 0.0)
        for event in stage.get("adverse_events", []):
            if event["grade"] >= self.discontinue_grade:
                p *= 1.0 - event["probability"]
        return p * (1.0 - stage.get("not_evaluable", 0.0))

    def rate(self, stage_id: str, group: str | None, world: str) -> float:
        """Response probability of an evaluable patient of ``group`` in ``world``."""
        stage = self.stages[stage_id]
        if world == "null":
            if stage.get("null_response") is not None:
                return stage["null_response"]
            for endpoint in self.s["endpoints"]:
                if endpoint.get("stage") == stage_id:
                    return endpoint["rule"]["p0"]
            raise AssertionError("no null rate")
        response = stage["response"]
        return response[group] if isinstance(response, dict) else response

    # -- per patient -----------------------------------------------------
    def paths(self, group: str | None, world: str) -> list[tuple[float, set, set, set]]:
        """Every way one registered patient can walk the stage chain.

        Returns a list of (probability, entered, evaluable, responded) with stage-id sets.
        """
        out: list[tuple[float, set, set, set]] = []

        def walk(stage_id: str, prob: float, entered: set, evaluable: set) -> None:
            entered = entered | {stage_id}
            c = self.completion(stage_id)
            r = self.rate(stage_id, group, world)
            out.append((prob * (1 - c), entered, set(evaluable), set()))
            out.append((prob * c * r, entered, evaluable | {stage_id}, {stage_id}))
            fail = prob * c * (1 - r)
            nxt = self.stages[stage_id].get("next_on_failure")
            if nxt is None:
                out.append((fail, entered, evaluable | {stage_id}, set()))
                return
            entry = self.stages[nxt].get("entry", 1.0)
            out.append((fail * (1 - entry), entered, evaluable | {stage_id}, set()))
            walk(nxt, fail * entry, entered, evaluable | {stage_id})

        walk(self.first, 1.0, set(), set())
        # A patient responds at most once: responders leave the chain.
        return out

    def groups(self) -> list[tuple[str | None, float]]:
        population = self.s.get("population")
        if not population:
            return [(None, 1.0)]
        return [(g["name"], g["weight"]) for g in population]

    def endpoint(self, endpoint_id: str) -> dict[str, Any]:
        return next(e for e in self.s["endpoints"] if e["id"] == endpoint_id)

    def categories(self, endpoint_id: str, world: str) -> tuple[float, float, float]:
        """P(outside denominator), P(in, failure), P(in, success) for one registered patient."""
        endpoint = self.endpoint(endpoint_id)
        ids = endpoint["stages"] if "stages" in endpoint else [endpoint["stage"]]
        entered_population = endpoint.get("population", "evaluable") == "entered"
        out = fail = success = 0.0
        for group, weight in self.groups():
            for prob, entered, evaluable, responded in self.paths(group, world):
                inside = ids[0] in (entered if entered_population else evaluable)
                if not inside:
                    out += weight * prob
                elif any(s in responded for s in ids):
                    success += weight * prob
                else:
                    fail += weight * prob
        assert math.isclose(out + fail + success, 1.0, abs_tol=1e-12)
        return out, fail, success

    def rule(self, endpoint_id: str) -> tuple[float, float]:
        rule = self.endpoint(endpoint_id)["rule"]
        return rule["p0"], rule.get("alpha", 0.05)

    # -- registrations ---------------------------------------------------
    def registrations(self) -> dict[int, float]:
        """P(K = k): K = min(patients, Poisson count by max_months), in months."""
        enrollment = self.s["enrollment"]
        n = enrollment["patients"]
        months = enrollment.get("max_months")
        if months is None:
            return {n: 1.0}
        rate = enrollment["accrual"]["rate_per_month"]
        ramp = enrollment["accrual"].get("ramp_up_months", 0.0)
        if ramp > 0 and months < ramp:
            mean = rate * months**2 / (2 * ramp)
        else:
            mean = rate * (months - ramp / 2)
        pmf = {k: float(stats.poisson.pmf(k, mean)) for k in range(n)}
        pmf[n] = float(stats.poisson.sf(n - 1, mean))
        return pmf

    # -- results ---------------------------------------------------------
    def rejection(self, endpoint_id: str, world: str) -> float:
        """P(the exact binomial test rejects H0) by binomial reduction."""
        _, fail, success = self.categories(endpoint_id, world)
        q = fail + success
        p = success / q if q > 0 else 0.0
        p0, alpha = self.rule(endpoint_id)
        total = 0.0
        for k, pk in self.registrations().items():
            m = np.arange(k + 1)
            crit = np.array([critical_value(int(j), p0, alpha) for j in m])
            total += pk * float(np.sum(stats.binom.pmf(m, k, q) * stats.binom.sf(crit - 1, m, p)))
        return total

    def expected_counts(self, endpoint_id: str, world: str = "alternative") -> tuple[float, float]:
        """E[denominator], E[responders counted]."""
        _, fail, success = self.categories(endpoint_id, world)
        mean_k = sum(k * p for k, p in self.registrations().items())
        return mean_k * (fail + success), mean_k * success

    def success_rate(self, endpoint_id: str, world: str = "alternative") -> float:
        _, fail, success = self.categories(endpoint_id, world)
        return success / (fail + success)


@pytest.fixture
def oracle() -> type[Oracle]:
    """The independent exact oracle class (construct with a scenario dictionary)."""
    return Oracle


_RECORDS: dict[tuple[str, int, int], np.ndarray] = {}


def simulated_records(result: Any, world: int | None = None) -> np.ndarray:
    """The per-replicate records behind a run's tallies, simulated again (all, or one world).

    Rows alternate alternative / null world, as from ``trialsim.run.runner.simulate_chunk``.
    """
    from trialsim.run.runner import simulate_chunk

    key = (result.scenario.sha256, result.replicates, result.seed)
    if key not in _RECORDS:
        _RECORDS[key] = simulate_chunk(result.plan, result.seed, 0, result.replicates)[0]
    records = _RECORDS[key]
    return records if world is None else records[world::2]
