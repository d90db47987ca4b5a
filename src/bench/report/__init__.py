"""Everything a run writes: the run folder, results.json, metrics.csv, plots and sample grids."""
