"""Tallies: merging, histogram quantiles and bounded memory for values spread very wide."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from trialsim.planning.summary import summarise
from trialsim.run.histogram import MAX_BINS, CountTable, Histogram, Moments
from trialsim.run.runner import run_trials
from trialsim.run.tally import REGISTRATION_MAX_BINS, registration_positions

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
