"""Mergeable counts and moments: the building blocks of a run's tally.

:class:`CountTable` counts whole-number codes on a grid that grows as needed;
:class:`Histogram` keeps one column's distribution at a fixed resolution,
widening its bins by powers of two to stay within a bounded size;
:class:`Moments` keeps each column's count, mean and sum of squared deviations
(merged by Chan's parallel formula). All merge in a fixed order, so results do
not depend on how the records were split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_BINS = 2**16
"""Bins a histogram keeps along its value axis before it widens them."""


@dataclass
class CountTable:
    """Counts on an integer grid that grows to hold whatever is added.

    Attributes
    ----------
    offset : ndarray of int, shape (dimensions,)
        Grid coordinates of ``counts[0, ..., 0]``.
    counts : ndarray of int64
        One axis per dimension.
    """

    offset: np.ndarray
    counts: np.ndarray

    def __getstate__(self) -> dict[str, object]:
        # Pickled (to and from worker processes) as its occupied cells: a chunk's
        # histogram of weeks at 0.01 spreads a few hundred values over thousands of bins.
        flat = self.counts.ravel()
        occupied = np.flatnonzero(flat)
        return {
            "offset": self.offset,
            "shape": self.counts.shape,
            "cells": occupied,
            "values": flat[occupied],
        }

    def __setstate__(self, state: dict[str, object]) -> None:
        counts = np.zeros(state["shape"], np.int64)  # type: ignore[call-overload]
        counts.ravel()[state["cells"]] = state["values"]
        self.offset = state["offset"]  # type: ignore[assignment]
        self.counts = counts

    @classmethod
    def empty(cls, dimensions: int) -> CountTable:
        """A table with nothing counted."""
        return cls(np.zeros(dimensions, dtype=np.int64), np.zeros((0,) * dimensions, np.int64))

    @classmethod
    def of(cls, codes: np.ndarray) -> CountTable:
        """Count the rows of ``codes`` (shape (items, dimensions), whole numbers)."""
        codes = np.asarray(codes, dtype=np.int64)
        if len(codes) == 0:
            return cls.empty(codes.shape[1])
        low = codes.min(axis=0)
        shape = tuple(codes.max(axis=0) - low + 1)
        flat = np.ravel_multi_index(tuple((codes - low).T), shape)
        counts = np.bincount(flat, minlength=math.prod(shape)).reshape(shape)
        return cls(low, counts)

    @property
    def total(self) -> int:
        """Number of items counted."""
        return int(self.counts.sum())

    def merge(self, other: CountTable) -> CountTable:
        """A table holding the counts of both."""
        if other.counts.size == 0:
            return self
        if self.counts.size == 0:
            return other
        # Plain ints: this runs once per column and chunk, where NumPy calls on
        # two-element arrays would cost more than the addition itself.
        box: list[slice] = []
        for mine, theirs, size, extent in zip(
            self.offset.tolist(),
            other.offset.tolist(),
            other.counts.shape,
            self.counts.shape,
            strict=True,
        ):
            first = theirs - mine
            if first < 0 or first + size > extent:
                break
            box.append(slice(first, first + size))
        else:
            counts = self.counts.copy()
            counts[tuple(box)] += other.counts
            return CountTable(self.offset, counts)
        low = np.minimum(self.offset, other.offset)
        high = np.maximum(self.offset + self.counts.shape, other.offset + other.counts.shape)
        counts = np.zeros(tuple(high - low), dtype=np.int64)
        for table in (self, other):
            corner = table.offset - low
            counts[
                tuple(slice(s, s + n) for s, n in zip(corner, table.counts.shape, strict=True))
            ] += table.counts
        return CountTable(low, counts)

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """Grid coordinates of every non-empty cell, shape (cells, dimensions), and its count."""
        cells = np.argwhere(self.counts > 0)
        return cells + self.offset, self.counts[tuple(cells.T)]

    def coarsened(self, factor: int) -> CountTable:
        """The table with cells ``factor`` times wider along the last axis (code // factor)."""
        if factor == 1 or self.counts.size == 0:
            return self
        codes = np.arange(self.counts.shape[-1]) + self.offset[-1]
        merged = codes // factor
        starts = np.flatnonzero(np.diff(merged, prepend=merged[0] - 1))
        offset = self.offset.copy()
        offset[-1] = merged[0]
        return CountTable(offset, np.add.reduceat(self.counts, starts, axis=-1))


@dataclass
class Histogram:
    """Distribution of one column at a fixed resolution (exact for whole numbers).

    The bins widen by powers of two when the values spread over more than
    ``max_bins`` of them, so that memory stays bounded whatever the values.

    Attributes
    ----------
    resolution : float
        Width of a bin, in the column's unit; values are rounded to a multiple of it.
        0 for a column whose distribution is not kept.
    table : CountTable
        Counts by ``round(value / resolution)`` along the last axis (other axes,
        if any, are categories, as for the registration weeks of a
        :class:`trialsim.run.tally.RunTally`).
    max_bins : int
        Most bins kept along the last axis.
    """

    resolution: float
    table: CountTable
    max_bins: int = MAX_BINS

    @classmethod
    def of(cls, values: np.ndarray, resolution: float) -> Histogram:
        """Histogram of the finite ``values``; with ``resolution`` 0, an empty one."""
        if resolution == 0:
            return cls(resolution, CountTable.empty(1))
        finite = values[np.isfinite(values)]
        return cls.of_codes(np.round(finite / resolution)[:, None], resolution)

    @classmethod
    def of_columns(cls, values: np.ndarray, resolutions: list[float]) -> list[Histogram]:
        """``[Histogram.of(values[:, i], resolutions[i]) for each column i]``, counted at once.

        The same histograms, with one rounding, one ``bincount`` and a few
        reductions over the whole block instead of a dozen calls per column.

        Parameters
        ----------
        values : ndarray, shape (items, columns)
        resolutions : list of float
            Per column; 0 for a column whose distribution is not kept.
        """
        kept = np.flatnonzero(np.asarray(resolutions) != 0)
        histograms = [cls(resolution, CountTable.empty(1)) for resolution in resolutions]
        if len(kept) == 0 or len(values) == 0:
            return histograms
        block = values[:, kept]
        finite = np.isfinite(block)
        with np.errstate(invalid="ignore"):
            codes = np.round(np.where(finite, block, 0.0) / np.asarray(resolutions)[kept])
        codes = codes.astype(np.int64)
        present = finite.any(axis=0)
        lowest = np.where(finite, codes, np.iinfo(np.int64).max).min(axis=0)
        highest = np.where(finite, codes, np.iinfo(np.int64).min).max(axis=0)
        factors = np.array(
            [
                _widening(int(high - low) + 1, MAX_BINS) if any_value else 1
                for low, high, any_value in zip(
                    lowest.tolist(), highest.tolist(), present.tolist(), strict=True
                )
            ]
        )
        codes //= factors
        # Floor division keeps the order, so the extremes divide like the codes.
        lowest = np.where(present, lowest // factors, 0)
        sizes = np.where(present, highest // factors - lowest + 1, 0)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        flat = (codes - lowest + starts[:-1])[finite]
        counts = np.bincount(flat, minlength=int(starts[-1]))
        for k, column in enumerate(kept.tolist()):
            if present[k]:
                table = CountTable(np.array([lowest[k]]), counts[starts[k] : starts[k + 1]].copy())
                histograms[column] = cls(resolutions[column] * int(factors[k]), table)
        return histograms

    @classmethod
    def of_codes(cls, codes: np.ndarray, resolution: float, max_bins: int = MAX_BINS) -> Histogram:
        """Histogram of whole-number ``codes`` (shape (items, dimensions)) at ``resolution``."""
        codes = np.asarray(codes, dtype=np.int64)
        factor = 1
        if len(codes):
            factor = _widening(int(codes[:, -1].max() - codes[:, -1].min()) + 1, max_bins)
            codes[:, -1] //= factor
        return cls(resolution * factor, CountTable.of(codes), max_bins)

    def within_bins(self) -> Histogram:
        """This histogram with bins widened by a power of two to at most ``max_bins``."""
        factor = _widening(
            self.table.counts.shape[-1] if self.table.counts.size else 0, self.max_bins
        )
        if factor == 1:
            return self
        return Histogram(self.resolution * factor, self.table.coarsened(factor), self.max_bins)

    def merge(self, other: Histogram) -> Histogram:
        """Histogram of both samples, at the coarser of their resolutions."""
        if self.resolution == other.resolution or 0 in (self.resolution, other.resolution):
            merged = Histogram(self.resolution, self.table.merge(other.table), self.max_bins)
            return merged.within_bins()
        fine, coarse = sorted((self, other), key=lambda histogram: histogram.resolution)
        factor = round(coarse.resolution / fine.resolution)
        table = coarse.table.merge(fine.table.coarsened(factor))
        return Histogram(coarse.resolution, table, self.max_bins).within_bins()

    def values_and_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The distinct (rounded) values, increasing, and how often each occurs."""
        codes, counts = self.table.items()
        return codes[:, 0] * self.resolution, counts

    def quantile(self, probability: float) -> float:
        """The smallest value whose empirical distribution function reaches ``probability``.

        NaN for an empty histogram.
        """
        values, counts = self.values_and_counts()
        if len(values) == 0:
            return math.nan
        cumulative = np.cumsum(counts)
        index = int(np.searchsorted(cumulative, probability * cumulative[-1] - 1e-9))
        return float(values[min(index, len(values) - 1)])

    def share_above(self, threshold: float) -> float:
        """Share of the counted values greater than ``threshold``."""
        values, counts = self.values_and_counts()
        total = counts.sum()
        return float(counts[values > threshold].sum() / total) if total else math.nan


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of every column, NaN left out."""

    count: np.ndarray
    mean: np.ndarray
    squares: np.ndarray

    @classmethod
    def of(cls, records: np.ndarray) -> Moments:
        """Moments of each column of ``records`` (shape (rows, columns))."""
        finite = np.isfinite(records)
        count = finite.sum(axis=0)
        values = np.where(finite, records, 0.0)
        mean = values.sum(axis=0) / np.maximum(count, 1)
        squares = (np.where(finite, records - mean, 0.0) ** 2).sum(axis=0)
        return cls(count, mean, squares)

    def merge(self, other: Moments) -> Moments:
        """Moments of both samples (Chan, Golub and LeVeque's pairwise update)."""
        count = self.count + other.count
        safe = np.maximum(count, 1)
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / safe
        squares = self.squares + other.squares + delta**2 * self.count * other.count / safe
        return Moments(count, mean, squares)

    def standard_error(self) -> np.ndarray:
        """Monte Carlo standard error of each column's mean (NaN below two values)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = self.squares / (self.count - 1)
            return np.where(self.count > 1, np.sqrt(variance / self.count), math.nan)


def _widening(span: int, max_bins: int) -> int:
    """The power of two by which bins must widen for ``span`` of them to fit in ``max_bins``."""
    return 1 if span <= max_bins else 2 ** math.ceil(math.log2(span / max_bins))
