"""Mergeable summaries of per-replicate records: memory flat in the number of replicates.

A chunk of records is reduced, where it was simulated, to a :class:`WorldTally`
per world: for every record column the count, mean and sum of squared
deviations (merged by Chan's parallel formula) and a histogram at the column's
resolution (exact for whole-number columns), plus per-endpoint joint
histograms for the figures (the building blocks are in
:mod:`trialsim.run.histogram`). Tallies are merged in chunk order, so the same
seed gives bit-identical results for any number of workers and any backend.
This module also writes and reads a tally as ``tally.npz``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trialsim.model.plan import TrialPlan
from trialsim.run.histogram import CountTable, Histogram, Moments
from trialsim.run.records import ALTERNATIVE, NULL, RecordLayout

REGISTRATION_CURVE_POINTS = 200
"""At most this many patient positions k keep the distribution of the k-th registration week."""


@dataclass
class WorldTally:
    """Everything the summary, figures and comparisons need of one world's records.

    Attributes
    ----------
    moments : Moments
        Per record column.
    histograms : list of Histogram
        Per record column, at the layout's resolution.
    endpoint_pairs : dict of str to CountTable
        Per endpoint: counts of (denominator, responders) for a one-group endpoint,
        or of (round(1000 * difference in response proportions), rejected) for a
        two-group one.
    """

    moments: Moments
    histograms: list[Histogram]
    endpoint_pairs: dict[str, CountTable]

    @classmethod
    def of(cls, plan: TrialPlan, layout: RecordLayout, records: np.ndarray) -> WorldTally:
        """Tally the records (shape (replicates, columns)) of one world."""
        histograms = Histogram.of_columns(records, list(layout.resolutions))
        pairs = {}
        for endpoint in plan.endpoints:
            prefix = f"endpoint.{endpoint.id}."
            if endpoint.compares_arms:
                difference = layout.column(records, prefix + "estimate")
                defined = np.isfinite(difference)
                codes = np.column_stack(
                    [
                        np.round(difference[defined] * DIFFERENCE_CODES),
                        layout.column(records, prefix + "reject")[defined],
                    ]
                )
            else:
                codes = np.column_stack(
                    [
                        layout.column(records, prefix + "denominator"),
                        layout.column(records, prefix + "responders"),
                    ]
                )
            pairs[endpoint.id] = CountTable.of(codes)
        return cls(Moments.of(records), histograms, pairs)

    def merge(self, other: WorldTally) -> WorldTally:
        """The tally of both blocks of records."""
        return WorldTally(
            self.moments.merge(other.moments),
            [a.merge(b) for a, b in zip(self.histograms, other.histograms, strict=True)],
            {
                key: pairs.merge(other.endpoint_pairs[key])
                for key, pairs in self.endpoint_pairs.items()
            },
        )


REGISTRATION_WEEKS = 1.0
"""Registration weeks are tallied in whole weeks (rounded up)..."""
REGISTRATION_MAX_BINS = 2048
"""... in at most this many bins per patient position."""
DIFFERENCE_CODES = 1000
"""Two-group differences in response proportions are counted in steps of 1/DIFFERENCE_CODES."""


@dataclass
class RunTally:
    """The tallies of both worlds and of registration times, for a run or a chunk of it.

    Attributes
    ----------
    replicates : int
        Replicates tallied.
    worlds : tuple of WorldTally
        Indexed by ``ALTERNATIVE`` and ``NULL``.
    registration : Histogram
        Of the week of the k-th registration for the patient positions in
        :func:`registration_positions` (first axis: position index), weeks
        rounded up to whole weeks, or to wider bins if they spread very far
        (registration is shared by both worlds).
    """

    replicates: int
    worlds: tuple[WorldTally, WorldTally]
    registration: Histogram = field(repr=False)

    @classmethod
    def of(
        cls,
        plan: TrialPlan,
        layout: RecordLayout,
        records: np.ndarray,
        registration_weeks: np.ndarray,
    ) -> RunTally:
        """Tally a chunk: records as from :func:`trialsim.run.runner.simulate_chunk`.

        Parameters
        ----------
        records : ndarray, shape (2 * replicates, columns)
            Alternative and null world rows interleaved.
        registration_weeks : ndarray, shape (replicates, patients)
            Calendar week of each registration, NaN past the last one.
        """
        positions = registration_positions(plan.patients)
        chosen = registration_weeks[:, positions]
        rows, columns = np.nonzero(np.isfinite(chosen))
        registration = Histogram.of_codes(
            np.column_stack([columns, np.ceil(chosen[rows, columns])]),
            REGISTRATION_WEEKS,
            REGISTRATION_MAX_BINS,
        )
        return cls(
            len(registration_weeks),
            (
                WorldTally.of(plan, layout, records[ALTERNATIVE::2]),
                WorldTally.of(plan, layout, records[NULL::2]),
            ),
            registration,
        )

    def merge(self, other: RunTally) -> RunTally:
        """The tally of this chunk followed by ``other``."""
        return RunTally(
            self.replicates + other.replicates,
            (
                self.worlds[ALTERNATIVE].merge(other.worlds[ALTERNATIVE]),
                self.worlds[NULL].merge(other.worlds[NULL]),
            ),
            self.registration.merge(other.registration),
        )


def registration_positions(patients: int) -> np.ndarray:
    """0-based patient positions whose registration weeks are tallied (all, up to a limit)."""
    if patients <= REGISTRATION_CURVE_POINTS:
        return np.arange(patients)
    return np.unique(np.linspace(0, patients - 1, REGISTRATION_CURVE_POINTS).round().astype(int))


def tally_npz(tally: RunTally) -> bytes:
    """The tally as a NumPy ``.npz`` file (no pickled objects), for :func:`read_tally`."""
    arrays: dict[str, np.ndarray] = {"replicates": np.array(tally.replicates)}
    arrays["registration.resolution"] = np.array(tally.registration.resolution)
    arrays |= _table_arrays("registration", tally.registration.table)
    for w, world in enumerate(tally.worlds):
        arrays[f"{w}.count"] = world.moments.count
        arrays[f"{w}.mean"] = world.moments.mean
        arrays[f"{w}.squares"] = world.moments.squares
        for i, histogram in enumerate(world.histograms):
            arrays[f"{w}.resolution.{i}"] = np.array(histogram.resolution)
            arrays |= _table_arrays(f"{w}.histogram.{i}", histogram.table)
        for e, table in enumerate(world.endpoint_pairs.values()):
            arrays |= _table_arrays(f"{w}.pairs.{e}", table)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # keys are not options
    return buffer.getvalue()


def read_tally(path: Path, plan: TrialPlan, layout: RecordLayout) -> RunTally:
    """Read a tally written by :func:`tally_npz` for the same plan.

    Raises
    ------
    ValueError
        If the file does not hold a tally of this plan's records.
    """
    with np.load(path, allow_pickle=False) as data:

        def table(name: str) -> CountTable:
            return CountTable(data[f"{name}.offset"], data[f"{name}.counts"])

        worlds = []
        for w in (ALTERNATIVE, NULL):
            moments = Moments(data[f"{w}.count"], data[f"{w}.mean"], data[f"{w}.squares"])
            if len(moments.count) != len(layout):
                raise ValueError(f"{path} holds {len(moments.count)} columns, not {len(layout)}")
            histograms = [
                Histogram(float(data[f"{w}.resolution.{i}"]), table(f"{w}.histogram.{i}"))
                for i in range(len(layout))
            ]
            pairs = {e.id: table(f"{w}.pairs.{k}") for k, e in enumerate(plan.endpoints)}
            worlds.append(WorldTally(moments, histograms, pairs))
        registration = Histogram(
            float(data["registration.resolution"]), table("registration"), REGISTRATION_MAX_BINS
        )
        return RunTally(int(data["replicates"]), (worlds[0], worlds[1]), registration)


def _table_arrays(name: str, table: CountTable) -> dict[str, np.ndarray]:
    return {f"{name}.offset": table.offset, f"{name}.counts": table.counts}
