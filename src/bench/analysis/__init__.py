"""Across runs: aggregation and schema checks, summary tables, λ*, the leaderboard, the reproductions page,
the audit of a pool, the Gaussian laws."""
