"""Tallies: merging, histogram quantiles and bounded memory for values spread very wide."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trialsim.model.plan import compile_plan
from trialsim.planning.summary import summarise
from trialsim.rules.validation import load_scenario
from trialsim.run.histogram import MAX_BINS, CountTable, Histogram, Moments
from trialsim.run.runner import (
    CHUNK_MEMORY_BYTES,
    CHUNK_REPLICATES,
    chunk_replicates,
    replicate_bytes,
    run_trials,
    tally_chunk,
)
from trialsim.run.tally import REGISTRATION_MAX_BINS, registration_positions, tally_npz
from trialsim.scenario.load import LoadedScenario
from trialsim.scenario.variation import apply_overrides

from conftest import SHIPPED_2005


def test_moments_merge_equals_moments_of_everything() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(140.0, 12.0, size=(1000, 3))
    data[rng.random(data.shape) < 0.1] = np.nan
    merged = Moments.of(data[:300]).merge(Moments.of(data[300:650])).merge(Moments.of(data[650:]))
    finite = np.isfinite(data)
    assert np.array_equal(merged.count, finite.sum(axis=0))
    np.testing.assert_allclose(merged.mean, np.nanmean(data, axis=0), rtol=1e-13)
    want_se = np.nanstd(data, axis=0, ddof=1) / np.sqrt(finite.sum(axis=0))
    np.testing.assert_allclose(merged.standard_error(), want_se, rtol=1e-12)


@given(
    arrays(
        np.float64,
        st.tuples(st.integers(0, 40), st.integers(1, 6)),
        elements=st.floats(-1e9, 1e9) | st.sampled_from([np.nan, np.inf, -np.inf]),
    ),
    st.data(),
)
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
def test_histograms_of_a_block_are_each_columns_histogram(
    values: np.ndarray, data: st.DataObject
) -> None:
    resolutions = data.draw(
        st.lists(st.sampled_from([0.0, 0.01, 0.5, 1.0, 3.0]), min_size=values.shape[1],
                 max_size=values.shape[1])
    )  # fmt: skip
    for column, got in enumerate(Histogram.of_columns(values, resolutions)):
        want = Histogram.of(values[:, column], resolutions[column])
        assert (got.resolution, got.max_bins) == (want.resolution, want.max_bins)
        np.testing.assert_array_equal(got.table.offset, want.table.offset)
        np.testing.assert_array_equal(got.table.counts, want.table.counts)
        assert got.table.counts.dtype == want.table.counts.dtype


@pytest.mark.parametrize(
    "table",
    [
        CountTable.empty(1),
        CountTable.empty(2),
        CountTable.of(np.array([[3], [3], [9000]])),
        CountTable.of(np.array([[1, 2], [1, 5], [4, 2], [-3, 0]])),
    ],
)
def test_count_tables_travel_to_workers_and_back_unchanged(table: CountTable) -> None:
    back = pickle.loads(pickle.dumps(table))
    np.testing.assert_array_equal(back.offset, table.offset)
    np.testing.assert_array_equal(back.counts, table.counts)
    assert back.counts.shape == table.counts.shape and back.counts.dtype == np.int64


def test_count_tables_merge_over_disjoint_and_nested_boxes() -> None:
    a = CountTable.of(np.array([[0, 5], [1, 5], [1, 6]]))
    b = CountTable.of(np.array([[3, 1], [1, 5]]))
    merged = a.merge(b).merge(CountTable.of(np.array([[1, 6]])))
    cells, counts = merged.items()
    assert dict(zip(map(tuple, cells.tolist()), counts.tolist(), strict=True)) == {
        (0, 5): 1,
        (1, 5): 2,
        (1, 6): 2,
        (3, 1): 1,
    }


@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_quantiles_are_the_inverse_empirical_distribution(q: float) -> None:
    values = np.random.default_rng(4).integers(0, 40, size=501).astype(float)
    histogram = Histogram.of(values[:200], 1.0).merge(Histogram.of(values[200:], 1.0))
    assert histogram.quantile(q) == np.quantile(values, q, method="inverted_cdf")


def test_widely_spread_values_keep_a_bounded_histogram() -> None:
    rng = np.random.default_rng(5)
    chunks = [rng.uniform(0, 10.0 ** (k + 2), size=200) for k in range(6)]
    histogram = Histogram.of(chunks[0], 0.01)
    for chunk in chunks[1:]:
        histogram = histogram.merge(Histogram.of(chunk, 0.01))
    everything = np.concatenate(chunks)
    assert histogram.table.counts.shape[-1] <= MAX_BINS
    assert histogram.table.total == everything.size
    assert histogram.resolution > 0.01
    for q in (0.05, 0.5, 0.95):
        want = np.quantile(everything, q, method="inverted_cdf")
        assert abs(histogram.quantile(q) - want) <= histogram.resolution


def test_coarsening_keeps_other_axes_and_totals() -> None:
    codes = np.column_stack([np.repeat([0, 1], 50), np.arange(100) * 7])
    table = CountTable.of(codes)
    coarse = table.coarsened(16)
    assert coarse.total == table.total
    for row in (0, 1):
        assert coarse.counts[row].sum() == 50


def test_a_trial_registering_for_millennia_keeps_small_tallies(load_dict) -> None:  # type: ignore[no-untyped-def]

    scenario = yaml.safe_load(SHIPPED_2005.read_text())
    scenario["enrollment"] |= {"patients": 300, "accrual": {"rate_per_month": 0.001}}
    scenario["enrollment"].pop("max_months")
    result = run_trials(load_dict(scenario), replicates=600, jobs=1)
    for world in result.tally.worlds:
        assert all(h.table.counts.shape[-1] <= MAX_BINS for h in world.histograms)
    positions = len(registration_positions(300))
    assert result.tally.registration.table.counts.size <= positions * REGISTRATION_MAX_BINS
    weeks = summarise(result).duration_weeks.analysis
    # 300 patients at 0.001 a month take about 300,000 months, 1.3 million weeks.
    assert 1e6 < weeks.p05 < weeks.p50 < weeks.p95 < 2e6


# --- chunks sized to a memory budget ---------------------------------------------------------

LARGE_PATIENTS = 10_000


@pytest.fixture(scope="module")
def large_trial() -> LoadedScenario:
    """The 2005 scenario with 10,000 patients (the schema's largest enrollment)."""
    return apply_overrides(load_scenario(SHIPPED_2005), {"enrollment.patients": LARGE_PATIENTS})


def test_chunks_of_a_large_trial_stay_within_the_memory_budget(large_trial: LoadedScenario) -> None:
    plan = compile_plan(large_trial.spec)
    size = chunk_replicates(plan)
    assert 1 <= size < CHUNK_REPLICATES
    assert size * replicate_bytes(plan) <= CHUNK_MEMORY_BYTES
    one_more = (size + 1) * replicate_bytes(plan)
    assert one_more > CHUNK_MEMORY_BYTES, "as many replicates as fit, not fewer"


def test_shipped_scenarios_keep_chunks_of_500() -> None:
    for path in sorted(SHIPPED_2005.parent.glob("*.yaml")):
        assert chunk_replicates(compile_plan(load_scenario(path).spec)) == CHUNK_REPLICATES, path


def test_the_estimate_bounds_what_a_chunk_allocates(large_trial: LoadedScenario) -> None:
    import tracemalloc

    plan = compile_plan(large_trial.spec)
    replicates = 3
    tracemalloc.start()
    try:
        tally_chunk(plan, 5, 0, replicates, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= replicates * replicate_bytes(plan)


def test_a_large_trial_gives_the_same_numbers_for_any_jobs_and_when_grown(
    large_trial: LoadedScenario,
) -> None:
    size = chunk_replicates(compile_plan(large_trial.spec))
    replicates = 2 * size + 5
    progress: list[int] = []
    one = run_trials(
        large_trial, replicates=replicates, seed=3, jobs=1, on_progress=progress.append
    )
    assert progress == [size, 2 * size, replicates], "progress after every chunk"
    two = run_trials(large_trial, replicates=replicates, seed=3, jobs=2)
    assert two.jobs == 2
    assert tally_npz(one.tally) == tally_npz(two.tally)
    first = run_trials(large_trial, replicates=size, seed=3, jobs=1)
    grown = run_trials(large_trial, replicates=replicates, seed=3, jobs=2, resume=first.tally)
    assert tally_npz(grown.tally) == tally_npz(one.tally)
