"""Limits a scenario's simulation settings share with the command-line options that override them.

Imports nothing, so that the command line can use them without loading the schema.
"""

MAX_REPLICATES = 10_000_000
MAX_SEED = 2**63 - 1
