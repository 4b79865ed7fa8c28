"""Replicates in chunks on workers or Dask, their tallies, and the output folder."""
