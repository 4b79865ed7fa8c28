"""Numbers about runs: summary, compare, sweep, sample size. Computes, never draws."""
